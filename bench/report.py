"""The benchmark's summary: figures against issue 17's goals, as Markdown and a PNG chart.

``bench.throughput`` writes its JSON and then calls ``write_report``; the summary logic here
is pure (tests/unit/test_bench_report.py). The chart uses matplotlib (pinned): a bar per
figure as a fraction of its goal, so figures of different units share one axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, and its goal when the issue sets one."""

    name: str
    value: float | None
    unit: str
    goal: float | None = None
    higher_is_better: bool = True

    @property
    def met(self) -> bool | None:
        """Whether the goal is met (``None``: no goal, or not measured in this run)."""
        if self.goal is None or self.value is None:
            return None
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    @property
    def fraction_of_goal(self) -> float | None:
        """How far towards the goal (1.0 = exactly met; above 1 = better than the goal)."""
        if self.goal is None or self.value is None or self.value == 0 or self.goal == 0:
            return None
        return self.value / self.goal if self.higher_is_better else self.goal / self.value


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; no interpolation."""
    if not values:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _get(result: Mapping[str, Any], *path: str) -> float | None:
    node: Any = result
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) else None


def ceiling(result: Mapping[str, Any]) -> float | None:
    """The most the ratio to raw Kafka could be with intake at its floor (a referral refused
    before any database work) and every other process costing what it did: the machine's
    cores, all of them busy, divided by that CPU per referral, over raw Kafka's events/s: an
    estimate of the most any change to intake alone could reach (at a higher rate the other
    processes' batches grow and may cost a little less per referral; the loop never keeps
    every core busy). None: not measured."""
    spent = (result.get("pipeline") or {}).get("cpu_ms_per_referral") or {}
    floor = ((result.get("intake_floor") or {}).get("cpu_ms_per_request") or {}).get("intake")
    cpus = (result.get("machine") or {}).get("cpus")
    raw = _get(result, "raw_kafka", "events_per_second")
    if floor is None or not cpus or not raw or "total" not in spent or "intake" not in spent:
        return None
    per_referral = spent["total"] - spent["intake"] + floor
    return cpus * 1000 / per_referral / raw


def figures(result: Mapping[str, Any]) -> list[Figure]:
    """The throughput run's figures, with the issue's goals where it sets one."""
    empty = _get(result, "pipeline", "referrals_per_second")
    stored = _get(result, "pipeline_stored", "referrals_per_second")
    raw_pg = _get(result, "raw_postgres", "inserts_per_second")
    stored_count = _get(result, "pipeline_stored", "stored_contacts")
    return [
        Figure("referrals/s intake → triage (closed loop, empty)", empty, "/s", 150),
        Figure("÷ raw aiokafka events/s", _get(result, "ratio_referrals_to_raw_events"),
               "", 0.02),
        Figure("÷ raw aiokafka events/s at most, intake at its floor", ceiling(result), ""),
        Figure(f"referrals/s with {int(stored_count or 0):,} stored contacts", stored, "/s"),
        Figure("stored ÷ empty throughput",
               stored / empty if stored is not None and empty else None, "", 0.8),
        Figure("raw PostgreSQL durable inserts/s", raw_pg, "/s"),
        Figure("intake referrals/s ÷ raw PostgreSQL inserts/s",
               empty / raw_pg if empty is not None and raw_pg else None, ""),
        Figure("open loop p50 latency", _get(result, "open_loop", "p50_seconds"), "s",
               higher_is_better=False),
        Figure("open loop p99 latency", _get(result, "open_loop", "p99_seconds"), "s",
               higher_is_better=False),
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def markdown(result: Mapping[str, Any]) -> str:
    """A Markdown summary: the conditions of the run, then each figure against its goal."""
    machine = result.get("machine") or {}
    durability = result.get("postgres_durability") or {}
    lines = [
        f"# Benchmark {result.get('measured_at', '')}",
        "",
        f"Machine: {machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}; "
        "broker, PostgreSQL and services on the same machine"
        + (f"; intake as {result['intake_replicas']} processes (replicas)."
           if result.get("intake_replicas") else "."),
        "PostgreSQL durability: " + (", ".join(f"{k}={v}" for k, v in durability.items())
                                     or "not checked"),
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for figure in figures(result):
        goal = "—" if figure.goal is None else (
            f"{'≥' if figure.higher_is_better else '≤'} {_number(figure.goal)}")
        met = {True: "yes", False: "**no**", None: "—"}[figure.met]
        lines.append(f"| {figure.name} | {_number(figure.value)}{figure.unit} | {goal} "
                     f"| {met} |")
    rounds = [(name, [r.get(key) for r in (result.get(part) or {}).get("rounds") or []])
              for name, part, key in (("raw aiokafka events/s", "raw_kafka", "events_per_second"),
                                      ("empty referrals/s", "pipeline", "referrals_per_second"),
                                      ("stored referrals/s", "pipeline_stored",
                                       "referrals_per_second"))]
    if any(values for _, values in rounds):
        lines += ["", f"Each figure is the median of {result.get('rounds', '?')} rounds run in "
                  "turn (raw Kafka, empty, stored; then again), each ratio the ratio of two "
                  "medians. The rounds:", ""]
        lines += [f"- {name}: " + " / ".join(_number(v) for v in values)
                  for name, values in rounds if values]
    lines += cpu_lines(result)
    return "\n".join(lines) + "\n"


def cpu_lines(result: Mapping[str, Any]) -> list[str]:
    """Where the closed loop's CPU went: milliseconds per referral by process (medians of the
    rounds), with the cores that kept busy at the measured rate."""
    lines: list[str] = []
    for name, part in (("empty", "pipeline"), ("stored", "pipeline_stored")):
        run = result.get(part) or {}
        spent = run.get("cpu_ms_per_referral")
        if not spent:
            continue
        if not lines:
            lines += ["", "CPU per referral in the closed loop, ms (median of the rounds; "
                      "from /proc, each group with its live and exited child processes):", ""]
        groups = [f"{group} {ms:.2f}" for group, ms in spent.items() if group != "total"]
        rate = run.get("referrals_per_second")
        busy = (f"; {spent['total'] * rate / 1000:.2f} cores busy at {_number(rate)}/s"
                if rate and "total" in spent else "")
        lines.append(f"- {name}: " + ", ".join(groups)
                     + f"; total {spent.get('total', 0):.2f}{busy}")
    floor = (result.get("intake_floor") or {}).get("cpu_ms_per_request") or {}
    if lines and "intake" in floor:
        lines.append(f"- intake's floor, a referral refused before any database work (422: "
                     f"token, body, validation, answer): intake {floor['intake']:.2f} per "
                     "request")
    return lines


def write_chart(result: Mapping[str, Any], path: Path) -> None:
    """A bar per figure with a goal: measured as a fraction of the goal (1 = met)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    shown = [f for f in figures(result) if f.fraction_of_goal is not None]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.6 * max(1, len(shown))))
    names = [f.name for f in shown]
    fractions = [f.fraction_of_goal or 0.0 for f in shown]
    ax.barh(names, fractions, color=["tab:green" if f.met else "tab:red" for f in shown])
    ax.axvline(1.0, color="black", linestyle="--", label="goal")
    ax.set_xlabel("measured ÷ goal (≥ 1 meets the goal)")
    ax.set_title(f"MASH bench {result.get('measured_at', '')[:19]}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(result: Mapping[str, Any], json_path: Path) -> tuple[Path, Path]:
    """Write the Markdown summary and the chart beside the JSON file."""
    summary, chart = json_path.with_suffix(".md"), json_path.with_suffix(".png")
    summary.write_text(markdown(result))
    write_chart(result, chart)
    return summary, chart
