"""The transfer-in conference (DOMAIN.md §3, §7; [002 §8]): a family with a child protection
plan moving in permanently from another authority (intake's ``transfer-in.received`` with
``transfer_in_conference_required``) needs a conference here, due 15 working days after the
transfer form arrived. It is an ICPC of kind ``transfer_in`` for every child of the
transfer, scheduled, reported on and held like any other; no s47 started it, so no s47
discussion is named and the timekeeper's s47 ICPC clock is not involved.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from intake.events import TRANSFER_IN_RECEIVED as TRANSFER_IN
from mashcore.consumer import EventHandler
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.service import ServiceContext
from strategy.conferences import rules
from strategy.conferences.models import Conference
from strategy.models import StrategyCase


def handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Intake's transfer-in: a permanent transfer with a plan arranges the conference."""

    def transfer_in(event: Event, uow: UnitOfWork) -> None:
        data = event.data
        if data["arrangement"] != "permanent" or not data["transfer_in_conference_required"]:
            return
        uow.lock_case(event.subject)
        received = parse_time(str(data["received_at"]))
        if uow.session.get(StrategyCase, event.subject) is None:
            uow.session.add(StrategyCase(
                case_reference=event.subject, partnership=event.partnership,
                children=json.dumps(data["children"]), referrer_agency="local_authority",
                referrer_role="transferring authority", received_at=received))
        # One conference per transfer, whatever the redeliveries.
        conference_id = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                       f"mash:transfer-in:{data['transfer_id']}"))
        if uow.session.get(Conference, conference_id) is not None:
            return
        pack = ctx.policy.for_partnership(event.partnership)
        uow.session.add(Conference(
            id=conference_id, case_reference=event.subject, partnership=event.partnership,
            kind="icpc", conference_kind="transfer_in", status=rules.AWAITING_SCHEDULE,
            transfer_id=str(data["transfer_id"]),
            due_at=rules.icpc_due(pack.working_calendar(), received),
            child_numbers=json.dumps(list(range(1, len(data["children"]) + 1))),
            created_at=ctx.clock.now()))

    return {TRANSFER_IN: transfer_in}
