"""``mash``: run one service (``mash serve intake``) or the whole system (``mash run``).

The services come from the deployable's composition root (mash_app.cli passes them)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import uvicorn
import uvloop

from mashcore import dlq
from mashcore.bus import Bus
from mashcore.embedded_bus import EmbeddedBus
from mashcore.kafka_bus import KafkaBus
from mashcore.kafka_security import client_options
from mashcore.logging import configure_logging, install_excepthooks
from mashcore.policy import PolicyBook, PolicyError
from mashcore.service import create_app, load_definitions
from mashcore.settings import SERVICE_PORTS, Settings
from mashcore.watch import watch


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us, so several can share a process."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    def capture_signals(self):  # type: ignore[no-untyped-def]  # uvicorn >= 0.29
        import contextlib

        return contextlib.nullcontext()


def make_bus(settings: Settings, client_id: str) -> Bus:
    """The bus selected by MASH_BUS."""
    if settings.bus == "kafka":
        return KafkaBus(settings.kafka_bootstrap, client_id=client_id,
                        client_options=client_options(settings),
                        health_interval=settings.kafka_health_interval)
    return EmbeddedBus(settings.data_dir / "bus.sqlite")


def server_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """How every app of ours is served: our logging (no access log), the lifespan required,
    and HTTP parsed by h11, not httptools: h11 refuses a request whose head outgrows 16 KiB,
    and uvicorn gives httptools no such bound (parsing was a few percent of intake's CPU
    either way, issue 17)."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                          lifespan="on", http="h11")


async def _serve_one(server: _Server) -> bool:
    """Run one server; False if it could not start (uvicorn logs why and raises SystemExit)."""
    try:
        await server.serve()
    except SystemExit:
        # Caught here: a SystemExit escaping a task skips asyncio's orderly shutdown and
        # leaves the process hanging instead of exiting.
        return False
    return True


async def serve(
    services: Sequence[str], settings: Settings, port_override: int | None, port_offset: int = 0,
    workbench: bool = False, *, registry: Mapping[str, str],
) -> bool:
    """Serve the services on their ports until SIGINT/SIGTERM, sharing one bus.

    If any service cannot start (its port is taken, say), all stop: half a system must not
    look like a running one. Returns whether every service started.
    """
    bus = make_bus(settings, client_id="+".join(services))
    await bus.start()
    servers: list[_Server] = []
    for definition in load_definitions(registry, services):
        app = create_app(definition, settings, bus=bus, manage_bus=False)
        port = port_override or SERVICE_PORTS[definition.name] + port_offset
        servers.append(_Server(server_config(app, settings.host, port)))
        print(f"{definition.name:<15} http://{settings.host}:{port}  "
              f"(API docs: http://{settings.host}:{port}/docs)", flush=True)
    if workbench:  # the hub's web pages, on the APIs above (services/workbench)
        from workbench.app import WORKBENCH_PORT, workbench_for

        port = WORKBENCH_PORT + port_offset
        servers.append(_Server(server_config(workbench_for(settings, port_offset),
                                             settings.host, port)))
        print(f"{'workbench':<15} http://{settings.host}:{port}  (sign in with a mash-token)",
              flush=True)

    # What the imports and the apps built (modules, mappers, schemas, policies: some 200,000
    # objects) lives as long as the process: moved out of the cyclic collector's reach, so
    # its collections stop walking it again and again (issue 17: under load, the services'
    # time in the collector about halved). Garbage made up to here is never collected: a
    # one-off, bounded by start-up.
    gc.freeze()
    loop = asyncio.get_running_loop()

    def shutdown() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)
    started = True
    try:
        pending = {asyncio.create_task(_serve_one(server)) for server in servers}
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if started and not all(task.result() for task in done):
                started = False
                shutdown()
    finally:
        await bus.stop()
    return started


def main(argv: Sequence[str] | None, *, services: Mapping[str, str]) -> int:
    """The ``mash`` command over ``services`` (name -> module defining ``SERVICE``)."""
    registry = services
    parser = argparse.ArgumentParser(prog="mash", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_one = sub.add_parser("serve", help="run one service in this process")
    serve_one.add_argument("service", choices=sorted(registry))
    serve_one.add_argument("--port", type=int, default=None)
    run_all = sub.add_parser("run", help="run several services (default: all) in this process")
    run_all.add_argument("services", nargs="*", help=f"any of {', '.join(registry)}")
    run_all.add_argument("--port-offset", type=int, default=0,
                         help="add this to every default port (to run two systems side by side)")
    bench = sub.add_parser("workbench", help="serve only the hub's web pages (the APIs' "
                           "addresses from MASH_WORKBENCH_*_URL)")
    bench.add_argument("--port", type=int, default=None)
    watcher = sub.add_parser("watch", help="print events on topics as they happen (no "
                             "personal data), e.g. mash watch mash.triage.cases.v1")
    watcher.add_argument("topics", nargs="+", help="topic names, e.g. mash.triage.cases.v1")
    dlq.add_commands(sub)
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "services", [])) - set(registry))
    if unknown:
        parser.error(f"unknown services: {', '.join(unknown)}")

    settings = Settings()
    if args.command == "watch":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(watch(settings, args.topics))
        return 0
    if args.command == "workbench":
        from workbench.app import serve_workbench

        return serve_workbench(settings, args.port or settings.port)
    if args.command in ("dlq", "parked"):
        return dlq.run(args, settings, services=list(registry))
    names = [args.service] if args.command == "serve" else (args.services or list(registry))
    configure_logging("+".join(names), level=settings.log_level, json=settings.log_json)
    install_excepthooks()  # uncaught exceptions too: class names and locations, no messages
    try:
        # Every pack is checked before anything starts: a hub never runs on half a policy.
        PolicyBook.load(settings.policy_dir)
    except PolicyError as exc:
        print(f"mash: {exc}", file=sys.stderr)
        return 2
    port = (args.port or settings.port) if args.command == "serve" else None
    offset = args.port_offset if args.command == "run" else 0
    with contextlib.suppress(KeyboardInterrupt):
        # `mash run` with no names: the whole system, the workbench included.
        with_workbench = args.command == "run" and not args.services
        # uvloop (libuv) runs the event loop: the same asyncio, in C (issue 17).
        if not uvloop.run(serve(names, settings, port, offset, with_workbench,
                                registry=registry)):
            print("mash: a service could not start (see the log above; is its port in use?)",
                  file=sys.stderr)
            return 1
    return 0

