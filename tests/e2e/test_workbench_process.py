"""`mash workbench`: the pages alone in their own process (as a container runs them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from devinfra.postgres import free_port
from tests.support import eventually_sync


def test_mash_workbench_serves_the_sign_in_page_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "workbench.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mash_app", "workbench", "--port", str(port)],
            env={**os.environ, "MASH_DATA_DIR": str(tmp_path)}, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        def signed_out_page() -> httpx.Response | None:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
            except httpx.HTTPError:
                return None

        page = eventually_sync(signed_out_page, timeout=60, what="the workbench serving")
        assert page.status_code == 200 and "mash-token" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    finally:
        process.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM (exit status -15).
        assert process.wait(timeout=30) in (0, -15), log.read_text()
