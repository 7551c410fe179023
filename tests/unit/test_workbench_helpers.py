"""The workbench's pure helpers: the signed session cookie, CSRF, time left, the queue."""

from __future__ import annotations

from datetime import UTC, datetime

from workbench import session, views

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_signed_value_reads_back_and_a_tampered_or_foreign_one_does_not() -> None:
    signed = session.sign("s3cret", "a.jwt.token")
    assert session.unsign("s3cret", signed) == "a.jwt.token"
    assert session.unsign("other", signed) is None
    payload, mac = signed.rsplit(".", 1)
    forged = session.sign("s3cret", "another.token").rsplit(".", 1)[0]
    assert session.unsign("s3cret", f"{forged}.{mac}") is None
    assert session.unsign("s3cret", payload) is None
    assert session.unsign("s3cret", None) is None


def test_csrf_needs_both_copies_equal() -> None:
    token = session.new_csrf_token()
    assert session.csrf_ok(token, token)
    assert not session.csrf_ok(token, token + "x")
    assert not session.csrf_ok(None, token)
    assert not session.csrf_ok(token, "")
    assert session.new_csrf_token() != token


def test_time_left_and_late() -> None:
    assert views.time_left("2026-11-24T13:30:00+00:00", NOW) == ("4 hours 30 minutes left",
                                                                 False)
    assert views.time_left("2026-11-26T10:00:00+00:00", NOW) == ("2 days 1 hour left", False)
    assert views.time_left("2026-11-24T08:59:00+00:00", NOW) == ("Late by 1 minute", True)


def _entry(request_id: str, deadline: str, status: str = "pending",
           overdue: bool = False) -> dict[str, object]:
    return {"request_id": request_id, "case_reference": "MASH-2026-AAAAAAAA", "brag": "red",
            "deadline": deadline, "status": status, "overdue": overdue, "chased": False}


def test_the_queue_puts_open_requests_first_earliest_deadline_first_late_marked() -> None:
    rows = views.queue_rows([
        _entry("done", "2026-11-24T08:00:00+00:00", status="answered"),
        _entry("later", "2026-11-25T09:00:00+00:00"),
        _entry("late", "2026-11-24T08:00:00+00:00", overdue=True),
        _entry("withdrawn", "2026-11-24T07:00:00+00:00", status="withdrawn"),
    ], NOW)
    assert [row["request_id"] for row in rows] == ["late", "later", "withdrawn", "done"]
    assert [row["late"] for row in rows] == [True, False, False, False]
    assert rows[0]["brag_tag"] == "govuk-tag--red"
    assert rows[2]["time_left"] == ""  # a withdrawn request has no deadline to meet


def test_a_problem_s_errors_are_put_next_to_their_fields() -> None:
    problem = {"errors": [{"field": "summary", "message": "Field required"},
                          {"field": "risk_indicators.0", "message": "Too long"},
                          {"field": "summary", "message": "second message"},
                          {"field": "attachments", "message": "Not on this form"}]}
    assert views.field_errors(problem, ("known", "summary", "risk_indicators")) == {
        "summary": "Field required", "risk_indicators": "Too long", "": "Not on this form"}
    assert views.field_errors({"detail": "Answer refused"}, ("summary",)) == {
        "": "Answer refused"}


def test_lines_of_a_textarea() -> None:
    assert views.lines(" a \n\n b\r\n") == ["a", "b"]


def test_a_triage_queue_line_shows_the_time_left_to_decide() -> None:
    [row, undated] = views.case_rows([
        {"case_reference": "MASH-2026-AAAAAAAA", "brag": None, "overdue": False,
         "threshold_decision_due_at": "2026-11-24T08:00:00+00:00"},
        {"case_reference": "MASH-2026-BBBBBBBB", "brag": "amber", "overdue": False,
         "threshold_decision_due_at": None}], NOW)
    assert (row["time_left"], row["late"]) == ("Late by 1 hour", True)
    assert (undated["time_left"], undated["late"], undated["brag_tag"]) == (
        "", False, "govuk-tag--orange")
