"""What each message says: plain English, GOV.UK style, a case reference and a link; never
a child's or family member's name, never the concern (DOMAIN.md §10)."""

from __future__ import annotations

from notifications.models import Notification

OUTCOMES = {
    "nfa": "no further action by children's social care",
    "information_and_advice": "information and advice",
    "early_help": "support from early help",
    "s17_assessment": "a child in need assessment",
    "strategy_discussion": "a strategy discussion",
    "local_social_work_unit": "passed to the local social work team",
    "allocated_worker": "passed to the allocated social worker",
    "mash_enquiries": "multi-agency enquiries",
}


def render(notification: Notification, link_base: str) -> tuple[str, str]:
    """The subject and body of ``notification``."""
    ref = notification.case_reference
    link = f"{link_base.rstrip('/')}/contacts?case_reference={ref}"
    if notification.kind == "referrer_acknowledgement":
        return (f"We have received your safeguarding contact: {ref}",
                f"We have received your contact about a child.\n\n"
                f"Reference: {ref}\n\n"
                "A manager will decide what happens next within 1 working day. We will tell "
                "you the outcome when our work on it is finished.\n\n"
                f"You can see its status at {link}\n\n"
                "Quote the reference if you contact us. Do not reply with personal details "
                "by email.\n")
    if notification.kind == "referrer_outcome":
        outcome = OUTCOMES.get(notification.detail or "", "a decision has been made")
        return (f"Outcome of your safeguarding contact: {ref}",
                f"Our work on your contact is finished.\n\n"
                f"Reference: {ref}\n"
                f"Outcome: {outcome}\n\n"
                f"You can see more at {link}\n")
    raise ValueError(f"no template for {notification.kind}")
