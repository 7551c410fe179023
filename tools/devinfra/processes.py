"""Services as separate OS processes (``mash serve <service>``), for e2e tests and run-kafka."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx


class ServiceProcess:
    """One service in its own process, with its log in a file."""

    def __init__(self, service: str, port: int, env: Mapping[str, str], log_path: Path) -> None:
        self.service = service
        self.port = port
        self.env = dict(env)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._process.pid if self._process else None

    def start(self) -> ServiceProcess:
        """Launch the process (its output is appended to the log file)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mash_app", "serve", self.service, "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 reaches only it
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> ServiceProcess:
        """Poll /readyz until 200; fail with the log's tail if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"{self.service} exited during start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.service} not ready after {timeout}s:\n{self.log_tail()}")

    @property
    def returncode(self) -> int | None:
        """Its exit status once it has exited (negative: killed by that signal)."""
        return self._process.poll() if self._process is not None else None

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, as a crash would be."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_hard()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the service's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServiceProcess:
        return self.start().wait_ready()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
