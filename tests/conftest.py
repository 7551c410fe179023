"""Shared fixtures: tiers, and the real PostgreSQL and Kafka servers (started on first use)."""

pytest_plugins = ["tests.tiers", "devinfra.pytest_plugin"]
