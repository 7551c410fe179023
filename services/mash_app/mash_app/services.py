"""The composition root: the services this deployable runs, by name. The shared runtime
(mashcore) lists none of them; the ``mash`` command, the tests and the tools pass this list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mashcore.service import ServiceDefinition, load_definitions

# Service name -> the module whose ``SERVICE`` defines it.
SERVICE_MODULES: dict[str, str] = {
    "intake": "intake.service",
    "triage": "triage.service",
    "mash-enquiries": "mash_enquiries.service",
    "strategy": "strategy.service",
    "notifications": "notifications.service",
    "sla-timekeeper": "sla_timekeeper.service",
}


def iter_definitions(names: Sequence[str]) -> Iterator[ServiceDefinition]:
    """The named services' definitions."""
    return load_definitions(SERVICE_MODULES, names)


def all_definitions() -> list[ServiceDefinition]:
    """Every service's definition."""
    return list(iter_definitions(list(SERVICE_MODULES)))
