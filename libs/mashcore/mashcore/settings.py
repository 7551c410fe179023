"""Settings from the environment (prefix ``MASH_``); defaults run everything embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
    topic_namespace: str = ""
    topic_partitions: int = 3
    topic_replication_factor: int = 1  # 3 in production (see deploy/k8s/configmap.yaml)
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
    # Intake: contacts about the same child within this many days are linked as repeats.
    repeat_window_days: int = 30
    # The partnerships' policy packs (policy/partnerships/*.yaml by default; policy/README.md).
    policy_dir: Path | None = None
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
