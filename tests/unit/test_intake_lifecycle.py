"""A contact's status moves only as intake.lifecycle's transition table allows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake import lifecycle
from intake.contacts.models import Contact


class FakeSession:  # for Lifecycle.move on a consultation or transfer-in row
    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.session = FakeSession()


def contact(status: str) -> Contact:
    return Contact(id="c-1", case_reference="MASH-2026-AAAAAAAA", kind="referral",
                   partnership="default", referrer_agency="education", referrer_subject="s",
                   status=status, received_at=datetime(2026, 11, 23, tzinfo=UTC),
                   submission="{}")


@pytest.mark.parametrize("status", list(lifecycle.TRANSITIONS))
def test_each_status_may_move_to_exactly_its_listed_targets(status: str) -> None:
    allowed = {target for target in lifecycle.TRANSITIONS
               if contact(status).may_become(target)}
    assert allowed == lifecycle.TRANSITIONS[status]


class Row:
    def __init__(self, status: str) -> None:
        self.status = status


def test_advice_on_a_consultation_is_recorded_once() -> None:
    uow = FakeUnitOfWork()
    consultation = Row(lifecycle.AWAITING_ADVICE)
    lifecycle.CONSULTATION.move(uow, consultation, lifecycle.ADVICE_RECORDED)  # type: ignore[arg-type]
    with pytest.raises(lifecycle.IllegalTransition, match="a consultation advice_recorded"):
        lifecycle.CONSULTATION.move(uow, consultation, lifecycle.ADVICE_RECORDED)  # type: ignore[arg-type]
    assert uow.session.added == [consultation]


def test_a_transfer_in_is_decided_once_and_a_dispute_only_by_a_decision() -> None:
    table = lifecycle.TRANSFER_IN
    assert table.may_move(Row(lifecycle.AWAITING_DECISION), lifecycle.DISPUTED)
    assert table.may_move(Row(lifecycle.AWAITING_DECISION), lifecycle.DECIDED)
    assert table.may_move(Row(lifecycle.DISPUTED), lifecycle.DECIDED)
    assert not table.may_move(Row(lifecycle.DISPUTED), lifecycle.DISPUTED)
    for target in (lifecycle.DECIDED, lifecycle.DISPUTED, lifecycle.AWAITING_DECISION):
        assert not table.may_move(Row(lifecycle.DECIDED), target)
