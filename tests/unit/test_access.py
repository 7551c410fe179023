"""mashcore.access: the caller's scope, and the predicates that carry it into SQL."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql

from mashcore.access import Scope, lock_down_visible, own_agency, own_partnership, scope_of
from mashcore.auth import Principal, Role

records = Table("record", MetaData(), Column("id", String), Column("partnership", String),
                Column("agency", String), Column("restricted", Boolean))
named = Table("named", MetaData(), Column("record_id", String), Column("user_id", String))


def sql(scope: Scope, *predicates: object) -> str:
    query = select(records.c.id).where(*predicates)  # type: ignore[arg-type]
    return str(query.compile(dialect=postgresql.dialect(),
                             compile_kwargs={"literal_binds": True}))


def test_the_scope_is_the_tokens_partnership_else_the_deployments_default() -> None:
    claimed = Principal(subject="u1", role=Role.REFERRER, agency="police", partnership="medway")
    unclaimed = Principal(subject="u2", role=Role.TEAM_MANAGER, agency="local_authority")
    assert scope_of(claimed, "coventry").partnership == "medway"
    assert scope_of(unclaimed, "coventry") == Scope(
        subject="u2", role=Role.TEAM_MANAGER, agency="local_authority", partnership="coventry")
    assert scope_of(unclaimed, "coventry").is_hub and not scope_of(claimed, "x").is_hub


def test_partnership_and_agency_go_into_the_where_clause() -> None:
    scope = Scope(subject="u1", role=Role.REFERRER, agency="police", partnership="medway")
    text = sql(scope, own_partnership(scope, records.c.partnership),
               own_agency(scope, records.c.agency))
    assert "record.partnership = 'medway'" in text
    assert "record.agency = 'police'" in text


def test_a_locked_down_record_is_for_its_named_users_and_a_staff_linked_one_for_managers(
) -> None:
    def visible_to(role: Role) -> str:
        scope = Scope(subject="u9", role=role, agency="local_authority", partnership="p")
        return sql(scope, lock_down_visible(
            scope, record_key=records.c.id, restricted=records.c.restricted,
            named_table=named, named_key=named.c.record_id, named_user=named.c.user_id))

    officer, manager = visible_to(Role.INFORMATION_OFFICER), visible_to(Role.TEAM_MANAGER)
    assert "named.user_id = 'u9'" in officer and "named.user_id = 'u9'" in manager
    assert "NOT record.restricted" in officer  # not named anywhere: only if not staff-linked
    assert "restricted" not in manager  # a manager sees staff-linked records until lock-down
