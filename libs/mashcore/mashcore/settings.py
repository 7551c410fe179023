"""Settings from the environment (prefix ``MASH_``); defaults run everything embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Stable, documented default ports: the same in every mode.
SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "triage": 8002,
    "mash-enquiries": 8003,
    "strategy": 8004,
    "notifications": 8005,
    "sla-timekeeper": 8006,
}


class Settings(BaseSettings):
    """Process settings. One process runs one service, or all of them when embedded."""

    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    bus: Literal["embedded", "kafka"] = "embedded"
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Connection security (mashcore/kafka_security.py): PLAINTEXT in development; in
    # Kubernetes SSL (mutual TLS with the service's Strimzi KafkaUser certificate).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = (
        "PLAINTEXT")
    kafka_ssl_cafile: Path | None = None  # the brokers' CA (Strimzi: the cluster CA)
    kafka_ssl_certfile: Path | None = None  # this service's client certificate (mTLS)
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    topic_namespace: str = ""
    # How often each process asks Kafka for its metadata (for /readyz): no answer for three
    # intervals means "broker unreachable".
    kafka_health_interval: float = 5.0
    data_dir: Path = Path("data")
    # One service per process: its own database URL. Several services: a template with
    # "{service}" (e.g. postgresql+psycopg://mash@127.0.0.1:5432/{service}). Neither: SQLite
    # files under data_dir.
    database_url: str | None = None
    database_url_template: str | None = None
    jwt_dev_key: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str = "mash-dev"
    jwt_audience: str = "mash"
    log_level: str = "INFO"
    log_json: bool = True
    host: str = "127.0.0.1"  # containers set MASH_HOST=0.0.0.0
    port: int | None = None  # MASH_PORT: `mash serve`'s port when --port is not given
    partnership_default: str = "default"
    # Per partner system account, per replica (see mashcore/ratelimit.py).
    rate_limit_burst: int = 60
    rate_limit_per_second: float = 5.0
    # Sent outbox rows, inbox rows and idempotency keys are deleted after this many days
    # (mashcore/retention.py): longer than any topic is kept to replay from (7 days).
    retention_days: int = 30
    # Intake: contacts about the same child within this many days are linked as repeats.
    repeat_window_days: int = 30
    # The partnerships' policy packs (policy/partnerships/*.yaml by default; policy/README.md).
    policy_dir: Path | None = None
    # Consumers: an event waiting for its prerequisite is parked (mashcore/parking.py), tried
    # again every park_retry_seconds and dead-lettered after park_max_hours.
    park_max_hours: float = 24.0
    park_retry_seconds: float = 30.0
    # Kafka consumers on PostgreSQL apply up to this many polled events of a partition in one
    # transaction (mashcore/consumer_batch.py); 1 = one transaction per event. 500 (issue
    # 17): a backlog's per-batch costs (look-ups, locks, commit) shared by more events.
    consumer_batch: int = Field(default=500, ge=1)
    # Every request body is refused with 413 past this many bytes (mashcore/http_guards.py).
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)

    def database_url_for(self, service: str) -> str:
        """The database URL for one service."""
        db_name = service.replace("-", "_")
        if self.database_url:
            return self.database_url
        if self.database_url_template:
            return self.database_url_template.format(service=db_name)
        return f"sqlite:///{self.data_dir / (db_name + '.sqlite')}"
