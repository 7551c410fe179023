"""Run the local infrastructure: ``python -m devinfra up|kafka|postgres|kafka-jars``.

``up`` starts a real Kafka broker and a real PostgreSQL server, prints machine-readable
``KEY=value`` lines (also written to DIR/infra.env), and stops both on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from devinfra.kafka import REPO_ROOT, KafkaBroker, ensure_kafka_jars, kafka_version
from devinfra.postgres import PostgresServer, find_pg_bin

DEFAULT_DIR = REPO_ROOT / ".cache" / "devinfra"
HEALTH_CHECK_INTERVAL_S = 2.0


def _emit(lines: list[str], env_file: Path) -> None:
    env_file.write_text("".join(f"{line}\n" for line in lines))
    for line in lines:
        sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def _log(message: str) -> None:
    sys.stderr.write(f"devinfra: {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _exclusive(workdir: Path) -> Iterator[None]:
    """Hold a lock on workdir so a second `up` on the same dir fails fast."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"devinfra: another devinfra already runs in {workdir}") from None
        yield


def _serve(
    workdir: Path, kafka_port: int | None, pg_port: int | None, *, kafka: bool, postgres: bool
) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C aborts a startup that is still waiting
            raise KeyboardInterrupt
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    exit_code = 0
    with _exclusive(workdir), contextlib.ExitStack() as stack:
        lines: list[str] = []
        broker: KafkaBroker | None = None
        server: PostgresServer | None = None
        if kafka:
            _log(f"starting Kafka {kafka_version()} in {workdir / 'kafka'}")
            broker = stack.enter_context(KafkaBroker(workdir / "kafka", kafka_port))
            _log(f"Kafka ready in {broker.startup_seconds:.1f}s, log: {broker.log_file}")
            # Services never create topics: declare them, as compose and Kubernetes do.
            from devinfra.topics import create_service_topics

            _log(f"created {len(create_service_topics(broker.bootstrap_servers))} topics")
            lines.append(f"KAFKA_BOOTSTRAP={broker.bootstrap_servers}")
        if postgres and not stop.is_set():
            _log(f"starting PostgreSQL from {find_pg_bin()}")
            server = stack.enter_context(PostgresServer(workdir, pg_port))
            _log(f"PostgreSQL ready in {server.startup_seconds:.1f}s, log: {server.log_file}")
            lines.append(f"POSTGRES_URL_TEMPLATE={server.url('{service}')}")
        if stop.is_set():
            _log("interrupted during startup; stopping")
            return 130
        _emit(lines, workdir / "infra.env")
        _log("running; Ctrl-C or SIGTERM stops everything")
        while not stop.wait(HEALTH_CHECK_INTERVAL_S):
            if broker is not None and not broker.is_running():
                _log(f"Kafka broker died; see {broker.log_file}")
                exit_code = 1
                break
            if server is not None and not server.is_running():
                _log(f"PostgreSQL died; see {server.log_file}")
                exit_code = 1
                break
        _log("stopping")
    _log("stopped")
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    parser = argparse.ArgumentParser(prog="python -m devinfra", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("up", "run Kafka and PostgreSQL until SIGINT/SIGTERM"),
        ("kafka", "run only Kafka until SIGINT/SIGTERM"),
        ("postgres", "run only PostgreSQL until SIGINT/SIGTERM"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DIR,
            help=f"work directory, its server state is wiped on start (default {DEFAULT_DIR})",
        )
        if name != "postgres":
            cmd.add_argument("--kafka-port", type=int, default=None, help="default: a free one")
        if name != "kafka":
            cmd.add_argument("--pg-port", type=int, default=None, help="default: a free one")
    jars = sub.add_parser("kafka-jars", help="fetch the Kafka broker jars into the cache")
    jars.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "kafka-jars":
        started = time.monotonic()
        libs = ensure_kafka_jars(args.cache_dir)
        _log(f"Kafka {kafka_version()} jars ready in {time.monotonic() - started:.1f}s")
        sys.stdout.write(f"KAFKA_LIBS={libs}\n")
        sys.stdout.flush()
        return 0
    return _serve(
        args.dir.resolve(),
        getattr(args, "kafka_port", None),
        getattr(args, "pg_port", None),
        kafka=args.command in ("up", "kafka"),
        postgres=args.command in ("up", "postgres"),
    )


if __name__ == "__main__":
    sys.exit(main())
