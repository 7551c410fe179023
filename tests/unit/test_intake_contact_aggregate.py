"""A contact is an aggregate: its status changes only through its methods, which check the
transition table (intake.lifecycle.CONTACT) and record the events the service layer publishes."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake import events, lifecycle
from intake.contacts.models import Contact
from mashcore.envelope import Event

AT = datetime(2026, 11, 23, 10, tzinfo=UTC)
INTAKE = Path(__file__).resolve().parents[2] / "services" / "intake" / "intake"


def contact(status: str = lifecycle.RECEIVED) -> Contact:
    return Contact(id="c-1", case_reference="MASH-2026-AAAAAAAA", kind="referral",
                   partnership="default", referrer_agency="education", referrer_subject="s",
                   status=status, received_at=AT, submission="{}")


def gate_decision() -> Event:
    return Event(type="mash.triage.consent-gate.applied.v1", source="triage",
                 subject="MASH-2026-AAAAAAAA", time=AT, recordedtime=AT, partnership="default",
                 data={})


def test_forwarding_moves_the_status_and_records_one_event_until_published() -> None:
    found = contact()
    found.note_open_case("OC-1", "open_case")
    assert (found.status, found.open_case_reference) == (lifecycle.OPEN_CASE_FOUND, "OC-1")
    assert found.pending_events() == []  # noting an open case announces nothing
    found.forward_to_allocated_worker({"contact_id": "c-1"}, source="intake", at=AT)
    assert found.status == lifecycle.FORWARDED
    [event] = found.pending_events()
    assert (event.type, event.subject, event.partnership, event.data) == (
        events.FORWARDED_TO_ALLOCATED_WORKER, "MASH-2026-AAAAAAAA", "default",
        {"contact_id": "c-1"})
    assert found.pull_events() == [event] and found.pending_events() == []


def test_a_return_for_consent_follows_the_gate_decision() -> None:
    returned = contact()
    cause = gate_decision()
    returned.return_for_consent(cause, {"guidance": "ask"}, source="intake", at=AT)
    [event] = returned.pull_events()
    assert returned.status == lifecycle.RETURNED
    assert (event.type, event.causationid, event.correlationid) == (
        events.RETURNED_FOR_CONSENT, cause.id, cause.correlationid)


@pytest.mark.parametrize("done", [lifecycle.FORWARDED, lifecycle.RETURNED])
def test_a_routed_contact_refuses_every_move_and_records_nothing(done: str) -> None:
    moves = [lambda c: c.note_open_case("OC-1", "open_case"),
             lambda c: c.forward_to_allocated_worker({}, source="intake", at=AT),
             lambda c: c.return_for_consent(gate_decision(), {}, source="intake", at=AT),
             lambda c: c.check_may_become(lifecycle.RECEIVED)]
    for move in moves:
        routed = contact(done)
        with pytest.raises(lifecycle.IllegalTransition, match=f"a contact {done} cannot"):
            move(routed)
        assert routed.status == done and routed.pending_events() == []
        assert routed.open_case_reference is None


def _status_assignments(path: Path) -> list[tuple[str, str]]:
    """(enclosing function or class, assigned object) of each ``x.status = ...`` in a file,
    and of each ``setattr(x, "status", ...)``."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                inner = f"{where}.{child.name}" if where else child.name
            targets: list[ast.expr] = []
            if isinstance(child, ast.Assign):
                targets = [t for target in child.targets
                           for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
            elif isinstance(child, ast.AugAssign | ast.AnnAssign):
                targets = [child.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    found.append((where, ast.unparse(target.value)))
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
                    and child.func.id == "setattr" and len(child.args) > 1
                    and isinstance(child.args[1], ast.Constant)
                    and child.args[1].value == "status"):
                found.append((where, ast.unparse(child.args[0])))
            visit(child, inner)

    visit(ast.parse(path.read_text(), str(path)), "")
    return found


# The only status assignments in intake's code: the Contact aggregate's, the generic move of
# a consultation or transfer-in row, and the open-case index's own closing of a case.
ALLOWED = {
    ("contacts/models.py", "Contact._become", "self"),
    ("lifecycle.py", "Lifecycle.move", "row"),
    ("open_cases/consumers.py", "event_handlers.plan_ended", "case"),
}


def test_no_code_outside_the_aggregate_assigns_a_status() -> None:
    seen = {(str(path.relative_to(INTAKE)), where, target)
            for path in sorted(INTAKE.rglob("*.py")) if "migrations" not in path.parts
            for where, target in _status_assignments(path)}
    assert seen == ALLOWED


def test_only_the_aggregate_uses_the_contact_transition_table() -> None:
    users = sorted(str(path.relative_to(INTAKE)) for path in INTAKE.rglob("*.py")
                   if "lifecycle.CONTACT" in path.read_text())
    assert users == ["contacts/models.py"]


def test_the_scan_sees_an_assignment_it_must_refuse(tmp_path: Path) -> None:
    rogue = tmp_path / "rogue.py"
    rogue.write_text("def f(contact):\n    contact.status = 'forwarded'\n"
                     "    setattr(contact, 'status', 'x')\n")
    assert _status_assignments(rogue) == [("f", "contact"), ("f", "contact")]
