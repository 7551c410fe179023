"""``make run-kafka``: real Kafka and PostgreSQL, and every service as its own process.

Same default ports as ``make run``. The broker and database live in a temporary directory and
are thrown away on exit (``make run`` is the mode whose data survives restarts).
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

from devinfra.kafka import ensure_kafka_jars, start_kafka
from devinfra.postgres import start_postgres
from devinfra.processes import ServiceProcess
from devinfra.topics import create_service_topics
from mashcore.auth import DEFAULT_DEV_KEY
from mashcore.settings import SERVICE_PORTS


def main() -> None:
    """Start infrastructure and services; stop everything on Ctrl-C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    ensure_kafka_jars()
    work = Path(tempfile.mkdtemp(prefix="mash-run-kafka-"))
    with start_kafka(work / "kafka") as broker, start_postgres(work / "postgres") as pg:
        for service in SERVICE_PORTS:
            pg.create_database(service.replace("-", "_"))
        create_service_topics(broker.bootstrap_servers)  # as compose's kafka-topics job does
        env = {
            "MASH_BUS": "kafka",
            "MASH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
            "MASH_DATABASE_URL_TEMPLATE": pg.url("{service}"),
            "MASH_DATA_DIR": str(work / "data"),
            "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
        }
        print(f"Kafka      {broker.bootstrap_servers}", flush=True)
        print(f"PostgreSQL {pg.url('<service>')}", flush=True)
        processes = [ServiceProcess(name, port, env, work / "logs" / f"{name}.log")
                     for name, port in SERVICE_PORTS.items()]
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.wait_ready()
                print(f"{process.service:<15} {process.url}  (API docs: {process.url}/docs, "
                      f"log: {process.log_path})", flush=True)
            print("Ready. Ctrl-C stops everything.", flush=True)
            stop.wait()
        finally:
            for process in processes:
                process.stop()
    print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
