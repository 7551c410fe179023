"""The benchmark modules import against today's code (they run only under `make bench`, so a
moved module would otherwise break the bench unnoticed)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["bench.durable", "bench.throughput", "bench.sla",
                                    "bench.metrics", "bench.report"])
def test_the_benchmark_module_imports(module: str) -> None:
    assert callable(importlib.import_module(module).__dict__.get("main", lambda: None))
