"""The benchmark summary's logic (bench/report.py): percentiles, goals, Markdown. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from bench.report import Figure, figures, markdown, percentile

RESULT: dict[str, Any] = {
    "measured_at": "2026-12-04T20:00:00+00:00",
    "machine": {"cpus": 2, "python": "3.11.9"},
    "intake_replicas": 2,
    "postgres_durability": {"fsync": "on", "synchronous_commit": "on",
                            "full_page_writes": "on"},
    "raw_postgres": {"inserts_per_second": 500.0},
    "pipeline": {"referrals_per_second": 160.0},
    "pipeline_stored": {"referrals_per_second": 120.0, "stored_contacts": 1_000_000},
    "ratio_referrals_to_raw_events": 0.01,
    "open_loop": {"p50_seconds": 0.02, "p99_seconds": 0.3},
}


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_goals_are_met_or_missed_in_the_right_direction() -> None:
    assert Figure("x", 150, "/s", 150).met is True
    assert Figure("x", 149, "/s", 150).met is False
    assert Figure("x", 0.1, "s", 0.25, higher_is_better=False).met is True
    assert Figure("x", 0.3, "s", 0.25, higher_is_better=False).met is False
    assert Figure("x", None, "/s", 150).met is None
    assert Figure("x", 3, "/s").met is None


def test_the_stored_run_is_judged_against_the_empty_one() -> None:
    by_name = {f.name: f for f in figures(RESULT)}
    ratio = by_name["stored ÷ empty throughput"]
    assert ratio.value == pytest.approx(0.75)
    assert ratio.met is False  # 0.75 < 0.8
    assert by_name["intake referrals/s ÷ raw PostgreSQL inserts/s"].value == pytest.approx(0.32)
    assert "referrals/s with 1,000,000 stored contacts" in by_name


def test_the_summary_states_durability_and_each_figure_against_its_goal() -> None:
    text = markdown(RESULT)
    assert "fsync=on, synchronous_commit=on, full_page_writes=on" in text
    assert "intake as 2 processes (replicas)" in text
    assert "| referrals/s intake → triage (closed loop, empty) | 160/s | ≥ 150 | yes |" in text
    assert "| ÷ raw aiokafka events/s | 0.01 | ≥ 0.02 | **no** |" in text
    assert "| stored ÷ empty throughput | 0.75 | ≥ 0.8 | **no** |" in text


def test_a_figure_not_measured_says_so() -> None:
    text = markdown({"pipeline": {"referrals_per_second": 10.0}})
    assert "not measured" in text
    assert "PostgreSQL durability: not checked" in text
    assert "replicas" not in text


def test_the_rounds_behind_each_median_are_shown() -> None:
    text = markdown({**RESULT, "rounds": 2,
                     "raw_kafka": {"events_per_second": 9000.0, "rounds": [
                         {"events_per_second": 8000.0}, {"events_per_second": 10000.0}]},
                     "pipeline": {"referrals_per_second": 150.0, "rounds": [
                         {"referrals_per_second": 140.0}, {"referrals_per_second": 160.0}]}})
    assert "median of 2 rounds" in text
    assert "- raw aiokafka events/s: 8,000 / 10,000" in text
    assert "- empty referrals/s: 140 / 160" in text
    assert "stored referrals/s:" not in text  # no rounds given for it
    assert "rounds" not in markdown(RESULT)


def test_the_cpu_per_referral_is_shown_by_process_with_the_cores_it_kept_busy() -> None:
    spent = {"intake": 6.0, "triage": 1.5, "PostgreSQL": 2.0, "Kafka": 1.0,
             "bench client": 0.5, "total": 11.0}
    text = markdown({**RESULT, "pipeline": {"referrals_per_second": 160.0,
                                            "cpu_ms_per_referral": spent}})
    assert ("- empty: intake 6.00, triage 1.50, PostgreSQL 2.00, Kafka 1.00, bench client "
            "0.50; total 11.00; 1.76 cores busy at 160/s") in text
    assert "- stored:" not in text  # not measured for it
    assert "CPU per referral" not in markdown(RESULT)


def test_the_ceiling_puts_intake_at_its_floor_and_keeps_every_other_process() -> None:
    spent = {"intake": 6.0, "triage": 1.5, "PostgreSQL": 2.0, "Kafka": 0.5, "client": 0.5,
             "total": 10.5}
    result = {**RESULT, "raw_kafka": {"events_per_second": 20_000.0},
              "pipeline": {"referrals_per_second": 180.0, "cpu_ms_per_referral": spent},
              "intake_floor": {"cpu_ms_per_request": {"intake": 1.0, "total": 1.4}}}
    by_name = {f.name: f for f in figures(result)}
    ceiling = by_name["÷ raw aiokafka events/s at most, intake at its floor"]
    # two cores busy / (10.5 - 6.0 + 1.0 ms per referral) = 363.6/s, over 20,000 events/s
    assert ceiling.value == pytest.approx(2 * 1000 / 5.5 / 20_000)
    assert ceiling.goal is None
    text = markdown(result)
    assert "| ÷ raw aiokafka events/s at most, intake at its floor | 0.01818 | — | — |" in text
    assert "intake's floor, a referral refused before any database work" in text
    assert "intake 1.00 per request" in text


def test_without_a_floor_the_ceiling_is_not_measured() -> None:
    by_name = {f.name: f for f in figures(RESULT)}
    assert by_name["÷ raw aiokafka events/s at most, intake at its floor"].value is None
    assert "intake's floor" not in markdown(RESULT)
