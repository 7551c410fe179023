"""Decision support reads a child's or parent's own words (issue 20): it explains, never decides."""

from __future__ import annotations

from mashcore.plainwords import matcher_for
from mashcore.policy import PolicyBook
from triage.decision_support import Facts, suggest

BOOK = PolicyBook.load()
PACK = BOOK.for_partnership("default")
PLAIN = matcher_for(BOOK, "default")


def test_a_childs_own_words_match_the_abuse_indicator_and_say_which_words():
    s = suggest(PACK, Facts(concern="He said 'mum hits me with the belt'."), PLAIN)
    [match] = [m for m in s.matches if m.indicator.code == "pc-suspected-abuse"]
    assert any("'hits me'" in why and "physical abuse" in why
               for why in match.because)
    assert "Indicative only: the team manager decides." in s.explanation
    assert [h.rule.code for h in s.read_in_concern] == ["disclosure.physical"]


def test_without_the_phrase_lists_the_same_words_match_nothing():
    s = suggest(PACK, Facts(concern="He touches my private parts"))
    assert s.matches == ()
    assert suggest(PACK, Facts(concern="He touches my private parts"), PLAIN).level_code == "L4"


def test_denied_words_are_not_a_disclosure():
    s = suggest(PACK, Facts(concern="Child denies anyone hurts me at home. No marks."), PLAIN)
    assert s.read_in_concern == () and s.matches == ()


def test_domestic_abuse_in_the_text_is_suggested_not_set():
    facts = Facts(concern="Police were called to a domestic, dad was shouting and screaming.")
    s = suggest(PACK, facts, PLAIN)
    assert [(h.rule.flag, h.words) for h in s.suggested_flags] == [
        ("domestic_abuse", "domestic")]
    # Not set: the domestic abuse indicator (matched on the flag) does not match.
    assert "fe-domestic-abuse" not in {m.indicator.code for m in s.matches}
    flagged = suggest(PACK, Facts(concern=facts.concern, domestic_abuse=True), PLAIN)
    assert flagged.suggested_flags == ()
    assert "fe-domestic-abuse" in {m.indicator.code for m in flagged.matches}


def test_an_answered_flag_is_no_longer_suggested():
    concern = "Police were called to a domestic, dad was shouting and screaming."
    declined = suggest(PACK, Facts(concern=concern, answered_flags=("domestic_abuse",)), PLAIN)
    assert declined.suggested_flags == ()
    assert [h.rule.code for h in declined.read_in_concern] == [
        h.rule.code for h in suggest(PACK, Facts(concern=concern), PLAIN).read_in_concern]
