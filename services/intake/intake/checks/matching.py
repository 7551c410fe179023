"""Repeat / duplicate detection of the same child across contacts, allowing for spelling variants.

A partner agency's contact about a child may be the second (or tenth) about the same child
within days, from another agency, with the name spelt differently. Intake *links* such
contacts so the Information Officer sees the pattern; it never drops or merges one. This
module is the pure comparison: no database, no clock of its own.

Evidence and scores (points out of 100, capped; ``score = points / 100``):

====================================  ======  ===============================================
evidence                              points  note
====================================  ======  ===============================================
date of birth the same                    40
date of birth day/month transposed        20  03/07 vs 07/03, same year: weaker evidence
date of birth missing on either side      10  no evidence either way
first name the same / a variant       25 / 20
last name the same / a variant        25 / 20
first and last names swapped              -5  taken only when it beats the unswapped reading
postcode the same (full postcode)         20  a different postcode counts nothing: families
                                              move, and agencies hold different addresses
====================================  ======  ===============================================

Vetoes (score 0, whatever else agrees):

- either child's identity is unknown: flagged ``identity_unknown``, or missing a first or last
  name, or a placeholder such as "Unknown", "Baby", "Unborn", "N/K". An unknown child is
  never anyone in particular, so never a repeat;
- both dates of birth given and different (other than a day/month transposition);
- a first name or a last name that is neither the same nor a variant.

``PROBABLE_MATCH_THRESHOLD`` is 0.80, so:

- same DOB + both names the same or variants → match (0.80-0.90; 1.00 with the postcode);
- swapped names with the same DOB → match when at most one name is a variant (0.80-0.85),
  or when the postcode agrees too (0.95-1.00);
- transposed DOB → match only with the same postcode (0.80-0.90); exact names alone give 0.70;
- missing DOB → never on names alone (0.60 at best); with the same postcode and both names
  exactly the same → match (0.80); with a variant name it stays below (0.75);
- twins (same DOB, surname, postcode, different first names) and siblings (same surname and
  postcode, different DOB and first name) → vetoed.

The threshold is conservative on purpose. A missed link costs a repeat that the Information
Officer still finds in the chronology check; a false link puts one child's contact on another
child's record, which is an information-governance breach (DOMAIN.md §10: need-to-know).

Whether two names agree (first rule that applies wins):

1. the same after normalisation (case, diacritics, spaces, hyphens, apostrophes), so
   "Anne-Marie" = "Annemarie" and "O'Brien" = "OBRIEN" → *the same*;
2. both in one group of ``KNOWN_VARIANTS``, spellings no phonetic code links
   (Siobhan/Shivon: Irish "bh" is /v/; Mohammed/Muhammad: the stressed vowel differs), or
   surnames that differ only in a Mac/Mc or Saint/St prefix → *variant*;
3. one name's words a proper subset of the other's: a double-barrelled surname or a middle
   name given once ("Smith-Jones" / "Jones", "Mary Ann" / "Mary") → *variant*;
4. first names only: a pair in ``KNOWN_DISTINCT`` (Alexander/Alexandra, Francis/Frances), or
   the longer is the shorter plus a girl's or diminutive ending (Daniel/Danielle,
   Louis/Louise, Paul/Paula, Carl/Carly) → *different*: boy/girl twins are named this way;
5. a typo: Jaro-Winkler similarity ≥ 0.92 *and* either up to two letters added (a doubled
   letter, a silent h, a trailing e or y: Mathew/Matthew, Megan/Meghan, Lea/Leah) or two
   adjacent letters swapped (Micheal/Michael) → *variant*. A substituted letter is not a typo
   here: Harvey/Harley score 0.92 too;
6. sounds alike: the same Metaphone code (at least two symbols), the same first vowel, the
   same number of vowel groups and the same final vowel (Aiden/Aidan, Caitlin/Kaitlyn,
   Stephen/Steven, Smith/Smyth, Katie/Katy) → *variant*;
7. anything else → *different*.

The vowel conditions in rule 6 are the twins guard. Metaphone drops vowels, so alone it calls
Millie/Mollie, Lily/Lola, Tom/Tim, Jack/Jake and Eli/Ella the same: exactly the alliterative
names parents give twins. NYSIIS was tried and rejected for the same reason the other way
round: it folds every vowel to A, so James/Jane, Jones/James and Adam/Aidan collide.

Known limits: spellings of one name that mark a boy or a girl only by a vowel letter
(Billy/Billie, Tony/Toni, Jordan/Jordyn) and diminutives made by adding letters (Evie/Eve,
Grace/Gracie) still count as variants, so such twins are *linked* for a person to look at
(the intake form carries no sex to tell them apart). Ryan/Rian and other respellings that
change the Metaphone code are missed unless listed in ``KNOWN_VARIANTS``.
Christopher/Kristopher is caught by a "chr" → "kr" respelling before Metaphone.

Library choice: ``jellyfish`` (Rust core, typed, maintained) gives Jaro-Winkler, Metaphone and
NYSIIS in one dependency. ``rapidfuzz`` is faster and has token ratios, but has no phonetic
codes, and the volumes here (a few thousand recent contacts per incoming contact, short
strings) make its speed moot; the token-subset rule is a set comparison. Double Metaphone is
in neither; the stand-alone packages offering it are unmaintained, and it still would not link
Siobhan/Shivon, which is why ``KNOWN_VARIANTS`` exists.

Blocking (``blocking_key``): a score of 0.80 needs either the same date of birth (40 + names
at least 40) or the same full postcode (a transposed or missing date of birth reaches 0.80 only
with the postcode's 20; without it 0.70 at best). So two keys that share neither a date of
birth nor a full postcode can never match at any threshold above 0.70, and the repeat lookup
(``intake.checks.repeat_index``) reads only the stored children that share one, then scores
them here. The index keeps each child as ``stored_key`` gives it (names already normalised),
so the lookup reads no submission; a change to ``normalise_name`` or ``normalise_postcode``
must re-derive the stored keys (a migration, as 0012 did).
Name or phonetic keys would not narrow that safely: a known variant, a word subset or a typo
changes every single-code key (Siobhan/Shivon, Smith-Jones/Jones, Mathew/Matthew's codes).

``MatchResult.reasons`` name the kind of evidence only, never a name, date or postcode, so
they can be logged and stored on the link.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TypeVar

import jellyfish

from mashcore.clock import to_utc

__all__ = [
    "BLOCKING_SAFE_ABOVE",
    "KNOWN_DISTINCT",
    "KNOWN_VARIANTS",
    "PROBABLE_MATCH_THRESHOLD",
    "ChildKey",
    "MatchResult",
    "StoredRow",
    "blocking_key",
    "find_repeats",
    "find_stored_repeats",
    "is_probable_match",
    "match_score",
    "normalise",
    "normalise_name",
    "normalise_postcode",
    "stored_key",
]

PROBABLE_MATCH_THRESHOLD = 0.80
"""The score from which two contacts are taken to be about the same child."""

# Points, out of 100 (see the module docstring).
DOB_EXACT = 40
DOB_TRANSPOSED = 20
DOB_MISSING = 10
NAME_EXACT = 25
NAME_VARIANT = 20
SWAPPED_PENALTY = 5
POSTCODE_EQUAL = 20

TYPO_SIMILARITY = 0.92
"""Jaro-Winkler similarity from which two spellings may count as a typo of each other."""
MAX_ADDED_LETTERS = 2
"""How many letters a typo may add (a doubled letter, a silent h, a trailing e or y)."""

KNOWN_VARIANTS: tuple[frozenset[str], ...] = (
    frozenset(
        {
            "mohammed",
            "mohammad",
            "mohamed",
            "mohamad",
            "muhammad",
            "muhammed",
            "muhamed",
            "mohammod",
            "muhamad",
        }
    ),
    frozenset({"siobhan", "shivon", "shivaun", "shevaun", "chevonne", "shivonne"}),
    frozenset({"niamh", "neve", "neave", "nieve"}),
    frozenset({"caoimhe", "keeva", "kweeva"}),
    frozenset({"saoirse", "seersha", "sersha"}),
    frozenset({"aoife", "eefa", "eefah"}),
    frozenset({"sean", "shaun", "shawn"}),
    frozenset(
        {"catherine", "katherine", "kathryn", "cathryn", "katharine", "catharine", "kathrine"}
    ),
    frozenset({"kayleigh", "kayley", "kaylee", "cayley", "kailey", "kaleigh", "caleigh"}),
    frozenset({"lewis", "louis"}),
    frozenset({"leigh", "lee"}),
    frozenset({"ciaran", "kieran", "kieron", "keiran"}),
    frozenset({"cian", "kian", "keean"}),
    frozenset({"rhys", "reece", "reese", "rees"}),
    frozenset({"aisha", "ayesha", "aishah", "ayisha", "aysha"}),
    frozenset({"yusuf", "yousef", "yousuf", "youssef", "yusef", "yosef"}),
)
"""Spelling groups no phonetic code links. Policy data: extend it rather than loosen rule 6."""

_PLACEHOLDER_NAMES = frozenset(
    {
        "unknown", "not known", "nk", "n k", "unk", "tbc", "tba", "none", "na", "n a", "x",
        "xx", "xxx", "baby", "unborn", "child", "unnamed", "no name", "infant", "newborn",
    }
)  # fmt: skip

# Letters that Unicode decomposition does not reduce to a base letter plus a mark.
_LETTER_FOLDS = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i"}
)
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_LETTERS = re.compile(r"[\W\d_]+")
_FULL_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA")
_NOT_POSTCODE = re.compile(r"[^A-Z0-9]")

KNOWN_DISTINCT: tuple[frozenset[str], ...] = (
    frozenset({"alexander", "alexandra"}),
    frozenset({"christian", "christina"}),
    frozenset({"frederick", "frederica"}),
    frozenset({"francis", "frances"}),
    frozenset({"jesse", "jessie"}),
    frozenset({"george", "georgia"}),
    frozenset({"mario", "maria"}),
    frozenset({"luca", "lucia"}),
    frozenset({"julian", "julianne"}),
    frozenset({"gabriel", "gabriella"}),
)
"""First names spelt too alike for the rules to part, yet a boy's and a girl's: twins' names."""

# Endings that turn a name into a girl's name or a diminutive: Daniel/Danielle, Louis/Louise,
# Paul/Paula, Stefan/Stefanie, Carl/Carly. "e" only after l or s (Ann/Anne stays a variant);
# "y" and "ie" only after a consonant (Zoe/Zoey stays a variant).
_GENDERED_ENDINGS = ("a", "ette", "ine", "ina", "la", "le")
_E_ENDING_AFTER = ("l", "s")
_Y_ENDINGS = ("y", "ie")
_VOWELS = frozenset("aeiou")
_SURNAME_PREFIXES = (("mac", "mc"), ("saint", "st"))
_VOWEL_GROUPS = re.compile(r"[aeiou]+|(?<=[^aeiou])y")
_FINAL_VOWELS = re.compile(r"([aeiou]*y|[aeiou]+)h?$")


@dataclass(frozen=True, slots=True)
class ChildKey:
    """What identifies a child on a contact, for matching. Personal data: never log it."""

    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    postcode: str | None
    identity_unknown: bool = False
    """The referrer said the child's identity is not known (the intake form's flag)."""

    @property
    def is_identified(self) -> bool:
        """Whether this key names a particular child: both names given and not placeholders."""
        return (
            not self.identity_unknown
            and normalise_name(self.first_name) is not None
            and normalise_name(self.last_name) is not None
        )


@dataclass(frozen=True, slots=True)
class MatchResult:
    """How strongly two keys look like the same child (0..1), and why."""

    score: float
    reasons: list[str] = field(default_factory=list)


def normalise_name(value: str | None) -> str | None:
    """Lower-case, strip diacritics, join apostrophes, turn hyphens and spacing into one space.

    Letters of any script are kept. Placeholders ("Unknown", "Baby", "N/K") and names with no
    letters give ``None``.
    """
    if value is None:
        return None
    text = value.casefold().translate(_LETTER_FOLDS)
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    text = _APOSTROPHES.sub("", text)
    text = " ".join(_NOT_LETTERS.sub(" ", text).split())
    if not text or text in _PLACEHOLDER_NAMES:
        return None
    return text


def normalise_postcode(value: str | None) -> str | None:
    """Upper-case a postcode and space it as outward and inward code ("cv12ab" → "CV1 2AB").

    Anything that is not a full UK postcode is returned compacted (no spaces) as given.
    """
    if value is None:
        return None
    compact = _NOT_POSTCODE.sub("", value.upper())
    if not compact:
        return None
    if _FULL_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def normalise(key: ChildKey) -> ChildKey:
    """Return the key with names and postcode normalised (idempotent)."""
    return replace(
        key,
        first_name=normalise_name(key.first_name),
        last_name=normalise_name(key.last_name),
        postcode=normalise_postcode(key.postcode),
    )


class _Agreement(Enum):
    EXACT = "the same"
    VARIANT = "a variant"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class _NameComparison:
    agreement: _Agreement
    how: str

    @property
    def points(self) -> int:
        return {_Agreement.EXACT: NAME_EXACT, _Agreement.VARIANT: NAME_VARIANT}.get(
            self.agreement, 0
        )


def _groups_by_name(groups: tuple[frozenset[str], ...]) -> dict[str, frozenset[int]]:
    """Each name of ``groups`` → the indexes of the groups it is in (two names share a group
    when their sets meet): a dictionary lookup per name instead of a scan of every group."""
    found: dict[str, set[int]] = {}
    for index, group in enumerate(groups):
        for name in group:
            found.setdefault(name, set()).add(index)
    return {name: frozenset(indexes) for name, indexes in found.items()}


_VARIANT_GROUPS = _groups_by_name(KNOWN_VARIANTS)
_DISTINCT_PAIRS = _groups_by_name(KNOWN_DISTINCT)
_NO_GROUP: frozenset[int] = frozenset()


def _in_one_group(index: dict[str, frozenset[int]], a: str, b: str) -> bool:
    return not index.get(a, _NO_GROUP).isdisjoint(index.get(b, _NO_GROUP))


def _compare_names(a: str, b: str, *, given_name: bool) -> _NameComparison:
    """Compare two normalised names (see the variant rules in the module docstring)."""
    compact_a, compact_b = a.replace(" ", ""), b.replace(" ", "")
    if compact_a == compact_b:
        return _NameComparison(_Agreement.EXACT, "the same")
    if _in_one_group(_VARIANT_GROUPS, compact_a, compact_b) or (
        not given_name and _fold_surname_prefix(compact_a) == _fold_surname_prefix(compact_b)
    ):
        return _NameComparison(_Agreement.VARIANT, "a known variant spelling")
    words_a, words_b = set(a.split()), set(b.split())
    shorter = min(words_a, words_b, key=len)
    if (words_a < words_b or words_b < words_a) and all(len(word) >= 2 for word in shorter):
        return _NameComparison(_Agreement.VARIANT, "one contains the other")
    if given_name and (
        _in_one_group(_DISTINCT_PAIRS, compact_a, compact_b)
        or _is_gendered_form(compact_a, compact_b)
    ):
        return _NameComparison(_Agreement.DIFFERENT, "different (distinct forms of one name)")
    if _is_typo(compact_a, compact_b):
        return _NameComparison(_Agreement.VARIANT, "a near-identical spelling")
    if _sounds_alike(compact_a, compact_b):
        return _NameComparison(_Agreement.VARIANT, "sounds alike")
    return _NameComparison(_Agreement.DIFFERENT, "different")


def _fold_surname_prefix(name: str) -> str:
    """MacQuarrie/McQuarrie, Saint John/St John: one prefix, two spellings."""
    for long_form, short_form in _SURNAME_PREFIXES:
        if name.startswith(long_form):
            return short_form + name[len(long_form) :]
    return name


def _is_gendered_form(a: str, b: str) -> bool:
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) < 3 or not longer.startswith(shorter):
        return False
    ending = longer[len(shorter) :]
    if ending == "e":
        return shorter.endswith(_E_ENDING_AFTER)
    if ending in _Y_ENDINGS:
        return shorter[-1] not in _VOWELS and shorter[-1] != "y"
    return ending in _GENDERED_ENDINGS


def _is_typo(a: str, b: str) -> bool:
    """Letters added (Mathew/Matthew, Megan/Meghan, Lea/Leah) or two adjacent ones swapped."""
    if abs(len(a) - len(b)) > MAX_ADDED_LETTERS:  # the cheapest test first (issue 17)
        return False
    if jellyfish.jaro_winkler_similarity(a, b) < TYPO_SIMILARITY:
        return False
    shorter, longer = sorted((a, b), key=len)
    if len(longer) == len(shorter):
        differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return (
            len(differ) == 2
            and differ[1] == differ[0] + 1
            and a[differ[0]] == b[differ[1]]
            and a[differ[1]] == b[differ[0]]
        )
    letters = iter(longer)
    return all(letter in letters for letter in shorter)  # shorter is a subsequence of longer


_Sound = tuple[str, str | None, int, str | None]
"""What rule 6 compares: the Metaphone code, the first vowel, the number of vowel groups and
the final vowel."""


def _sound(name: str) -> _Sound | None:
    """``name``'s sound for rule 6, or ``None`` if it can sound like no other name: not
    ASCII (Metaphone is for English spelling; other scripts rely on rules 1-5) or a code of
    fewer than two symbols."""
    if not name.isascii():
        return None
    code = jellyfish.metaphone(_respell(name))
    if len(code) < 2:
        return None
    return code, _first_vowel(name), len(_VOWEL_GROUPS.findall(name)), _final_vowel(name)


def _sounds_like(sound: _Sound | None, name: str) -> bool:
    """Whether ``name`` sounds like the name whose ``_sound`` that is: its code first (one
    call), the vowels only for a name with the same code."""
    if sound is None or not name.isascii():
        return False
    code, first_vowel, vowel_groups, final_vowel = sound
    return (jellyfish.metaphone(_respell(name)) == code
            and _first_vowel(name) == first_vowel
            and len(_VOWEL_GROUPS.findall(name)) == vowel_groups
            and _final_vowel(name) == final_vowel)


def _sounds_alike(a: str, b: str) -> bool:
    return _sounds_like(_sound(a), b)


def _respell(name: str) -> str:
    # jellyfish's Metaphone reads the "ch" of Christopher as in "church".
    return "kr" + name[3:] if name.startswith("chr") else name


def _first_vowel(name: str) -> str | None:
    for index, letter in enumerate(name):
        if letter in _VOWELS:
            return letter
        if letter == "y" and index > 0:
            return "i"  # Smyth/Smith, Jayden/Jaiden ("ay" reads as "ai")
    return None


def _final_vowel(name: str) -> str | None:
    """The vowel a name ends on, if it ends on one: Katie/Katy both "i", Ella "a", Eli "i"."""
    match = _FINAL_VOWELS.search(name)
    if match is None:
        return None
    group = match.group(1)
    if group.endswith("y") or group in ("ie", "ee", "ey", "i"):
        return "i"
    return group[-1]


def _compare_dates(a: date | None, b: date | None) -> tuple[int, str, bool]:
    """Return (points, reason, veto) for two dates of birth."""
    if a is None or b is None:
        return DOB_MISSING, "date of birth missing on one side", False
    if a == b:
        return DOB_EXACT, "date of birth the same", False
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return DOB_TRANSPOSED, "date of birth with day and month transposed", False
    return 0, "dates of birth differ", True


def _compare_postcodes(a: str | None, b: str | None) -> tuple[int, str]:
    if a is None or b is None:
        return 0, "postcode missing on one side"
    if a != b:
        return 0, "postcodes differ (not counted against)"
    if not _FULL_POSTCODE.fullmatch(a.replace(" ", "")):
        return 0, "postcode incomplete (not counted)"
    return POSTCODE_EQUAL, "postcode the same"


def _score_names(a: ChildKey, b: ChildKey, *, swapped: bool) -> tuple[int, list[str], bool]:
    assert a.first_name and a.last_name and b.first_name and b.last_name
    other_first, other_last = (
        (b.last_name, b.first_name) if swapped else (b.first_name, b.last_name)
    )
    first = _compare_names(a.first_name, other_first, given_name=True)
    last = _compare_names(a.last_name, other_last, given_name=False)
    points = first.points + last.points
    reasons = [f"first name {first.how}", f"last name {last.how}"]
    if swapped:
        points -= SWAPPED_PENALTY
        reasons.append("first and last names swapped")
    vetoed = _Agreement.DIFFERENT in (first.agreement, last.agreement)
    return points, reasons, vetoed


def _identified_when_normalised(key: ChildKey) -> bool:
    """``key.is_identified`` for a key already normalised: ``normalise_name`` is idempotent
    and gave ``None`` for a placeholder, so a name left is a name (no second normalising)."""
    return not key.identity_unknown and key.first_name is not None \
        and key.last_name is not None


class _GivenName:
    """A normalised given name about to be compared with many others: at 1,000,000 stored
    contacts a referral's first name meets some 170 stored children's two names, nearly all
    strangers' (issue 17). What depends on this name alone (its compact form, its variant
    groups, its sound) is worked out once, not once a comparison."""

    __slots__ = ("compact", "groups", "name", "single_word", "sound")

    def __init__(self, name: str) -> None:
        self.name = name
        self.compact = name.replace(" ", "")
        self.single_word = " " not in name
        self.groups = _VARIANT_GROUPS.get(self.compact, _NO_GROUP)
        self.sound = _sound(self.compact)

    def differs_from(self, other: str) -> bool:
        """Whether ``_compare_names(self.name, other, given_name=True)`` finds them
        different, its cheap tests first. Always the same answer
        (``tests/unit/test_intake_matching_shortcuts.py``)."""
        if not (self.single_word and " " not in other):  # one may hold the other's words
            return _compare_names(self.name, other, given_name=True).agreement \
                == _Agreement.DIFFERENT
        compact = self.compact
        if other == compact or (self.groups and not self.groups.isdisjoint(
                _VARIANT_GROUPS.get(other, _NO_GROUP))):
            return False
        # Two different single words, not known variants: alike only as a near-identical
        # spelling or a sound-alike, and even then not if they are distinct forms of one name.
        if not (_is_typo(compact, other) or _sounds_like(self.sound, other)):
            return True
        return (_in_one_group(_DISTINCT_PAIRS, compact, other)
                or _is_gendered_form(compact, other))


def _given_names_differ(a: str, b: str) -> bool:
    """Whether ``_compare_names(a, b, given_name=True)`` finds them different (normalised)."""
    return _GivenName(a).differs_from(b)


def _score(a: ChildKey, b: ChildKey) -> MatchResult:
    """Score two keys that are already normalised."""
    if not (_identified_when_normalised(a) and _identified_when_normalised(b)):
        return MatchResult(0.0, ["identity unknown: never matched"])
    dob_points, dob_reason, dob_veto = _compare_dates(a.date_of_birth, b.date_of_birth)
    straight = _score_names(a, b, swapped=False)
    names = straight
    if straight[2] or straight[0] < 2 * NAME_EXACT:
        swapped = _score_names(a, b, swapped=True)
        if not swapped[2] and (straight[2] or swapped[0] > straight[0]):
            names = swapped
    name_points, name_reasons, name_veto = names
    postcode_points, postcode_reason = _compare_postcodes(a.postcode, b.postcode)
    reasons = [dob_reason, *name_reasons, postcode_reason]
    if dob_veto or name_veto:
        return MatchResult(0.0, reasons)
    points = min(100, max(0, dob_points + name_points + postcode_points))
    return MatchResult(points / 100, reasons)


BLOCKING_SAFE_ABOVE = (DOB_TRANSPOSED + 2 * NAME_EXACT) / 100
"""``blocking_key`` finds every match for thresholds above this (0.70): see the docstring."""


def stored_key(key: ChildKey) -> ChildKey | None:
    """``key`` as the repeat index keeps it: normalised, its postcode only if full, or
    ``None`` when it can match nothing (an unknown child, or neither a date of birth nor a
    full postcode). It scores against any key exactly as ``key`` does: a postcode that is
    not full counts nothing, as a missing one. Personal data: never log it.
    """
    wanted = normalise(key)
    if not wanted.is_identified:
        return None
    postcode = wanted.postcode
    if postcode is not None and not _FULL_POSTCODE.fullmatch(postcode.replace(" ", "")):
        postcode = None
    if wanted.date_of_birth is None and postcode is None:
        return None
    return replace(wanted, postcode=postcode)


def blocking_key(key: ChildKey) -> tuple[date | None, str | None] | None:
    """The date of birth and full postcode any match of ``key`` must share, or ``None``.

    ``None`` when the key can match nothing: an unknown child, or neither a date of birth
    nor a full postcode. Personal data: never log it.
    """
    stored = stored_key(key)
    return None if stored is None else (stored.date_of_birth, stored.postcode)


def match_score(a: ChildKey, b: ChildKey) -> MatchResult:
    """How strongly two children's keys look like the same child, with the evidence."""
    return _score(normalise(a), normalise(b))


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ValueError("a match threshold must be in (0, 1]")


def is_probable_match(
    a: ChildKey, b: ChildKey, threshold: float = PROBABLE_MATCH_THRESHOLD
) -> bool:
    """Whether two keys are probably the same child (score at or above ``threshold``)."""
    _check_threshold(threshold)
    return match_score(a, b).score >= threshold


ContactId = TypeVar("ContactId")

StoredRow = tuple[ContactId, datetime, str, str, date | None, str | None]
"""A child as the repeat index holds it (``intake.checks.repeat_index``):
``(contact_id, received_at, first_name, last_name, date_of_birth, postcode)``, the names
and postcode as ``stored_key`` gives them (normalised, both names given)."""


def find_repeats(
    candidate: ChildKey,
    recent: Iterable[tuple[ContactId, datetime, ChildKey]],
    window: timedelta,
    now: datetime,
    threshold: float = PROBABLE_MATCH_THRESHOLD,
) -> list[tuple[ContactId, MatchResult]]:
    """Return earlier contacts about the same child, received within ``window`` before ``now``.

    ``recent`` holds ``(contact_id, received_at, child)`` from every agency; the window is
    inclusive at both ends (``now - window <= received_at <= now``), and contacts stamped
    after ``now`` are left out. Results are best match first, then most recent first. They
    are for linking: nothing is dropped or merged on the strength of them. (The repeat
    index's rows, already normalised, go to ``find_stored_repeats``.)
    """
    rows = ((contact_id, received_at, key.first_name, key.last_name, key.date_of_birth,
             key.postcode)
            for contact_id, received_at, child in recent
            for key in [normalise(child)]
            if _identified_when_normalised(key))  # any other scores 0
    return find_stored_repeats(candidate, rows, window, now, threshold)  # type: ignore[arg-type]


def find_stored_repeats(
    candidate: ChildKey,
    rows: Iterable[StoredRow[ContactId]],
    window: timedelta,
    now: datetime,
    threshold: float = PROBABLE_MATCH_THRESHOLD,
) -> list[tuple[ContactId, MatchResult]]:
    """``find_repeats`` over the repeat index's rows (``StoredRow``), as they are read.

    At 1,000,000 stored contacts some 190 rows share a key with a referral, nearly all of
    them strangers whose first name or date of birth vetoes a match: those are turned away
    from the row itself, two name comparisons instead of ``_score``'s four, and a
    ``ChildKey`` is built only for a row that passes (issue 17)."""
    if window <= timedelta(0):
        raise ValueError("the repeat window must be positive")
    _check_threshold(threshold)
    now = to_utc(now)
    since = now - window
    wanted = normalise(candidate)
    if not wanted.is_identified:
        return []
    assert wanted.first_name is not None
    first = _GivenName(wanted.first_name)
    born = wanted.date_of_birth
    found: list[tuple[ContactId, datetime, MatchResult]] = []
    for contact_id, received_at, first_name, last_name, date_of_birth, postcode in rows:
        received = to_utc(received_at)
        if not since <= received <= now:
            continue
        if date_of_birth != born and _compare_dates(born, date_of_birth)[2]:
            continue  # dates of birth that differ veto a match: _score would give 0
        if first.differs_from(first_name) and first.differs_from(last_name):
            continue  # both arrangements of the names are vetoed: _score would give 0 too
        result = _score(wanted, ChildKey(first_name, last_name, date_of_birth, postcode))
        if result.score >= threshold:
            found.append((contact_id, received, result))
    found.sort(key=lambda item: (item[2].score, item[1]), reverse=True)
    return [(contact_id, result) for contact_id, _, result in found]
