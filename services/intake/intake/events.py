"""The types of the events intake produces, defined once: producers and consumers import them.

Each is the ``type`` of a CloudEvent on ``mash.intake.contacts`` whose schema is in
``contracts/events/<type>.schema.json``.
"""

from __future__ import annotations

CONSULTATION_RECORDED = "mash.intake.consultation.recorded.v1"
TRANSFER_IN_RECEIVED = "mash.intake.transfer-in.received.v1"
