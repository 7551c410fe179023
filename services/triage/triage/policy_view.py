"""A policy pack as the API shows it: what a referrer ticks and a manager decides with."""

from __future__ import annotations

from typing import Any

from mashcore.policy import BRAGS, PolicyPack
from mashcore.policy.model import BragPolicy


def _brag(policy: BragPolicy) -> dict[str, Any]:
    within = policy.enquiries_within
    return {"meaning": policy.meaning, "routes": policy.routes,
            "enquiries_within": within.describe() if within else None}


def pack_view(pack: PolicyPack) -> dict[str, Any]:
    """Levels, indicators by domain, BRAG meanings, routes and timescales."""
    return {
        "partnership": pack.partnership,
        "name": pack.name,
        "version": pack.version,
        "sources": pack.sources,
        "notes": pack.notes,
        "levels": [level.model_dump() for level in pack.levels],
        "indicators": [{"code": i.code, "domain": i.domain, "level": i.level, "text": i.text}
                       for i in pack.indicators],
        "brag": {brag: _brag(pack.brag.of(brag)) for brag in BRAGS},
        "threshold_decision_within": pack.threshold_decision_within.describe(),
        "consent_revisit_within": pack.consent.revisit_within.describe(),
        "recent_involvement_weeks": pack.recent_involvement_weeks,
    }
