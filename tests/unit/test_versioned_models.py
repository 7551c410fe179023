"""Every versioned model (``mashcore.db.versioned``: optimistic locking, nothing fetched back
after an INSERT) writes every column the server would default: otherwise, with eager
defaults off, such a column would be left unloaded after the INSERT, and reading it on a
closed session would fail. Pure: the mappings only."""

from __future__ import annotations

import importlib

from sqlalchemy import inspect

# Each service's models, imported so that every mapper exists.
MODULES = ("intake.contacts.models", "triage.models", "mash_enquiries.models",
           "strategy.models", "strategy.conferences.models", "sla_timekeeper.models")


def versioned_models() -> list[type]:
    for name in MODULES:
        importlib.import_module(name)
    from sqlmodel import SQLModel
    mappers = [m for m in SQLModel._sa_registry.mappers if m.version_id_col is not None]
    return [m.class_ for m in mappers]


def test_every_versioned_model_writes_what_the_server_would_default() -> None:
    models = versioned_models()
    assert len(models) >= 11  # triage, the timekeeper, enquiries, strategy, conferences
    for model in models:
        mapper = inspect(model)
        assert mapper.eager_defaults is False, model
        for table in mapper.tables:
            for column in table.columns:
                if column.server_default is None or column is mapper.version_id_col:
                    continue
                field = model.model_fields[column.key]  # type: ignore[attr-defined]
                assert not field.is_required() and field.default is not None, (
                    f"{model.__name__}.{column.key} has a server default and no Python one")
