"""How threshold decisions compare with what decision support suggested, per pack version.

Counts only (no case references, no personal data): which suggested levels managers confirm
and which they override, to and from what. A pack whose suggestions are overridden often at
one level is a pack to revisit with the partnership (DOMAIN.md §6: indicators are indicative).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import col, select

from mashcore.service import ServiceContext
from triage.models import RatingHistory, TriageCase


def calibration(ctx: ServiceContext, partnership: str) -> dict[str, Any]:
    """Threshold decisions against suggestions for one partnership, by pack version."""
    with ctx.unit_of_work() as uow:
        rows = uow.session.exec(
            select(TriageCase.policy_version, RatingHistory)
            .join(TriageCase, col(TriageCase.case_reference) == RatingHistory.case_reference)
            .where(TriageCase.partnership == partnership, RatingHistory.kind == "threshold")
        ).all()
    by_version: dict[str, Counter[tuple[str, str, str, str]]] = {}
    for version, row in rows:
        by_version.setdefault(version or "unknown", Counter())[
            (row.suggested_level_code or "none", row.level_code or "none",
             row.suggested_brag or "none", row.brag or "none")] += 1
    pack = ctx.policy.for_partnership(partnership)
    return {
        "partnership": partnership,
        "current_pack_version": pack.version,
        "versions": [
            {
                "pack_version": version,
                "decisions": sum(counts.values()),
                "no_suggestion": sum(n for (s, *_), n in counts.items() if s == "none"),
                "level_confirmed": sum(n for (s, d, *_), n in counts.items()
                                       if s != "none" and s == d),
                "brag_confirmed": sum(n for (s, _d, sb, b), n in counts.items()
                                      if s != "none" and sb == b),
                "pairs": [
                    {"suggested_level": s, "decided_level": d, "suggested_brag": sb,
                     "decided_brag": b, "count": n}
                    for (s, d, sb, b), n in sorted(counts.items())
                ],
            }
            for version, counts in sorted(by_version.items())
        ],
    }
