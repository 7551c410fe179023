"""Test tiers: each test is marked by the folder it lives in, and a run can require tiers.

``MASH_REQUIRE_TIERS=unit,integration,kafka,e2e,contract`` (set by ``make test``) turns a tier
that ran no test, or skipped any, into a failed run with a message saying which.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

TIERS = ("unit", "integration", "kafka", "e2e", "contract")
_TESTS_DIR = Path(__file__).parent
_outcomes: dict[str, Counter[str]] = {tier: Counter() for tier in TIERS}


def tier_of(path: Path) -> str | None:
    """The tier a test file belongs to, from its folder under tests/."""
    try:
        folder = path.relative_to(_TESTS_DIR).parts[0]
    except (ValueError, IndexError):
        return None
    return folder if folder in TIERS else None


def required_tiers() -> list[str]:
    """Tiers that must run and pass without skips."""
    raw = os.environ.get("MASH_REQUIRE_TIERS", "")
    return [t.strip() for t in raw.split(",") if t.strip()]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's tier."""
    for item in items:
        tier = tier_of(Path(str(item.path)))
        if tier:
            item.add_marker(getattr(pytest.mark, tier))
            item.user_properties.append(("tier", tier))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes per tier; the infrastructure's self-tests do not prove a tier ran."""
    tier = dict(report.user_properties).get("tier")
    if tier is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = report.outcome
        if outcome == "passed" and "test_devinfra_" in report.nodeid:
            outcome = "passed_self_test"
        _outcomes[str(tier)][outcome] += 1


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A whole file skipped at collection (importorskip, module-level skip) counts too."""
    tier = tier_of(Path(str(report.fspath)))
    if tier and report.outcome in ("skipped", "failed"):
        _outcomes[tier][report.outcome] += 1


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Deselecting tests (-k, -m, --deselect) in a run that requires tiers is refused."""
    for item in items:
        tier = tier_of(Path(str(item.path)))
        if tier:
            _outcomes[tier]["deselected"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print a line per tier."""
    terminalreporter.section("tiers")
    for tier in TIERS:
        counts = _outcomes[tier]
        terminalreporter.write_line(
            f"{tier:<12} passed {counts['passed']:>4}  failed {counts['failed']:>3}  "
            f"skipped {counts['skipped']:>3}"
        )
    for problem in tier_problems():
        terminalreporter.write_line(f"TIER NOT PROVEN: {problem}", red=True, bold=True)


def tier_problems() -> list[str]:
    """Why the required tiers do not count as having run."""
    problems = []
    for tier in required_tiers():
        counts = _outcomes.get(tier, Counter())
        if counts["passed"] == 0:
            problems.append(f"the {tier} tier ran no passing test")
        if counts["skipped"]:
            problems.append(f"the {tier} tier skipped {counts['skipped']} test(s)")
        if counts["deselected"]:
            problems.append(f"the {tier} tier deselected {counts['deselected']} test(s)")
    return problems


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a required tier did not really run."""
    if tier_problems() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
