"""The local PostgreSQL server of tools/devinfra really starts, serves and stops."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from devinfra.postgres import PostgresServer, start_postgres

pytestmark = pytest.mark.integration


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def test_own_server_lifecycle(tmp_path: Path) -> None:
    server = start_postgres(tmp_path)
    try:
        assert server.is_running()
        server.create_database("lifecycle")
        server.create_database("lifecycle")  # idempotent
        with psycopg.connect(server.url("lifecycle", driver="postgresql")) as conn:
            row = conn.execute("select 1, current_database(), current_user").fetchone()
        assert row == (1, "lifecycle", "mash")
        assert conn.closed
    finally:
        server.stop()
    assert not server.is_running()
    assert not _accepts(server.host, server.port)


def test_context_manager_stops(tmp_path: Path) -> None:
    with PostgresServer(tmp_path) as server:
        port = server.port
        assert _accepts(server.host, port)
    assert not _accepts(server.host, port)


def test_session_server_url_for_sqlalchemy(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("intake")
    url = postgres_server.url("intake")
    assert url == f"postgresql+psycopg://mash@127.0.0.1:{postgres_server.port}/intake"
    with psycopg.connect(postgres_server.url("intake", driver="postgresql")) as conn:
        conn.execute("create table t (id int primary key, body jsonb not null)")
        conn.execute("insert into t values (1, %s)", ('{"a": 1}',))
        assert conn.execute("select body->>'a' from t").fetchone() == ("1",)
