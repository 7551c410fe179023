"""Triage's rules, pure: the consent gate, what a threshold decision needs, and deadlines.

DOMAIN.md §5 (consent) and §6 (BRAG and thresholds); the timescales come from the
partnership's policy pack (policy/README.md).
"""

from __future__ import annotations

from datetime import datetime

from mashcore.policy import PolicyPack

# Case states (see models.TriageCase).
AWAITING_INITIAL_RATING = "awaiting_initial_rating"
AWAITING_CONSENT_GATE = "awaiting_consent_gate"
AWAITING_GATE_AGREEMENT = "awaiting_gate_agreement"
AWAITING_THRESHOLD_DECISION = "awaiting_threshold_decision"
DECIDED = "decided"
RETURNED_TO_REFERRER = "returned_to_referrer"
FORWARDED_TO_EARLY_HELP = "forwarded_to_early_help"
CLOSED_AT_GATE = "closed_at_gate"
FORWARDED_TO_ALLOCATED_WORKER = "forwarded_to_allocated_worker"

RATING_QUEUE = (AWAITING_INITIAL_RATING, AWAITING_CONSENT_GATE)
DECISION_QUEUE = (AWAITING_THRESHOLD_DECISION, AWAITING_GATE_AGREEMENT)
OPEN = (*RATING_QUEUE, *DECISION_QUEUE)
CLOSED = (RETURNED_TO_REFERRER, FORWARDED_TO_EARLY_HELP, CLOSED_AT_GATE,
          FORWARDED_TO_ALLOCATED_WORKER)
GATE_CLOSES_AS = {"returned_to_referrer": RETURNED_TO_REFERRER,
                  "early_help_hub": FORWARDED_TO_EARLY_HELP, "closed": CLOSED_AT_GATE}

# Routes that act on the family, so need consent or a recorded decision to proceed without
# it (DOMAIN.md §5: consent to early help and s17 is always needed; without consent only
# Amber or Red). Passing a case to the social work unit is a referral for services too.
# NFA and information or advice do not.
ROUTES_NEEDING_CONSENT = frozenset({"early_help", "mash_enquiries", "strategy_discussion",
                                    "allocated_worker"})
WITHOUT_CONSENT_BRAGS = frozenset({"amber", "red"})
BRAG_ORDER = ("blue", "green", "amber", "red")

FieldErrors = list[tuple[str, str]]


def gate_applies(safeguarding_concerns: bool, consent_to_referral: str) -> bool:
    """No safeguarding concerns and no consent: not accepted as a referral (§5)."""
    return not safeguarding_concerns and consent_to_referral != "given"


def rating_errors(brag: str, safeguarding_concerns: bool) -> FieldErrors:
    """Amber and Red mean a safeguarding concern in every pack (MASH action, immediate
    concern): such a contact must never leave through the consent gate on one word."""
    if brag in WITHOUT_CONSENT_BRAGS and not safeguarding_concerns:
        return [("safeguarding_concerns",
                 f"{brag.title()} means MASH action on a safeguarding concern: rate it Blue or "
                 f"Green if there is none, or say there are safeguarding concerns")]
    return []


def gate_needs_manager(outcome: str) -> bool:
    """Forwarding to the Early Help Hub or closing needs the IO and a TM to agree (§5)."""
    return outcome in ("early_help_hub", "closed")


def decision_errors(
    pack: PolicyPack, *, level_code: str, brag: str, route: str, consent_to_referral: str,
    proceeding_without_consent: bool, without_consent_reason: str | None,
    without_consent_basis: str | None,
) -> FieldErrors:
    """Everything wrong with a threshold decision under the partnership's pack."""
    errors: FieldErrors = []
    if pack.level(level_code) is None:
        errors.append(("level_code", f"{level_code!r} is not a level of {pack.name}; the "
                       f"levels are {', '.join(level.code for level in pack.levels)}"))
    allowed = pack.brag.of(brag).routes  # type: ignore[arg-type]
    if route not in allowed:
        errors.append(("route", f"{route!r} does not follow {brag.title()} in {pack.name}; "
                       f"{brag.title()} allows {', '.join(allowed)}"))
    if proceeding_without_consent:
        if brag not in WITHOUT_CONSENT_BRAGS:
            errors.append(("proceeding_without_consent",
                           f"proceeding without consent is only for Amber or Red, not "
                           f"{brag.title()} (DOMAIN.md §5)"))
        if not without_consent_reason:
            errors.append(("without_consent_reason",
                           "give the reason for proceeding without consent"))
        if not without_consent_basis:
            errors.append(("without_consent_basis",
                           "record the lawful basis for proceeding without consent"))
        if consent_to_referral == "given":
            errors.append(("proceeding_without_consent",
                           "consent to the referral was given; there is nothing to override"))
    elif consent_to_referral != "given" and route in ROUTES_NEEDING_CONSENT:
        hint = ("or proceed without consent, with the reason and basis"
                if brag in WITHOUT_CONSENT_BRAGS
                else "Blue and Green cannot proceed without consent (DOMAIN.md §5)")
        errors.append(("consent_to_referral",
                       f"consent to the referral is {consent_to_referral!r} and route "
                       f"{route!r} needs it: record that consent was given, {hint}"))
    return errors


def re_rating_errors(
    pack: PolicyPack, *, brag: str, route: str, consent_to_referral: str,
    proceeding_without_consent: bool,
) -> FieldErrors:
    """What is wrong with a decided case's new colour and (possibly new) route."""
    errors: FieldErrors = []
    allowed = pack.brag.of(brag).routes  # type: ignore[arg-type]
    if route not in allowed:
        errors.append(("route", f"the case's route {route!r} does not follow {brag.title()} "
                       f"in {pack.name}: give the new route ({', '.join(allowed)})"))
    if proceeding_without_consent and brag not in WITHOUT_CONSENT_BRAGS:
        errors.append(("brag", f"the case proceeds without consent, which only Amber or Red "
                       f"may do (DOMAIN.md §5): record consent (consent-review) before rating "
                       f"it {brag.title()}"))
    elif (not proceeding_without_consent and consent_to_referral != "given"
          and route in ROUTES_NEEDING_CONSENT):
        errors.append(("route", f"route {route!r} needs consent to the referral, which is "
                       f"{consent_to_referral!r}: record a decision to proceed without it "
                       f"(consent-review, Amber or Red only) first"))
    return errors


def enquiries_due(pack: PolicyPack, brag: str, start: datetime) -> datetime | None:
    """When MASH enquiries are due under ``brag`` (None if the colour has no enquiries)."""
    within = pack.brag.of(brag).enquiries_within  # type: ignore[arg-type]
    return pack.due(within, start) if within is not None else None


def re_rated_enquiries_due(
    pack: PolicyPack, *, previous_brag: str, new_brag: str, started_at: datetime,
    current_due: datetime, now: datetime,
) -> datetime:
    """The enquiries deadline after a re-rating while enquiries are under way.

    Up (e.g. Amber → Red): the new, shorter timescale runs from the re-rating, and never
    extends the current deadline. Down (Red → Amber): the new timescale runs from when
    enquiries started (the policy default; documented in policy/README.md).
    """
    up = BRAG_ORDER.index(new_brag) > BRAG_ORDER.index(previous_brag)
    due = enquiries_due(pack, new_brag, now if up else started_at)
    if due is None:
        return current_due
    return min(current_due, due) if up else due
