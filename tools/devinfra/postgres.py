"""A real throwaway PostgreSQL server from Debian's packaged binaries (no Docker, no service).

``initdb`` makes a fresh cluster in a work directory and ``pg_ctl`` runs it on a free
loopback port. PostgreSQL refuses to run as root, so as root both run as Debian's
``postgres`` system user (created by the ``postgresql`` package).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import errors, sql

from devinfra.kafka import arm_watchdog, disarm_watchdog

PG_USER = "mash"
SYSTEM_USER = "postgres"
START_TIMEOUT_S = 60
# Stops the cluster if this Python process dies without stop(): see the watchdog in kafka.py.
_WATCHDOG = """
import shutil, subprocess, sys
if sys.stdin.buffer.read():
    sys.exit(0)
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
if sys.argv[1]:
    shutil.rmtree(sys.argv[1], ignore_errors=True)
"""
# Unix socket paths are limited to 107 bytes; ".s.PGSQL.NNNNN" takes 15 of them.
_MAX_SOCKET_DIR_LEN = 90


class PostgresError(RuntimeError):
    """The local PostgreSQL server could not be set up, started or reached."""


def find_pg_bin() -> Path:
    """Return the bin dir of the newest installed PostgreSQL (DEVINFRA_PG_BIN overrides)."""
    override = os.environ.get("DEVINFRA_PG_BIN")
    if override:
        return Path(override)
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bindir.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version) and (bindir / "initdb").is_file():
            candidates.append((tuple(int(p) for p in version.split(".")), bindir))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise PostgresError(
        "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH: "
        "install Debian's `postgresql` package"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on host that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail_file(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class PostgresServer:
    """One throwaway PostgreSQL cluster listening on 127.0.0.1 with trust auth."""

    host = "127.0.0.1"
    user = PG_USER

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port or 0
        self.bindir = find_pg_bin()
        self._as_root = os.geteuid() == 0
        # Set by start(): where the cluster lives (the workdir, or a private temp dir when
        # the postgres user cannot reach the workdir, e.g. under pytest's 0700 base dir).
        self.runtime_dir = self.workdir / "postgres"
        self._own_runtime_dir = False
        self.startup_seconds: float | None = None
        self._running = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """Return the cluster's data directory (PGDATA)."""
        return self.runtime_dir / "data"

    @property
    def pid(self) -> int | None:
        """Return the postmaster's process id while the cluster runs (from postmaster.pid)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    @property
    def socket_dir(self) -> Path:
        """Return the directory holding the server's unix socket."""
        return self.runtime_dir / "sock"

    @property
    def log_file(self) -> Path:
        """Return the server log file."""
        return self.runtime_dir / "postgres.log"

    def url(self, dbname: str, driver: str = "postgresql+psycopg") -> str:
        """Return a SQLAlchemy-style URL for dbname (driver "postgresql" gives a libpq URI)."""
        return f"{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """Return a libpq connection string for dbname."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def _cmd(self, args: Sequence[str]) -> list[str]:
        if self._as_root:
            return ["runuser", "-u", SYSTEM_USER, "--", *args]
        return list(args)

    def _run(self, args: Sequence[str], timeout: float = 120) -> None:
        cmd = self._cmd(args)
        try:
            result = subprocess.run(
                cmd,
                cwd=self.runtime_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from exc
        if result.returncode != 0:
            raise PostgresError(
                f"{' '.join(cmd)} failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\nserver log:\n{_tail_file(self.log_file)}"
            )

    def _prepare_runtime_dir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir = self.workdir / "postgres"
        self._own_runtime_dir = False
        too_long = len(str(self.runtime_dir / "sock")) > _MAX_SOCKET_DIR_LEN
        if too_long or (self._as_root and not self._system_user_can_enter(self.workdir)):
            # Fall back to a short private directory; stop() removes it.
            self.runtime_dir = Path(tempfile.mkdtemp(prefix="mash-pg-"))
            self._own_runtime_dir = True
        elif self.runtime_dir.exists():
            shutil.rmtree(self.runtime_dir)  # a fresh cluster per start
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir()
        if self._as_root:
            pw = pwd.getpwnam(SYSTEM_USER)
            for path in (self.runtime_dir, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self.runtime_dir.chmod(0o700)

    def _system_user_can_enter(self, path: Path) -> bool:
        """Whether the postgres user can traverse every directory down to path."""
        result = subprocess.run(
            ["runuser", "-u", SYSTEM_USER, "--", "test", "-x", str(path)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> PostgresServer:
        """Create a fresh cluster, start it on a free loopback port and wait until it serves."""
        if self._running:
            return self
        started = time.monotonic()
        if self._as_root:
            try:
                pwd.getpwnam(SYSTEM_USER)
            except KeyError as exc:
                raise PostgresError(
                    f"running as root needs the `{SYSTEM_USER}` system user "
                    "(Debian's postgresql package creates it)"
                ) from exc
        self._prepare_runtime_dir()
        if not self.port:
            self.port = free_port(self.host)
        # From here on stop() cleans up whatever exists: a postmaster, a private dir.
        self._running = True
        _LIVE.add(self)
        try:
            self._initdb()
            self._watchdog = arm_watchdog(
                _WATCHDOG,
                str(self.runtime_dir) if self._own_runtime_dir else "",
                *self._cmd(self._pg_ctl_stop_args("immediate")),
            )
            self._pg_ctl_start()
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop(mode="immediate")
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _pg_ctl_start(self) -> None:
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_S),
                "start",
            ],
            timeout=START_TIMEOUT_S + 30,
        )
        self._wait_connectable(deadline=time.monotonic() + START_TIMEOUT_S)

    def pause(self, mode: str = "fast") -> None:
        """Stop the postmaster but keep the cluster (an outage); `resume` starts it again.

        ``fast`` rolls back open transactions and disconnects every client, as a database
        failover or restart does.
        """
        if not self._running:
            raise PostgresError("pause() needs a started server")
        self._pg_ctl_stop(mode)

    def resume(self) -> None:
        """Start the paused cluster again on the same port, with its data."""
        if not self._running:
            raise PostgresError("resume() needs a started (then paused) server")
        self._pg_ctl_start()

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                self.user,
                "--auth",
                "trust",  # loopback-only throwaway server: no passwords in tests
                "--encoding",
                "UTF8",
                "--locale",
                "C",  # byte-order collation: same everywhere, no OS locale needed
                "--no-sync",  # skip fsyncing the new cluster; it is thrown away anyway
                "--no-instructions",
            ]
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"""
# Added by tools/devinfra/postgres.py: a throwaway server for tests and benchmarks.
listen_addresses = '{self.host}'
port = {self.port}
unix_socket_directories = '{self.socket_dir}'
# Durability is pointless for throwaway data and costs most of the write latency:
# no fsync, no waiting for WAL flush at commit, no full-page images after checkpoints.
# A crash (of the machine, not of postgres) can corrupt this cluster; never use in prod.
fsync = off
synchronous_commit = off
full_page_writes = off
# Five services plus tests each hold connection pools.
max_connections = 200
"""
            )

    def _wait_connectable(self, deadline: float) -> None:
        # pg_ctl --wait already waited for "ready" in postmaster.pid; one real login proves
        # the TCP listener and the superuser name.
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=5) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
            time.sleep(0.1)
        raise PostgresError(
            f"PostgreSQL on {self.host}:{self.port} not reachable: {last}\n"
            f"server log:\n{_tail_file(self.log_file)}"
        )

    def create_database(self, name: str) -> None:
        """Create database name owned by the superuser, unless it already exists."""
        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (name,)
            ).fetchone()
            if exists:
                return
            with contextlib.suppress(errors.DuplicateDatabase):
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))

    def _pg_ctl_stop_args(self, mode: str) -> list[str]:
        return [
            str(self.bindir / "pg_ctl"),
            "--pgdata",
            str(self.data_dir),
            "--mode",
            mode,
            "--wait",
            "--timeout",
            "30",
            "stop",
        ]

    def _pg_ctl_stop(self, mode: str) -> None:
        self._run(self._pg_ctl_stop_args(mode), timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (pg_ctl stop -m mode; immediate if that fails) and clean up."""
        if not self._running:
            return
        self._running = False
        _LIVE.discard(self)
        disarm_watchdog(self._watchdog)
        self._watchdog = None
        try:
            if (self.data_dir / "postmaster.pid").exists():
                try:
                    self._pg_ctl_stop(mode)
                except PostgresError:
                    if mode == "immediate":
                        raise
                    self._pg_ctl_stop("immediate")
        finally:
            if self._own_runtime_dir:
                # Keep the server log next to the caller's files, drop the cluster.
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log_file, self.workdir / "postgres.log")
                shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def is_running(self) -> bool:
        """Return whether the postmaster answers `pg_ctl status`."""
        if not self._running:
            return False
        cmd = self._cmd([str(self.bindir / "pg_ctl"), "--pgdata", str(self.data_dir), "status"])
        result = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
        return result.returncode == 0

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PostgresServer({self.host}:{self.port}, data={self.data_dir})"


_LIVE: set[PostgresServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop(mode="immediate")


def start_postgres(workdir: Path, port: int | None = None) -> PostgresServer:
    """Start a fresh PostgreSQL cluster in workdir on a free port unless port is given."""
    return PostgresServer(workdir, port).start()
