"""Per-partnership policy packs (DOMAIN.md: where the seeds disagree, it is policy)."""

from mashcore.policy.loader import PolicyBook, PolicyError, default_policy_dir, load_pack
from mashcore.policy.model import (
    BRAGS,
    Brag,
    Duration,
    EscalationStage,
    Indicator,
    Level,
    PolicyPack,
    Route,
)

__all__ = [
    "BRAGS",
    "Brag",
    "Duration",
    "EscalationStage",
    "Indicator",
    "Level",
    "PolicyBook",
    "PolicyError",
    "PolicyPack",
    "Route",
    "default_policy_dir",
    "load_pack",
]
