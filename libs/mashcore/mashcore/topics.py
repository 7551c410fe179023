"""Topic names. Versioned, one per stream of a service's events; keys are case references."""

from __future__ import annotations

INTAKE_CONTACTS = "mash.intake.contacts.v1"
TRIAGE_CASES = "mash.triage.cases.v1"
ENQUIRIES_EPISODES = "mash.enquiries.episodes.v1"
SLA = "mash.sla.v1"

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic paired with a topic."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


class TopicNamer:
    """Maps logical topic names to physical ones, with an optional namespace prefix.

    The prefix lets several isolated systems (or test runs) share one broker.
    """

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace

    def __call__(self, topic: str) -> str:
        return f"{self.namespace}{topic}"
