"""Reading what the referrer wrote: phrase rules matched in plain words (issue 20).

Referrals arrive in the referrer's own words, misspelt, inflected and negated ("no marks
seen", "denies any abuse"). A partnership's policy pack lists phrases per rule (``plain_words``
in ``policy/partnerships/*.yaml``, defaults in ``default.yaml``); this module finds them:

- words are compared by their Snowball stem (``hits``/``hitting``/``hit``), and a word of five
  letters or more may be one edit away (rapidfuzz's optimal string alignment distance, so a
  swapped pair of letters is one edit): ``brusing``, ``apointment``;
- a phrase's words come in order, with at most one other word between two of them
  ("hits me with the belt" matches ``hits me belt``); articles and possessives are ignored;
- a phrase is negated (NegEx-style) when a negation word ("no", "not", "denies", "never",
  "didn't" ...) comes at most ``NEGATION_WINDOW`` words before it in the same clause; a
  clause ends at punctuation or a word such as "but" or "however".

Matching is pure (no I/O). The matched words are the referrer's own words: they may be
shown in the hub's own API responses only, never logged or put in an event.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import snowballstemmer  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from rapidfuzz.distance import OSA

if TYPE_CHECKING:
    from mashcore.policy import PolicyBook

DEFAULT_PACK_NAME = "default"

Kind = Literal["flag", "disclosure", "ask_why"]
Phrase = Annotated[str, StringConstraints(min_length=2, max_length=80, strip_whitespace=True,
                                          to_lower=True)]
RuleCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,47}$")]
About = Annotated[str, StringConstraints(min_length=3, max_length=120, strip_whitespace=True)]

NEGATION_WINDOW = 4
"""How many words before a phrase a negation word reaches (NegEx uses five or six)."""

DEFAULT_NEGATIONS = (
    "no", "not", "nil", "none", "never", "without", "denies", "denied", "deny", "didn't",
    "doesn't", "don't", "hasn't", "haven't", "wasn't", "isn't", "nothing", "no evidence of",
)
DEFAULT_CLAUSE_BREAKS = ("but", "however", "although", "though", "yet", "except")
_IGNORED = frozenset({"the", "a", "an", "my", "his", "her", "their", "our", "your", "its",
                      "some", "any", "really", "very"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseRule(_Strict):
    """One thing to recognise in the referrer's words."""

    code: RuleCode
    kind: Kind = Field(description="flag: suggest a flag for the information officer to "
                       "confirm; disclosure: a child's or parent's words, explained by decision "
                       "support; ask_why: a fact reported without its why, since when or how "
                       "often")
    about: About = Field(description="The fact in plain English, e.g. 'a missed appointment'.")
    phrases: list[Phrase] = Field(min_length=1)
    indicator: str | None = Field(
        default=None, description="disclosure: the pack's indicator the words point to.")
    flag: Literal["domestic_abuse"] | None = Field(
        default=None, description="flag: the referral flag to suggest.")


class PlainWords(_Strict):
    """A pack's phrase lists (``plain_words``)."""

    negations: list[Phrase] = Field(default_factory=lambda: list(DEFAULT_NEGATIONS))
    clause_breaks: list[Phrase] = Field(default_factory=lambda: list(DEFAULT_CLAUSE_BREAKS))
    context: list[Phrase] = Field(
        default_factory=list,
        description="ask_why: words that give a fact's why, since when or how often.")
    rules: list[PhraseRule] = Field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    """A rule found in a text: the referrer's own words that matched, and whether negated."""

    rule: PhraseRule
    words: str
    negated: bool


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CLAUSE_END = re.compile(r"[.;:!?\n]+")
# A Snowball stemmer keeps its working state on the instance and is not thread-safe: FastAPI
# runs request handlers on a thread pool, and a shared one raised IndexError under load.
# Each thread has its own.
_local = threading.local()


def stemmer() -> object:
    """This thread's English stemmer."""
    own = getattr(_local, "stemmer", None)
    if own is None:
        own = _local.stemmer = snowballstemmer.stemmer("english")
    return own


_LONGEST_CACHED = 30  # letters: longer words are stemmed without the memo


def _stem(word: str) -> str:
    """The word's stem: memoised for words of up to 30 letters (issue 17: stemming was a
    tenth of intake's CPU per referral; the same words come back in every concern). Personal
    data: the cache holds single lower-cased words (a name among them, linked to no one), at
    most 20,000, least recently used first out, in process memory only, never logged or
    written."""
    return _stem_word(word) if len(word) > _LONGEST_CACHED else _stem_cached(word)


def _stem_word(word: str) -> str:
    stem: str = stemmer().stemWord(word.replace("'", ""))  # type: ignore[attr-defined]
    return stem


# A stem depends on the word only; two threads missing at once both work it out, alike.
_stem_cached = functools.lru_cache(maxsize=20_000)(_stem_word)


@dataclass(frozen=True)
class _Token:
    stem: str
    word: str
    start: int
    end: int
    clause: int


@functools.lru_cache(maxsize=16)
def _tokens(text: str, breaks: frozenset[str]) -> tuple[_Token, ...]:
    # Memoised for the few texts in hand: one submission's text is read for findings,
    # flags, indicators and context in turn (tokens are immutable; callers only read them).
    # Personal data: the last 16 texts read stay in process memory (never logged or
    # written) until newer ones replace them.
    text = text.lower().replace("\u2019", "'")
    ends = [m.end() for m in _CLAUSE_END.finditer(text)]
    out: list[_Token] = []
    clause = 0
    for m in _TOKEN.finditer(text):
        while ends and ends[0] <= m.start():
            ends.pop(0)
            clause += 1
        word = m.group()
        if word in breaks:
            clause += 1
            continue
        if word in _IGNORED:
            continue
        out.append(_Token(_stem(word), word.replace("'", ""), m.start(), m.end(), clause))
    return tuple(out)


_Word = tuple[str, str]  # (stem, word)


def _phrase(phrase: str) -> list[_Word]:
    words = [w for w in _TOKEN.findall(phrase.lower().replace("\u2019", "'"))
             if w not in _IGNORED]
    return [(_stem(w), w.replace("'", "")) for w in words]


_NEAR_LETTERS = 5  # a word this long or longer may be one edit away


def _same(want: _Word, got: _Token) -> bool:
    if want[0] == got.stem:
        return True
    if min(len(want[1]), len(got.word)) < _NEAR_LETTERS:
        return False
    return (OSA.distance(want[1], got.word, score_cutoff=1) <= 1
            or OSA.distance(want[0], got.stem, score_cutoff=1) <= 1)


def _near_keys(text: str) -> set[str]:
    """The text and each way of deleting one of its letters: two strings at most one edit
    apart (insertion, deletion, substitution or swap of neighbours) always share a key, so
    an index of these keys finds every near word without comparing it with every other."""
    return {text, *(text[:i] + text[i + 1:] for i in range(len(text)))}


def _find(phrase: Sequence[int], tokens: Sequence[_Token],
          matched: Sequence[frozenset[int]]) -> Iterable[tuple[int, int]]:
    """(first, last) token index of each place the phrase's words occur (``matched[i]``: the
    ids of the words token ``i`` is the same as)."""
    head = phrase[0]
    for first, ids in enumerate(matched):
        if head not in ids:
            continue
        at, ok, clause = first, True, tokens[first].clause
        for word in phrase[1:]:
            nxt = next((j for j in (at + 1, at + 2) if j < len(tokens)
                        and tokens[j].clause == clause and word in matched[j]), None)
            if nxt is None:
                ok = False
                break
            at = nxt
        if ok:
            yield first, at


class Matcher:
    """A pack's phrase lists, compiled once: each distinct phrase word gets an id, and an
    index from its stem and its near keys (``_near_keys``) to ids, so a text's tokens are
    compared only with the phrase words they may be the same as (issue 17: comparing every
    token with every phrase's first word was a fifth of intake's CPU per referral). The
    index only narrows the candidates: ``_same`` decides, so the matches are those of
    comparing with every word."""

    def __init__(self, plain: PlainWords) -> None:
        self.plain = plain
        self._breaks = frozenset(plain.clause_breaks)
        self._words: list[_Word] = []
        self._ids: dict[_Word, int] = {}
        self._by_stem: dict[str, list[int]] = {}
        self._by_near: dict[str, list[int]] = {}
        self._negations = [self._compile(n) for n in plain.negations]
        self._rules = [(rule, [self._compile(p) for p in rule.phrases]) for rule in plain.rules]
        self._context = [self._compile(c) for c in plain.context]
        self._read = functools.lru_cache(maxsize=16)(self._read_text)

    def _compile(self, phrase: str) -> tuple[int, ...]:
        return tuple(self._id(word) for word in _phrase(phrase))

    def _id(self, word: _Word) -> int:
        known = self._ids.get(word)
        if known is not None:
            return known
        new = self._ids[word] = len(self._words)
        self._words.append(word)
        self._by_stem.setdefault(word[0], []).append(new)
        if len(word[1]) >= _NEAR_LETTERS:
            for key in _near_keys(word[1]) | _near_keys(word[0]):
                self._by_near.setdefault(key, []).append(new)
        return new

    def _same_as(self, token: _Token) -> frozenset[int]:
        """The ids of the phrase words ``token`` is the same as."""
        candidates = set(self._by_stem.get(token.stem, ()))
        if len(token.word) >= _NEAR_LETTERS:
            for key in _near_keys(token.word) | _near_keys(token.stem):
                candidates.update(self._by_near.get(key, ()))
        return frozenset(i for i in candidates if _same(self._words[i], token))

    def _read_text(self, text: str) -> tuple[tuple[_Token, ...], tuple[frozenset[int], ...]]:
        # Memoised like _tokens: the last 16 texts a matcher read stay in process memory
        # (never logged or written) until newer ones replace them.
        tokens = _tokens(text, self._breaks)
        return tokens, tuple(self._same_as(token) for token in tokens)

    def _negated(self, tokens: Sequence[_Token], matched: Sequence[frozenset[int]],
                 first: int) -> bool:
        clause = tokens[first].clause
        window = [i for i in range(max(0, first - NEGATION_WINDOW), first)
                  if tokens[i].clause == clause]
        near = [tokens[i] for i in window]
        near_matched = [matched[i] for i in window]
        return any(any(True for _ in _find(neg, near, near_matched))
                   for neg in self._negations if neg)

    def hits(self, text: str, kinds: Iterable[Kind] | None = None) -> list[Hit]:
        """Each rule found in ``text`` (its first place not negated, else its first place)."""
        wanted = set(kinds) if kinds is not None else None
        tokens, matched = self._read(text)
        lowered = text.replace("\u2019", "'")
        found: list[Hit] = []
        for rule, phrases in self._rules:
            if wanted is not None and rule.kind not in wanted:
                continue
            best: Hit | None = None
            for phrase in phrases:
                for first, last in _find(phrase, tokens, matched) if phrase else ():
                    hit = Hit(rule, lowered[tokens[first].start:tokens[last].end],
                              self._negated(tokens, matched, first))
                    if best is None or (best.negated and not hit.negated):
                        best = hit
                if best is not None and not best.negated:
                    break
            if best is not None:
                found.append(best)
        return found

    def found(self, text: str, kinds: Iterable[Kind] | None = None) -> list[Hit]:
        """The rules found in ``text`` and not negated."""
        return [hit for hit in self.hits(text, kinds) if not hit.negated]

    def gives_context(self, text: str) -> bool:
        """Whether ``text`` says why, since when or how often (any ``context`` phrase)."""
        tokens, matched = self._read(text)
        return any(any(True for _ in _find(phrase, tokens, matched))
                   for phrase in self._context if phrase)


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _extended(base: PhraseRule, local: PhraseRule) -> PhraseRule:
    """``base`` with ``local``'s phrases added, and its indicator when it names one."""
    return base.model_copy(update={"phrases": _union(base.phrases, local.phrases),
                                   "indicator": local.indicator or base.indicator})


def merged(base: PlainWords, local: PlainWords) -> PlainWords:
    """``base`` (default.yaml's) with a partnership's own terms added.

    A local rule with a base rule's code adds its phrases to it (and names the partnership's
    own indicator, if it gives one); any other local rule is added.
    """
    local_rules = {rule.code: rule for rule in local.rules}
    rules = [_extended(rule, local_rules[rule.code]) if rule.code in local_rules else rule
             for rule in base.rules]
    known = {rule.code for rule in base.rules}
    rules += [rule for rule in local.rules if rule.code not in known]
    return PlainWords(negations=_union(base.negations, local.negations),
                      clause_breaks=_union(base.clause_breaks, local.clause_breaks),
                      context=_union(base.context, local.context), rules=rules)


@functools.lru_cache(maxsize=128)
def matcher_for(book: PolicyBook, partnership: str) -> Matcher:
    """The partnership's matcher: default.yaml's phrase lists plus the partnership's own."""
    default = book.for_partnership(DEFAULT_PACK_NAME).plain_words
    own = book.for_partnership(partnership)
    if own.partnership == DEFAULT_PACK_NAME:
        return Matcher(default)
    return Matcher(merged(default, own.plain_words))
