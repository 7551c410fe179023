"""Every service's migrations form one line: a single head, every revision reachable from it.

Branches merged from parallel work can leave two revisions on one parent, or a parent that
does not exist; Alembic then refuses to upgrade to "head" when the service starts.
"""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from mash_app.services import SERVICE_MODULES, iter_definitions


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_a_services_migrations_are_one_line(service: str) -> None:
    (definition,) = iter_definitions([service])
    config = Config()
    config.set_main_option("script_location", str(definition.migrations))
    script = ScriptDirectory.from_config(config)
    heads = script.get_heads()
    assert len(heads) == 1, f"{service}: several heads {heads}"
    walked = list(script.walk_revisions("base", heads[0]))
    assert {r.revision for r in walked} == {r.revision for r in script.walk_revisions()}
    assert all(r.down_revision is None or isinstance(r.down_revision, str) for r in walked), (
        f"{service}: a merge revision; keep the line straight")
