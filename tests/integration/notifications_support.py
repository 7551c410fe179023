"""Shared set-up of the notifications tests: a real SMTP server (aiosmtpd) on a free loopback
port that keeps what it accepts, with the sender pointed at it, and the services under test
on the real PostgreSQL server."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support import services_on_postgres


class Inbox:
    """An aiosmtpd handler keeping what it accepted; ``refuse`` makes it answer 451."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse = False
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Try again later"
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_inbox(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Inbox]:
    """A real SMTP server on a free loopback port for the test's duration, the sender's
    ``MASH_NOTIFY_SMTP_PORT`` set to it and each of ``env`` set too: what it accepts."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("MASH_NOTIFY_SMTP_PORT", str(port))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        yield inbox
    finally:
        controller.stop()


def system_fixture(services: list[str], now: datetime) -> Any:
    """A test module's ``system`` fixture: ``services`` in this process on the real
    PostgreSQL server with the clock at ``now`` (tests.support.services_on_postgres),
    started after the module's ``smtp`` fixture has set the sender's environment."""

    @pytest.fixture(name="system")
    async def system(postgres_server: Any, tmp_path: Path, smtp: Inbox
                     ) -> AsyncIterator[dict[str, Any]]:
        async with services_on_postgres(postgres_server, tmp_path, services, now) as running:
            yield running

    return system
