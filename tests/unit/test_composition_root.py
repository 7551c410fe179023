"""The shared runtime lists no services: the deployable's composition root (mash_app) does,
and hands the list to mashcore's command line, dead-letter tools and topology."""

from __future__ import annotations

import ast
from pathlib import Path

from mash_app.services import SERVICE_MODULES, all_definitions

MASHCORE = Path(__file__).resolve().parents[2] / "libs" / "mashcore" / "mashcore"
SERVICE_PACKAGES = {module.split(".")[0] for module in SERVICE_MODULES} | {"mash_app"}


def test_mashcore_imports_no_service_and_names_none() -> None:
    found = []
    for path in MASHCORE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value in SERVICE_MODULES.values() else []
            else:
                continue
            found += [f"{path.name}: {name}" for name in names
                      if name in SERVICE_MODULES.values()
                      or name.split(".")[0] in SERVICE_PACKAGES]
    assert found == [], "mashcore must take the services from the composition root"


def test_the_composition_root_loads_every_service_under_its_name() -> None:
    assert [d.name for d in all_definitions()] == list(SERVICE_MODULES)
