"""The rules of strategy discussions and s47 enquiries (DOMAIN.md §2, §7), pure and small.

Nothing here touches the database or the bus: each rule takes plain values and answers
with the faulty fields (``(field, problem)`` pairs, as ``mashcore.problems.invalid_fields``
takes them), or a state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mashcore.policy import EscalationStage

# A discussion's states, in order.
REQUESTED, SCHEDULED, CANCELLED, HELD, MINUTES_SIGNED_OFF, MINUTES_CIRCULATED = (
    "requested", "scheduled", "cancelled", "held", "minutes_signed_off", "minutes_circulated")
SCHEDULABLE = (REQUESTED, SCHEDULED, CANCELLED)
"""States from which a discussion may be (re)scheduled."""

# An s47 enquiry's states.
S47_OPEN, S47_AWAITING_AGREEMENT, S47_CONCLUDED = "open", "awaiting_agreement", "concluded"

FieldErrors = list[tuple[str, str]]

PUBLIC_AGENCIES = frozenset({"public"})
"""A member of the public (anonymous or not) is never invited (DOMAIN.md §1, §7)."""

REQUIRED_INVITEES: tuple[tuple[str, str, str], ...] = (
    ("role", "social_worker", "a social worker"),
    ("agency", "health", "health"),
    ("agency", "police", "police"),
)
"""Who a strategy discussion needs at least (DOMAIN.md §7): (key, value, in words)."""

NEXT_STEPS: Mapping[str, tuple[str, ...]] = {
    "not_substantiated": ("no_further_action", "supportive_services"),
    "substantiated_no_continuing_risk": ("supportive_services", "plan_without_conference"),
    "substantiated_continuing_risk": ("icpc",),
}
"""s47 outcome → the next steps it allows (DOMAIN.md §7; [004])."""


def missing_roles(people: Iterable[Mapping[str, object]], field: str) -> FieldErrors:
    """The required roles and agencies ``people`` lack, each named (DOMAIN.md §7)."""
    people = list(people)
    return [(field, f"needs {words} (at least one invitee with {key} {value!r})")
            for key, value, words in REQUIRED_INVITEES
            if not any(person.get(key) == value for person in people)]


def referrer_invitable(referrer_agency: str | None) -> bool:
    """The referrer is normally invited when a professional; never a member of the public,
    anonymous or not (intake's events give an anonymous referrer's agency as public)."""
    return referrer_agency is not None and referrer_agency not in PUBLIC_AGENCIES


def children_errors(chosen: Sequence[int], known: int, field: str) -> FieldErrors:
    """Children are named by their place in the referral (1 first), each once."""
    if not chosen:
        return [(field, "name at least one child")]
    if len(set(chosen)) != len(chosen):
        return [(field, "each child once")]
    beyond = [n for n in chosen if not 1 <= n <= known]
    if beyond:
        return [(field, f"the case has {known} child(ren): no child {beyond[0]}")]
    return []


def s47_decision_errors(decisions: Mapping[int, bool], children: Sequence[int],
                        field: str) -> FieldErrors:
    """A held discussion decides s47 for exactly the children it is about."""
    missing = [n for n in children if n not in decisions]
    extra = [n for n in decisions if n not in children]
    errors: FieldErrors = []
    if missing:
        errors.append((field, f"decide for child {', '.join(map(str, missing))} too"))
    if extra:
        errors.append((field, f"the discussion is not about child "
                              f"{', '.join(map(str, extra))}"))
    return errors


def next_step_errors(outcome: str, next_step: str) -> FieldErrors:
    """The s47 outcome allows only its next steps (DOMAIN.md §7); anything else names
    ``next_step``."""
    allowed = NEXT_STEPS[outcome]
    if next_step in allowed:
        return []
    return [("next_step", f"{outcome} leads to {' or '.join(allowed)}, not {next_step}")]


# --- Escalation of professional disagreement (DOMAIN.md §7, §8; [003]) -------------------

AWAITING_ANSWER, RESOLVED, UNRESOLVED = "awaiting_answer", "resolved", "unresolved"
# The ladder (names, roles, timescale per stage) is the partnership's policy pack's
# `escalation_ladder`; the default is documented in policy/README.md.


def escalated_to_errors(ladder: Sequence[EscalationStage], stage: int, role: str,
                        user_id: str, answered_before: Iterable[str]) -> FieldErrors:
    """A stage is escalated to one of its roles on the partnership's ladder, and to someone
    who has not answered an earlier stage of the same disagreement (it goes up)."""
    step = next((s for s in ladder if s.stage == stage), None)
    if step is None:
        return [("escalated_to", f"the partnership's ladder has {len(ladder)} stage(s)")]
    errors: FieldErrors = []
    if role not in step.roles:
        errors.append(("escalated_to.role", f"stage {stage} ({step.name}) is answered by "
                                            f"{' or '.join(step.roles)}"))
    if user_id in set(answered_before):
        errors.append(("escalated_to.user_id", "they answered an earlier stage: escalate "
                                               "to someone more senior"))
    return errors


def may_answer(ladder: Sequence[EscalationStage], stage: int, token_role: str) -> bool:
    """Whether a caller with this access-token role may answer the stage (the pack's
    `answered_by`)."""
    step = next((s for s in ladder if s.stage == stage), None)
    return step is not None and token_role in step.answered_by
