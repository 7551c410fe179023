"""The types of the events intake produces, defined once: producers and consumers import them.

Each is the ``type`` of a CloudEvent on ``mash.intake.contacts`` whose schema is in
``contracts/events/<type>.schema.json``.
"""

from __future__ import annotations

# Contacts
CONTACT_RECEIVED = "mash.intake.contact.received.v1"
REFERRAL_ACCEPTED = "mash.intake.referral.accepted.v1"
DASH_REQUESTED = "mash.intake.dash.requested.v1"
LINKED_REFERRAL_CREATED = "mash.intake.linked-referral.created.v1"
RECORD_LOCKED_DOWN = "mash.intake.record.locked-down.v1"
FORWARDED_TO_ALLOCATED_WORKER = "mash.intake.contact.forwarded-to-allocated-worker.v1"
RETURNED_FOR_CONSENT = "mash.intake.contact.returned-for-consent.v1"
CONTACT_TIME_CORRECTED = "mash.intake.contact.time-corrected.v1"
# Consultations, transfers in, checks
CONSULTATION_RECORDED = "mash.intake.consultation.recorded.v1"
TRANSFER_IN_RECEIVED = "mash.intake.transfer-in.received.v1"
CHECKS_ANSWERED = "mash.intake.checks.answered.v1"
