"""A real single-node Apache Kafka broker (KRaft) run from Maven Central jars.

There is no Docker here and Kafka is no Debian package, but the broker is published as
ordinary jars: ``kafka-pom.xml`` beside this file lists them, Maven copies them into a
cache directory, and ``java -cp 'libs/*' kafka.Kafka server.properties`` runs the broker,
which is all the stock ``kafka-server-start.sh`` does.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

POM_PATH = Path(__file__).resolve().with_name("kafka-pom.xml")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER_NAME = ".complete"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
MVN_TIMEOUT_S = 900.0
HEAP_OPTS = ("-Xms256m", "-Xmx768m")
# The JVM flags Kafka's own kafka-run-class.sh uses for the broker.
JVM_OPTS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
# `kafka-storage format` is a one-shot tool: a small heap and only the quick JIT tier start
# it about a second faster than the broker's flags would.
FORMAT_JVM_OPTS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

_T = TypeVar("_T")

# Runs beside every broker in its own session, holding the read end of a pipe from us. If
# this Python process dies without stop() (SIGKILL, SIGTERM without a handler, a CI timeout),
# the pipe closes and the watchdog takes the broker's process group down. stop() disarms it.
_WATCHDOG = """
import os, signal, sys, time
pgid = int(sys.argv[1])
if sys.stdin.buffer.read():
    sys.exit(0)
def send(sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True
if send(signal.SIGTERM):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and send(0):
        time.sleep(0.2)
    send(signal.SIGKILL)
"""


class KafkaError(RuntimeError):
    """The local Kafka broker could not be fetched, started or reached."""


def kafka_version() -> str:
    """Return the Kafka version pinned in kafka-pom.xml."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM_PATH.read_text())
    if match is None:
        raise KafkaError(f"no <kafka.version> property in {POM_PATH}")
    return match.group(1).strip()


def default_jars_dir() -> Path:
    """Return the default jar cache: <repo>/.cache/kafka/<version>/libs."""
    return REPO_ROOT / ".cache" / "kafka" / kafka_version() / "libs"


def _pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """Copy the broker's runtime jars from Maven into cache_dir once; return that dir."""
    libs = (cache_dir or default_jars_dir()).resolve()
    marker = libs / MARKER_NAME
    digest = _pom_digest()
    if marker.is_file() and marker.read_text().strip() == digest:
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    lock_path = libs.parent / f".{libs.name}.lock"
    with lock_path.open("w") as lock:
        # Another process (a parallel test run, `make run-kafka`) may be fetching too.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text().strip() == digest:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaError("`mvn` not found: install Maven (Debian package `maven`)")
        # Start clean so jars of an older pom never mix into the classpath.
        shutil.rmtree(libs, ignore_errors=True)
        libs.mkdir(parents=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM_PATH),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ]
        try:
            result = subprocess.run(
                cmd,
                cwd=POM_PATH.parent,
                capture_output=True,
                text=True,
                timeout=MVN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaError(f"Maven did not finish in {MVN_TIMEOUT_S:.0f}s: {cmd}") from exc
        if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            raise KafkaError(
                f"fetching Kafka jars failed (exit {result.returncode}): {' '.join(cmd)}\n"
                f"{_tail(result.stdout + result.stderr)}"
            )
        marker.write_text(digest + "\n")
    return libs


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on host that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    # Hold every socket open until all are bound so the ports are distinct.
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _log_report(path: Path) -> str:
    """Return the first ERROR lines and the tail of a broker log, for exception messages."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    errors = [line for line in lines if " ERROR " in line or " FATAL " in line][:5]
    first = "\n".join(errors) or "(none)"
    tail = "\n".join(lines[-40:])
    return f"first ERROR lines of {path}:\n{first}\ntail of {path}:\n{tail}"


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaError("`java` not found: install Java 17+ (openjdk-17-jre-headless)")
    return java


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run coro to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _list_topics_async(bootstrap: str, timeout_s: float) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            topics = await admin.list_topics()
    finally:
        await admin.close()
    return [str(t) for t in topics]


def list_topics(bootstrap: str, timeout_s: float = 5.0) -> list[str]:
    """Return the topic names the broker reports in a metadata request."""
    return _run_sync(_list_topics_async(bootstrap, timeout_s))


async def create_topics_async(
    bootstrap: str, names: Iterable[str], partitions: int = 3, timeout_s: float = 30.0
) -> None:
    """Create the topics (replication factor 1) unless they already exist."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    wanted = list(dict.fromkeys(names))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            response = await admin.create_topics(
                [NewTopic(name, partitions, 1) for name in wanted],
                timeout_ms=int(timeout_s * 1000),
            )
    finally:
        await admin.close()
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        if code not in (0, TopicAlreadyExistsError.errno):
            raise KafkaError(f"creating topic {name!r} failed: {for_code(code).__name__}")


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 3) -> None:
    """Create the topics (replication factor 1) unless they already exist; blocking."""
    _run_sync(create_topics_async(bootstrap, names, partitions))


_LOG4J2_PROPERTIES = """\
# Broker output goes to stdout, which KafkaBroker redirects into kafka.log in the workdir.
status = warn
# The console appender flushes every line anyway; without this, a log call during JVM exit
# prints a spurious "Unable to register Log4j shutdown hook" warning.
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# Per-request and partition state-change chatter: noise for tests and benchmarks.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
# Every config object dumps all its values at INFO (~2000 lines per start); server.properties
# beside the log says the same. WARN still shows unknown or unused settings.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


class KafkaBroker:
    """One local Kafka process acting as both KRaft controller and broker on loopback."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        jars_dir: Path | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.controller_port = controller_port
        self.jars_dir = jars_dir
        self.startup_timeout_s = startup_timeout_s
        self.log_dir = self.workdir / "data"  # Kafka's log.dirs: partition and metadata logs
        self.log_file = self.workdir / "kafka.log"  # the broker's own stdout/stderr
        self.config_file = self.workdir / "server.properties"
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """Return "127.0.0.1:PORT" for clients' bootstrap_servers."""
        if self.port is None:
            raise KafkaError("the broker has no port yet: call start() first")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Return the broker JVM's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """Return whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _server_properties(self) -> str:
        return f"""\
# Written by tools/devinfra/kafka.py: one local node for tests, `make run-kafka`, benchmarks.
# A single process is both the KRaft controller (no ZooKeeper in Kafka 4) and the broker.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}
# What clients are told to connect to after bootstrapping: loopback only.
advertised.listeners=PLAINTEXT://{self.host}:{self.port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
# Dynamic quorum (KIP-853) of just this node; pairs with `kafka-storage format --standalone`,
# which refuses the static controller.quorum.voters.
controller.quorum.bootstrap.servers={self.host}:{self.controller_port}
log.dirs={self.log_dir}
# As in production: topics are created explicitly, so a forgotten topic fails a test.
num.partitions=3
auto.create.topics.enable=false
# One node: every replication factor and min ISR must be 1, or creates fail / writes block.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Internal topics get one partition (defaults 50/50/50): creating them is the slow part of
# the first consumer-group join or transaction on a fresh broker.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
# Consumers join a group at once instead of the 3 s default wait for more members.
group.initial.rebalance.delay.ms=0
"""

    def start(self) -> KafkaBroker:
        """Fetch jars if needed, format storage, launch the JVM and wait until it serves."""
        if self.is_running():
            return self
        started = time.monotonic()
        jars = ensure_kafka_jars(self.jars_dir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.port is None or self.controller_port is None:
            broker_port, controller_port = _free_ports(2)
            self.port = self.port or broker_port
            self.controller_port = self.controller_port or (
                controller_port if controller_port != self.port else free_port()
            )
        if self.log_dir.exists():
            # A fresh cluster per start: format refuses a directory of another cluster id.
            shutil.rmtree(self.log_dir)
        self.config_file.write_text(self._server_properties())
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(_LOG4J2_PROPERTIES)
        base = [
            _java(),
            *HEAP_OPTS,
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{jars}/*",
        ]
        self._format([base[0], *FORMAT_JVM_OPTS, *base[1 + len(HEAP_OPTS) + len(JVM_OPTS) :]])
        with self.log_file.open("wb") as out:
            self._proc = subprocess.Popen(
                [*base, "kafka.Kafka", str(self.config_file)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Own process group: terminal Ctrl-C does not hit it, stop() kills the group.
                start_new_session=True,
            )
        _LIVE.add(self)
        try:
            self._watchdog = arm_watchdog(_WATCHDOG, str(self._proc.pid))
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _format(self, base: list[str]) -> None:
        # Kafka's cluster id: 16 random bytes in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = [
            *base,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            # One argument, not two: an id may start with "-" (base64url, about 1 in 64),
            # which the tool's parser would otherwise read as an option.
            f"--cluster-id={cluster_id}",
            "--config",
            str(self.config_file),
        ]
        try:
            result = subprocess.run(
                cmd, cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaError("formatting Kafka storage took over 120 s") from exc
        if result.returncode != 0:
            raise KafkaError(
                f"formatting Kafka storage failed (exit {result.returncode}):\n"
                f"{_tail(result.stdout + result.stderr)}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise KafkaError(
                    f"Kafka broker exited with code {code} during startup; "
                    f"{_log_report(self.log_file)}"
                )
            try:
                with socket.create_connection((self.host, self._require_port()), timeout=1.0):
                    pass
                list_topics(self.bootstrap_servers, timeout_s=5.0)
                return
            except Exception as exc:  # not listening yet, or not serving metadata yet
                last_error = exc
            time.sleep(0.2)
        raise KafkaError(
            f"Kafka broker on {self.bootstrap_servers} not ready after "
            f"{self.startup_timeout_s:.0f}s (last error: {last_error!r}); "
            f"{_log_report(self.log_file)}"
        )

    def _require_port(self) -> int:
        if self.port is None:
            raise KafkaError("the broker has no port yet")
        return self.port

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Shut the broker down (SIGTERM, then SIGKILL after timeout_s) with its group."""
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        disarm_watchdog(self._watchdog)
        self._watchdog = None
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"KafkaBroker(bootstrap={self.host}:{self.port}, workdir={self.workdir})"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def arm_watchdog(script: str, *args: str) -> subprocess.Popen[bytes]:
    """Start `python -c script *args` that acts once our end of its stdin pipe closes."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives us, and Ctrl-C on the terminal does not reach it
    )


def disarm_watchdog(watchdog: subprocess.Popen[bytes] | None) -> None:
    """Tell a watchdog to exit without acting, and reap it."""
    if watchdog is None or watchdog.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, OSError):
        watchdog.stdin.write(b"disarm")
        watchdog.stdin.close()
    try:
        watchdog.wait(timeout=10)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


_LIVE: set[KafkaBroker] = set()


@atexit.register
def _stop_leftovers() -> None:
    for broker in list(_LIVE):
        broker.stop(timeout_s=10)


def start_kafka(workdir: Path, port: int | None = None) -> KafkaBroker:
    """Start a broker in workdir (free loopback ports unless port is given) and wait for it."""
    return KafkaBroker(workdir, port).start()
