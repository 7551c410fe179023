"""Plain-words matching (issue 20): inflection, misspelling, negation, and the corpus floors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mashcore.plainwords import Matcher, PhraseRule, PlainWords, matcher_for
from mashcore.plainwords_corpus import (
    PRECISION_FLOOR,
    RECALL_FLOOR,
    default_corpus,
    load_corpus,
    main,
    score,
)
from mashcore.policy import PolicyBook, PolicyError, default_policy_dir, load_pack

PLAIN = PlainWords(
    context=["because", "since"],
    rules=[
        PhraseRule(code="injury", kind="ask_why", about="an injury", phrases=["bruise", "marks"]),
        PhraseRule(code="hit", kind="disclosure", about="hitting", phrases=["hits me belt"]),
    ],
)
M = Matcher(PLAIN)


def codes(text: str) -> list[str]:
    return [hit.rule.code for hit in M.found(text)]


def test_inflection_and_misspelling_match():
    assert codes("Bruising on his arm") == ["injury"]
    assert codes("a bruse on his arm") == ["injury"]  # one letter missing
    assert codes("brusie seen") == ["injury"]  # two letters swapped


def test_short_words_are_not_fuzzy():
    assert codes("mum hats me with a belt") == []  # 'hat' is one edit from 'hit', but short
    assert codes("the bride wore white") == []  # 'bride' is two edits from 'bruise'


def test_a_phrase_allows_one_word_between_its_words_and_ignores_articles():
    hits = M.found("He said: mum hits me with the belt.")
    assert [(h.rule.code, h.words) for h in hits] == [("hit", "hits me with the belt")]
    assert codes("mum hits me and later took off a belt") == []


@pytest.mark.parametrize("text", [
    "No marks seen.", "Denies any bruising.", "There was never a bruise", "didnt see bruises",
    "no evidence of bruising",
])
def test_a_negated_phrase_is_not_found(text: str):
    assert codes(text) == []
    assert [h.negated for h in M.hits(text)] == [True]


def test_negation_stops_at_the_clause_and_beyond_its_window():
    assert codes("No concerns at school, but bruise on arm") == ["injury"]
    assert codes("No concerns. Bruise on arm") == ["injury"]
    assert codes("not at school on monday or tuesday and a bruise") == ["injury"]


def test_a_later_place_not_negated_wins():
    assert codes("No marks on his face; bruise on his back") == ["injury"]


def test_context_words_say_why():
    assert M.gives_context("bruise because he fell")
    assert not M.gives_context("bruise on his arm")


def test_a_rule_needs_a_known_kind_and_a_phrase():
    with pytest.raises(ValidationError):
        PhraseRule(code="x", kind="decide", about="nothing", phrases=["x y"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PhraseRule(code="x", kind="flag", about="nothing", phrases=[])


def test_default_pack_meets_the_corpus_floors():
    pack = load_pack(default_policy_dir() / "default.yaml")
    report = score(pack.plain_words, load_corpus(default_corpus()))
    assert report.overall.precision >= PRECISION_FLOOR
    assert report.overall.recall >= RECALL_FLOOR


def test_every_rule_has_a_corpus_case_and_the_corpus_covers_every_agency_and_negation():
    pack = load_pack(default_policy_dir() / "default.yaml")
    cases = load_corpus(default_corpus())
    expected = {code for case in cases for code in case.expect}
    assert {rule.code for rule in pack.plain_words.rules} <= expected
    assert {"education", "health", "ambulance", "police", "housing", "public"} <= {
        case.agency for case in cases}
    matcher = Matcher(pack.plain_words)
    assert any(hit.negated for case in cases for hit in matcher.hits(case.text))


def test_the_report_command_fails_below_the_floors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = tmp_path / "c.yaml"
    corpus.write_text("cases:\n  - {id: a, agency: police, text: mum hits me, "
                      "expect: [da.text]}\n", encoding="utf-8")
    assert main([str(corpus)]) == 1
    out = capsys.readouterr().out
    assert "da.text" in out and "NOT met" in out
    assert main([]) == 0


def test_a_partnership_adds_local_terms_to_the_defaults():
    default = load_pack(default_policy_dir() / "default.yaml")
    local = default.model_copy(update={
        "partnership": "somewhere",
        "plain_words": PlainWords(rules=[
            PhraseRule(code="da.text", kind="flag", flag="domestic_abuse",
                       about="domestic abuse described in the referral", phrases=["barney"]),
            PhraseRule(code="local.county-lines", kind="disclosure",
                       about="words that may be exploitation", phrases=["going country"]),
        ])})
    book = PolicyBook({"default": default, "somewhere": local})
    own = matcher_for(book, "somewhere")
    found = {h.rule.code for h in own.found("a barney at home, he keeps going country")}
    assert found == {"da.text", "local.county-lines"}
    assert {h.rule.code for h in own.found("police were called")} == {"da.text"}
    assert matcher_for(book, "elsewhere").found("a barney at home") == []


def test_a_pack_with_a_bad_rule_fails_at_start_up(tmp_path: Path):
    text = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "default.yaml"
    bad.write_text(text.replace("kind: flag", "kind: decide", 1), encoding="utf-8")
    with pytest.raises(PolicyError, match="plain_words"):
        PolicyBook.load(tmp_path)


def test_a_partnerships_disclosures_point_to_its_own_indicators():
    from triage.decision_support import Facts, suggest

    book = PolicyBook.load()
    pack = book.for_partnership("nottingham")
    s = suggest(pack, Facts(concern="she said 'dad leathers me'"), matcher_for(book, "nottingham"))
    assert [m.indicator.code for m in s.matches] == ["pc-abuse"]


@pytest.mark.parametrize(("old", "new", "field"), [
    ("indicator: pc-suspected-abuse", "indicator: no-such-indicator", "indicator"),
    ("kind: flag\n      flag: domestic_abuse", "kind: flag", "flag"),
    ("code: disclosure.sexual", "code: da.text", "code"),
])
def test_a_rule_naming_what_the_pack_lacks_fails_at_start_up(
    tmp_path: Path, old: str, new: str, field: str,
) -> None:
    text = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "default.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError, match=rf"plain_words.*{field}"):
        PolicyBook.load(tmp_path)
