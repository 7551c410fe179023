"""Decision support: suggest a level of need and a BRAG from the partnership's indicators.

It never decides (DOMAIN.md §6: indicators are indicative and never replace professional
judgement [003]). It lists every indicator it matched and why, so a team manager can see
where a suggestion comes from, confirm it, or override it; both are recorded.

An indicator matches when it was ticked (by the referrer on the form, by the information
officer, or by the team manager), when one of its keywords appears as whole words in the
concern, or when one of its signals is a fact of the referral (domestic abuse, DASH high
risk, a child under 1 or 16 or over). The suggested level is the highest level matched; the
suggested BRAG is that level's ``suggested_brag`` in the pack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from mashcore.plainwords import Hit, Matcher
from mashcore.policy import Indicator, PolicyPack


@dataclass(frozen=True)
class Facts:
    """What the referral says that an indicator can be matched on."""

    concern: str = ""
    ticked_by_referrer: Sequence[str] = ()
    ticked_by_information_officer: Sequence[str] = ()
    ticked_by_team_manager: Sequence[str] = ()
    domestic_abuse: bool = False
    domestic_abuse_risk: str | None = None
    children_dates_of_birth: Sequence[date | None] = ()
    received_on: date | None = None
    referral_signals: Sequence[str] = ()
    """Facts intake found in the full referral (mash.intake.referral.accepted.v1 signals)."""
    answered_flags: Sequence[str] = ()
    """Flags hub staff confirmed or declined (triage.flags): no longer suggested."""

    def signals(self) -> set[str]:
        found: set[str] = set(self.referral_signals)
        if self.domestic_abuse:
            found.add("domestic_abuse")
        if self.domestic_abuse and self.domestic_abuse_risk == "high":
            found.add("domestic_abuse_high_risk")
        if self.received_on is not None:
            for born in self.children_dates_of_birth:
                if born is None:
                    continue
                age = _age_on(born, self.received_on)
                if age < 1:
                    found.add("child_under_1")
                if age >= 16:
                    found.add("child_16_or_over")
        return found


_SIGNAL_WORDS = {
    "domestic_abuse": "the referral is flagged as domestic abuse",
    "domestic_abuse_high_risk": "domestic abuse assessed as high risk (DASH or Barnardo's)",
    "child_under_1": "a child is under 1",
    "child_16_or_over": "a child is 16 or over",
    "unborn_child": "the referral is about an unborn baby",
    "young_parent_under_18": "a parent or carer is under 18",
    "low_safety_scale": "a safety scale of 3 or less on the referral",
}


@dataclass(frozen=True)
class Match:
    """One matched indicator and every reason it matched."""

    indicator: Indicator
    level_name: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class Suggestion:
    """A suggested level and BRAG, or none, with the evidence."""

    level_code: str | None
    level_name: str | None
    brag: str | None
    matches: tuple[Match, ...]
    unknown_codes: tuple[str, ...] = field(default=())
    explanation: str = ""
    read_in_concern: tuple[Hit, ...] = field(default=())
    """Disclosures and flags found in the concern's own words (issue 20), not negated."""
    suggested_flags: tuple[Hit, ...] = field(default=())
    """Flags the words suggest and the referral lacks: an information officer confirms them."""


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _mentions(text: str, keyword: str) -> bool:
    words = r"\s+".join(re.escape(part) for part in keyword.split())
    return re.search(rf"(?<!\w){words}(?!\w)", text, flags=re.IGNORECASE) is not None


def suggest(pack: PolicyPack, facts: Facts, plain: Matcher | None = None) -> Suggestion:
    """The suggestion under ``pack`` for ``facts``; pure, so it can be re-run at any time.

    With ``plain`` (the partnership's phrase lists) a child's or parent's own words count for
    the indicator their rule names, and flags the words suggest are listed to be confirmed.
    """
    signals = facts.signals()
    read = tuple(plain.found(facts.concern, kinds=("disclosure", "flag"))) if plain else ()
    flagged = {"domestic_abuse": facts.domestic_abuse}
    suggested = tuple(hit for hit in read if hit.rule.kind == "flag" and hit.rule.flag
                      and not flagged.get(hit.rule.flag, False)
                      and hit.rule.flag not in facts.answered_flags)
    ticks: list[tuple[Iterable[str], str]] = [
        (facts.ticked_by_referrer, "ticked by the referrer"),
        (facts.ticked_by_information_officer, "ticked by the information officer"),
        (facts.ticked_by_team_manager, "ticked by the team manager"),
    ]
    known = {indicator.code for indicator in pack.indicators}
    unknown = sorted({code for codes, _ in ticks for code in codes if code not in known})
    matches: list[Match] = []
    for indicator in pack.indicators:
        because = [who for codes, who in ticks if indicator.code in codes]
        because += [f"the concern mentions {keyword!r}" for keyword in indicator.keywords
                    if _mentions(facts.concern, keyword)]
        because += [_SIGNAL_WORDS[signal] for signal in indicator.signals
                    if signal in signals]
        because += [f"the concern's own words {hit.words!r} ({hit.rule.about})" for hit in read
                    if hit.rule.kind == "disclosure" and hit.rule.indicator == indicator.code]
        if because:
            level = pack.level(indicator.level)
            matches.append(Match(indicator, level.name if level else indicator.level,
                                 tuple(because)))
    if not matches:
        return Suggestion(None, None, None, (), tuple(unknown),
                          "No threshold indicator matched: decide on the referral itself.",
                          read, suggested)
    matches.sort(key=lambda m: (-pack.rank(m.indicator.level), m.indicator.code))
    top = pack.level(matches[0].indicator.level)
    assert top is not None
    count = sum(1 for m in matches if m.indicator.level == top.code)
    explanation = (f"{top.name}: the highest level among {len(matches)} matched "
                   f"indicator{'s' if len(matches) != 1 else ''} ({count} at this level). "
                   "Indicative only: the team manager decides.")
    return Suggestion(top.code, top.name, top.suggested_brag, tuple(matches), tuple(unknown),
                      explanation, read, suggested)
