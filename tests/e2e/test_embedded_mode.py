"""`mash run`: the whole system in one process, embedded bus, SQLite, surviving a restart."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from mashcore.settings import SERVICE_PORTS
from tests.support import auth, eventually_sync, synthetic_referral
from workbench.app import WORKBENCH_PORT

REFERRER = auth("referrer", "education", subject="school-mis")
IO = auth("information_officer", "local-authority", subject="io-embedded")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_offset() -> int:
    for _ in range(100):
        # Below Linux's ephemeral range (32768+), where client connections take ports at will.
        offset = random.randrange(10000, 24000, 10)
        if all(port_is_free(p + offset) for p in [*SERVICE_PORTS.values(), WORKBENCH_PORT]):
            return offset
    raise RuntimeError("no free port range")


class AllInOne:
    def __init__(self, data_dir: Path, offset: int, log: Path) -> None:
        self.data_dir, self.offset, self.log = data_dir, offset, log
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{SERVICE_PORTS[service] + self.offset}"

    def start(self) -> None:
        env = {**os.environ, "MASH_DATA_DIR": str(self.data_dir), "MASH_BUS": "embedded"}
        env.pop("MASH_DATABASE_URL_TEMPLATE", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mash_app", "run", "--port-offset", str(self.offset)],
                env=env, stdout=log, stderr=subprocess.STDOUT)

        def all_healthy() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                # The workbench (the hub's web pages) comes up with them.
                urls = [self.url(s) for s in SERVICE_PORTS]
                urls.append(f"http://127.0.0.1:{WORKBENCH_PORT + self.offset}")
                return all(httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                           for url in urls)
            except httpx.HTTPError:
                return False

        try:
            eventually_sync(all_healthy, timeout=60, what="every service's /healthz")
        except AssertionError:
            self.process.kill()
            raise

    def interrupt(self) -> int:
        """Ctrl-C, and the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


def cases(system: AllInOne) -> list[str]:
    response = httpx.get(f"{system.url('triage')}/v1/cases", headers=IO, timeout=10)
    return [c["contact_id"] for c in response.json()]


def test_the_whole_system_runs_embedded_and_keeps_its_data_across_a_restart(
    tmp_path: Path,
) -> None:
    system = AllInOne(tmp_path / "data", free_offset(), tmp_path / "mash.log")
    system.start()
    try:
        first = httpx.post(f"{system.url('intake')}/v1/contacts", json=synthetic_referral(1),
                           headers=REFERRER, timeout=10).json()
        eventually_sync(lambda: first["contact_id"] in cases(system), timeout=20,
                        what="the referral in triage")
        # A request head too large to arrive in one read is refused by the HTTP parser once
        # 16 KiB of it are buffered (h11's bound: a connection's memory stays bounded);
        # nothing is recorded, and the service goes on.
        try:
            padded = httpx.post(f"{system.url('intake')}/v1/contacts",
                                json=synthetic_referral(3), timeout=10,
                                headers={**REFERRER, "X-Padding": "a" * 4_000_000})
            assert padded.status_code == 400, padded.text
        except httpx.TransportError:
            pass  # closed while the client was still sending its head: refused too
        assert len(cases(system)) == 1
    finally:
        status = system.interrupt()
    assert status == 0, system.log.read_text()[-3000:]
    assert "service stopped" in system.log.read_text()

    system.start()
    try:
        assert first["contact_id"] in cases(system)
        second = httpx.post(f"{system.url('intake')}/v1/contacts", json=synthetic_referral(2),
                            headers=REFERRER, timeout=10).json()
        eventually_sync(lambda: second["contact_id"] in cases(system), timeout=20,
                        what="a new referral after the restart")
    finally:
        assert system.interrupt() == 0


def test_the_whole_system_refuses_to_half_start_when_a_port_is_taken(tmp_path: Path) -> None:
    offset = free_offset()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", SERVICE_PORTS["triage"] + offset))
        taken.listen()
        env = {**os.environ, "MASH_DATA_DIR": str(tmp_path / "data"), "MASH_BUS": "embedded"}
        result = subprocess.run(
            [sys.executable, "-m", "mash_app", "run", "--port-offset", str(offset)],
            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "could not start" in result.stderr


def test_a_malformed_policy_pack_stops_start_up_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    packs = tmp_path / "policy"
    packs.mkdir()
    default = (Path(__file__).resolve().parents[2] / "policy" / "partnerships" / "default.yaml")
    text = default.read_text(encoding="utf-8")
    lines = text.splitlines()
    # Break the first indicator's level: a typo a policy officer could make.
    line_no = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("level:"))
    lines[line_no - 1] = lines[line_no - 1].replace("level:", "level: L9 #")
    (packs / "default.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "MASH_DATA_DIR": str(tmp_path / "data"), "MASH_BUS": "embedded",
           "MASH_POLICY_DIR": str(packs)}
    result = subprocess.run(
        [sys.executable, "-m", "mash_app", "run", "--port-offset", str(free_offset())],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert (f"{packs / 'default.yaml'}:{line_no}: indicators[0].level: unknown level 'L9'"
            in result.stderr), result.stderr
    assert not (tmp_path / "data").exists(), "nothing may start on an invalid policy"
