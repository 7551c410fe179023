"""The Grafana dashboard for the ops engineer on call: deploy/grafana/mash-sla-dashboard.json.

First the structure Grafana needs (title, uid, panels with unique ids and a place on the grid,
targets with a PromQL expression), then the dashboard against the services themselves: the
intake and the SLA timekeeper run in this process, a synthetic referral goes through, and
their ``/metrics`` are scraped. Every metric a query names must be one they expose, and every
label a query selects, groups by or prints must be one that metric carries. The data source
and the partnership are template variables, never hard-coded. Every checker is also shown to
fail on a broken copy of the real dashboard.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.schemas import default_registry
from mashcore.settings import Settings
from sla_timekeeper.timekeeper import SLA_PREFIX
from tests.support import auth, eventually, running_services, synthetic_referral

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "mash-sla-dashboard.json"
DATASOURCE = "${DS_PROMETHEUS}"
PARTNERSHIP_VARIABLE = "label_values(mash_sla_open_clocks, partnership)"
# Every service serves the messaging families; the timekeeper adds its own (checked below).
SCRAPED = ["intake", "notifications", "sla-timekeeper"]
PARTNERSHIP = "coventry"
GRID_COLUMNS = 24

Doc = dict[str, Any]


# --- the dashboard ---------------------------------------------------------------------------


@cache
def _dashboard() -> Doc:
    loaded: Doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard() -> Doc:
    """A private copy of the dashboard."""
    return copy.deepcopy(_dashboard())


def all_panels(doc: Doc) -> Iterator[Doc]:
    """Every panel, including those inside rows."""
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def where(panel: Doc) -> str:
    return f"panel {panel.get('id')} {panel.get('title')!r}"


# --- reading PromQL --------------------------------------------------------------------------

# Aggregations and keywords: an identifier in a query that is none of these, and is not
# called like a function, is a metric name.
KEYWORDS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring",
    "group_left", "group_right", "bool", "offset", "and", "or", "unless", "atan2", "inf", "nan",
})
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
RANGE = re.compile(r"\[[^\[\]]*\]")
STRING = r'"(?:[^"\\]|\\.)*"'
SELECTOR = re.compile(r"(?<![\w:$])([A-Za-z_:][\w:]*)?\s*\{((?:[^{}\"]|" + STRING + r")*)\}")
MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)')
BARE_NAME = re.compile(r"(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()")
LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
LABEL_VALUES = re.compile(r"^\s*label_values\((.+),\s*([A-Za-z_]\w*)\s*\)\s*$")


@dataclass(frozen=True)
class Selector:
    """One vector selector: the metric and its label matchers (label, operator, value)."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...]


@dataclass
class Query:
    """What one PromQL expression refers to."""

    where: str
    expr: str
    selectors: list[Selector] = field(default_factory=list)
    # Labels grouped by (by, without, on, ignoring, ...), printed by the legend, or asked for
    # by label_values(): each must be a label of every metric the query reads.
    labels: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors}


def read_promql(where: str, expr: str) -> Query:
    """The metrics, matchers and grouping labels of a PromQL expression."""
    query = Query(where, expr)
    for match in GROUPING.finditer(expr):
        query.labels.update(label.strip() for label in match.group(1).split(",") if label.strip())
    rest = RANGE.sub(" ", GROUPING.sub(" ", expr))
    for match in SELECTOR.finditer(rest):
        name, body = match.group(1), match.group(2)
        matchers: list[tuple[str, str, str]] = []
        position = 0
        while position < len(body.rstrip()):
            matcher = MATCHER.match(body, position)
            if matcher is None:
                query.problems.append(f"{where}: cannot read the selector {match.group(0)!r}")
                break
            matchers.append((matcher.group(1), matcher.group(2), matcher.group(3)))
            position = matcher.end()
        if name is None:
            names = [value for label, op, value in matchers if label == "__name__" and op == "="]
            if not names:
                query.problems.append(f"{where}: a selector without a metric name: {expr!r}")
                continue
            name = names[0]
        query.selectors.append(Selector(name, tuple(matchers)))
    rest = re.sub(STRING, " ", SELECTOR.sub(" ", rest))
    for match in BARE_NAME.finditer(rest):
        if match.group(1) not in KEYWORDS:
            query.selectors.append(Selector(match.group(1), ()))
    if not query.selectors:
        query.problems.append(f"{where}: reads no metric: {expr!r}")
    return query


def queries(doc: Doc) -> list[Query]:
    """Every PromQL query of the dashboard: panel targets and query variables."""
    found = []
    for panel in all_panels(doc):
        for target in panel.get("targets", []):
            query = read_promql(f"{where(panel)} target {target.get('refId')}",
                                str(target.get("expr", "")))
            query.labels.update(LEGEND_LABEL.findall(str(target.get("legendFormat", ""))))
            found.append(query)
    for variable in doc.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        text = variable_query(variable)
        label_values = LABEL_VALUES.match(text)
        query = read_promql(f"variable {variable.get('name')}",
                            label_values.group(1) if label_values else text)
        if label_values:
            query.labels.add(label_values.group(2))
        found.append(query)
    return found


def variable_query(variable: Doc) -> str:
    """A query variable's PromQL (Grafana stores a string or an object)."""
    raw = variable.get("query")
    return str(raw.get("query", "")) if isinstance(raw, dict) else str(raw or "")


# --- what the services expose ----------------------------------------------------------------


@dataclass(frozen=True)
class Exposition:
    """The services' /metrics after a referral: metric name -> labels seen on its samples
    (None for a family that printed no sample), and the raw text per service."""

    labels: Mapping[str, frozenset[str] | None]
    texts: Mapping[str, str]
    personal: tuple[str, ...]


TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def exposed_labels(texts: Mapping[str, str]) -> dict[str, frozenset[str] | None]:
    """Metric names from the ``# TYPE`` lines (printed even for a family with no samples),
    with the labels of their samples."""
    labels: dict[str, set[str]] = {}
    sampled: set[str] = set()
    for text in texts.values():
        for match in TYPE_LINE.finditer(text):
            # A counter's family is named without the "_total" its TYPE line carries.
            name, kind = match.groups()
            labels.setdefault(name.removesuffix("_total") if kind == "counter" else name, set())
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                sampled.add(family.name)
                labels.setdefault(family.name, set()).update(sample.labels)
    return {name: frozenset(found) if name in sampled else None
            for name, found in labels.items()}


async def scrape(tmp_path: Path) -> Exposition:
    """Run the services, send one synthetic referral through, and read their /metrics once the
    timekeeper has handled it (every family it exposes has samples)."""
    referral = synthetic_referral(partnership=PARTNERSHIP)
    bus = EmbeddedBus(tmp_path / "bus.sqlite", poll_interval=0.05)
    await bus.start()
    try:
        async with running_services(Settings(data_dir=tmp_path), SCRAPED, bus) as apps:
            response = await apps["intake"].post(
                "/v1/contacts", json=referral,
                headers=auth("referrer", "education", subject="school-1",
                             partnership=PARTNERSHIP))
            assert response.status_code == 202, response.text
            reference = str(response.json()["case_reference"])

            async def timekeeper_metrics() -> str | None:
                text = (await apps["sla-timekeeper"].get("/metrics")).text
                labels = exposed_labels({"sla-timekeeper": text})
                return text if all(found is not None for found in labels.values()) else None

            await eventually(timekeeper_metrics, what="samples in every timekeeper family")
            texts = {}
            for name, client in apps.items():
                response = await client.get("/metrics")
                assert response.status_code == 200, response.text
                texts[name] = response.text
    finally:
        await bus.stop()
    child = referral["children"][0]
    personal = (reference, child["first_name"], child["last_name"], child["date_of_birth"],
                referral["referrer"]["name"], referral["referrer"]["email"])
    return Exposition(exposed_labels(texts), texts, personal)


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> Exposition:
    return asyncio.run(scrape(tmp_path_factory.mktemp("metrics")))


def sla_kinds() -> set[str]:
    """The kinds of mash_sla_events: the SLA event types that have a contract."""
    return {t.removeprefix(SLA_PREFIX).removesuffix(".v1")
            for t in default_registry().event_types if t.startswith(SLA_PREFIX)}


# Labels whose values form a closed set: a matcher on another value matches nothing, forever.
KNOWN_VALUES: dict[tuple[str, str], set[str]] = {
    ("mash_sla_events", "kind"): sla_kinds(),
    ("mash_sla_open_clocks", "breached"): {"true", "false"},
}


# --- the checks ------------------------------------------------------------------------------


def structure_problems(doc: Doc) -> list[str]:
    """What would stop Grafana loading the dashboard, or leave a panel unexplained."""
    problems = []
    if not isinstance(doc.get("title"), str) or not doc["title"].strip():
        problems.append("the dashboard has no title")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(doc.get("uid", ""))):
        problems.append(f"uid {doc.get('uid')!r} is not 1-40 letters, digits, - or _")
    if doc.get("schemaVersion") != 39:
        problems.append(f"schemaVersion is {doc.get('schemaVersion')!r}, not 39")
    if doc.get("refresh") != "30s":
        problems.append(f"refresh is {doc.get('refresh')!r}, not 30s")
    if not isinstance(doc.get("panels"), list) or not doc["panels"]:
        problems.append("the dashboard has no panels")
        return problems
    seen_ids: set[Any] = set()
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(doc):
        here = where(panel)
        if not isinstance(panel.get("id"), int) or isinstance(panel.get("id"), bool):
            problems.append(f"{here}: id is not an integer")
        elif panel["id"] in seen_ids:
            problems.append(f"{here}: id {panel['id']} is used twice")
        seen_ids.add(panel.get("id"))
        if not isinstance(panel.get("type"), str) or not panel["type"]:
            problems.append(f"{here}: no type")
        if not isinstance(panel.get("title"), str) or not panel["title"].strip():
            problems.append(f"{here}: no title")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
            problems.append(f"{here}: gridPos needs integer h, w, x and y")
        elif grid["h"] < 1 or grid["w"] < 1 or grid["x"] < 0 or grid["y"] < 0 \
                or grid["x"] + grid["w"] > GRID_COLUMNS:
            problems.append(f"{here}: gridPos {grid} is off the {GRID_COLUMNS}-column grid")
        else:
            area = [(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                    for y in range(grid["y"], grid["y"] + grid["h"])]
            problems.extend(f"{here}: overlaps {other}"
                            for other in sorted({cells[c] for c in area if c in cells}))
            cells.update(dict.fromkeys(area, here))
        if panel.get("type") == "row":
            continue
        if not isinstance(panel.get("description"), str) or not panel["description"].strip():
            problems.append(f"{here}: no description")
        targets = panel.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{here}: no targets")
            continue
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids) or not all(ref_ids):
            problems.append(f"{here}: refIds {ref_ids} are not unique")
        problems.extend(f"{here}: target {t.get('refId')} has no expr" for t in targets
                        if not isinstance(t.get("expr"), str) or not t["expr"].strip())
    return problems


def metric_problems(doc: Doc, exposition: Exposition) -> list[str]:
    """Metrics the queries read that no service exposes."""
    problems = [p for query in queries(doc) for p in query.problems]
    for query in queries(doc):
        problems.extend(f"{query.where}: {metric!r} is not exposed by any service"
                        for metric in sorted(query.metrics) if metric not in exposition.labels)
    return problems


def label_problems(doc: Doc, exposition: Exposition) -> list[str]:
    """Labels the queries use that their metric does not carry, and matcher values that can
    never match."""
    problems = []
    for query in queries(doc):
        for metric in sorted(query.metrics):
            if metric not in exposition.labels:
                continue  # reported by metric_problems
            known = exposition.labels[metric]
            if known is None:
                problems.append(f"{query.where}: {metric} had no samples to learn its labels")
                continue
            for selector in (s for s in query.selectors if s.metric == metric):
                for label, op, value in selector.matchers:
                    if label != "__name__" and label not in known:
                        problems.append(f"{query.where}: {metric} has no label {label!r} "
                                        f"(it has {sorted(known)})")
                    values = KNOWN_VALUES.get((metric, label))
                    if values is not None and op == "=" and value not in values:
                        problems.append(f"{query.where}: {metric}{{{label}={value!r}}} never "
                                        f"matches (values: {sorted(values)})")
            problems.extend(f"{query.where}: {metric} has no label {label!r} to group or print "
                            f"by (it has {sorted(known)})"
                            for label in sorted(query.labels - known))
    return problems


def templating_problems(doc: Doc) -> list[str]:
    """The data source and the partnership must be variables, never fixed."""
    problems = []
    variables = {v.get("name"): v for v in doc.get("templating", {}).get("list", [])}
    source = variables.get("DS_PROMETHEUS")
    if source is None or source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append("no DS_PROMETHEUS variable of type datasource for prometheus")
    partnership = variables.get("partnership")
    if partnership is None or partnership.get("type") != "query":
        problems.append("no partnership query variable")
    elif variable_query(partnership) != PARTNERSHIP_VARIABLE:
        problems.append(f"the partnership variable's query is {variable_query(partnership)!r}, "
                        f"not {PARTNERSHIP_VARIABLE!r}")

    def walk(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasource":
                    uid = value.get("uid") if isinstance(value, dict) else value
                    kind = value.get("type") if isinstance(value, dict) else "prometheus"
                    if uid != DATASOURCE or kind != "prometheus":
                        yield f"{path}.datasource is {value!r}, not the {DATASOURCE} variable"
                else:
                    yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{path}[{index}]")

    problems.extend(walk(doc, "dashboard"))
    for panel in all_panels(doc):
        if panel.get("type") != "row" and panel.get("datasource") is None:
            problems.append(f"{where(panel)}: no datasource")
        problems.extend(f"{where(panel)}: target {t.get('refId')} has no datasource"
                        for t in panel.get("targets", []) if t.get("datasource") is None)
    for query in queries(doc):
        for selector in query.selectors:
            if selector.metric == "mash_sla_open_clocks" and not query.where.startswith(
                    "variable") and ("partnership", "=~", "$partnership") not in selector.matchers:
                problems.append(f"{query.where}: open clocks not filtered by $partnership")
    return problems


# --- the dashboard as it is ------------------------------------------------------------------


def test_the_dashboard_has_the_structure_grafana_needs() -> None:
    assert structure_problems(dashboard()) == []


def test_the_dashboard_has_the_panels_the_on_call_engineer_needs() -> None:
    titles = [p["title"] for p in all_panels(dashboard()) if p["type"] != "row"]
    exprs = " ".join(t["expr"] for p in all_panels(dashboard()) for t in p.get("targets", []))
    assert len(titles) >= 10
    for metric in ("mash_outbox_unpublished", "mash_outbox_oldest_unpublished_seconds",
                   "mash_events_handled", "mash_sla_open_clocks", "mash_sla_events"):
        assert metric in exprs, f"no panel shows {metric}"
    for kind in ("breached", "warned", "met"):
        assert f'increase(mash_sla_events{{kind="{kind}"}}[24h])' in exprs


def test_every_metric_the_dashboard_reads_is_exposed_by_a_service(
    exposition: Exposition,
) -> None:
    assert metric_problems(dashboard(), exposition) == []


def test_every_label_the_dashboard_uses_is_one_its_metric_carries(
    exposition: Exposition,
) -> None:
    assert label_problems(dashboard(), exposition) == []


def test_the_data_source_and_the_partnership_are_template_variables() -> None:
    assert templating_problems(dashboard()) == []


def test_the_scraped_services_include_every_service_with_its_own_metrics(
    exposition: Exposition,
) -> None:
    with_own = {d.name for d in iter_definitions(sorted(SERVICE_MODULES)) if d.metrics}
    assert with_own <= set(exposition.texts)


def test_no_metric_carries_the_referral_s_personal_data(exposition: Exposition) -> None:
    for service, text in exposition.texts.items():
        leaked = [value for value in exposition.personal if value in text]
        assert leaked == [], f"{service} /metrics carries {leaked}"


# --- each checker fails on a broken copy -----------------------------------------------------


def first_target(doc: Doc, metric: str) -> Doc:
    target: Doc = next(t for p in all_panels(doc) for t in p.get("targets", [])
                       if metric in t["expr"])
    return target


def test_a_misspelled_metric_is_reported(exposition: Exposition) -> None:
    broken = dashboard()
    target = first_target(broken, "mash_outbox_unpublished")
    target["expr"] = target["expr"].replace("mash_outbox_unpublished", "mash_outbox_unpublishd")
    assert any("'mash_outbox_unpublishd' is not exposed" in p
               for p in metric_problems(broken, exposition))
    bare = dashboard()
    first_target(bare, "mash_events_handled")["expr"] = "sum(rate(mash_event_handled[5m]))"
    assert any("'mash_event_handled' is not exposed" in p
               for p in metric_problems(bare, exposition))


def test_a_label_the_metric_does_not_carry_is_reported(exposition: Exposition) -> None:
    grouped = dashboard()
    first_target(grouped, "mash_sla_events")["expr"] = \
        "sum by (partnership) (increase(mash_sla_events[5m]))"
    assert any("mash_sla_events has no label 'partnership'" in p
               for p in label_problems(grouped, exposition))
    selected = dashboard()
    first_target(selected, "mash_outbox_unpublished")["expr"] = \
        'mash_outbox_unpublished{servce="intake"}'
    assert any("has no label 'servce'" in p for p in label_problems(selected, exposition))
    printed = dashboard()
    first_target(printed, "mash_outbox_unpublished")["legendFormat"] = "{{consumer}}"
    assert any("no label 'consumer'" in p for p in label_problems(printed, exposition))
    misvalued = dashboard()
    target = first_target(misvalued, 'kind="breached"')
    target["expr"] = target["expr"].replace('kind="breached"', 'kind="breach"')
    assert any("never matches" in p for p in label_problems(misvalued, exposition))


def test_a_hard_coded_data_source_or_partnership_is_reported() -> None:
    fixed = dashboard()
    next(p for p in all_panels(fixed) if p["type"] != "row")["datasource"] = {
        "type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    assert any("not the ${DS_PROMETHEUS} variable" in p for p in templating_problems(fixed))
    unfiltered = dashboard()
    target = first_target(unfiltered, "mash_sla_open_clocks")
    target["expr"] = target["expr"].replace('partnership=~"$partnership"', 'partnership="x"')
    assert any("not filtered by $partnership" in p for p in templating_problems(unfiltered))
    without = dashboard()
    without["templating"]["list"] = [v for v in without["templating"]["list"]
                                     if v["name"] != "partnership"]
    assert "no partnership query variable" in templating_problems(without)


def test_a_broken_structure_is_reported() -> None:
    broken = dashboard()
    panels = [p for p in all_panels(broken) if p["type"] != "row"]
    panels[1]["id"] = panels[0]["id"]
    panels[2]["targets"][0]["expr"] = ""
    panels[3]["gridPos"] = dict(panels[4]["gridPos"])
    del panels[5]["description"]
    del broken["uid"]
    problems = " | ".join(structure_problems(broken))
    for expected in ("is used twice", "has no expr", "overlaps", "no description", "uid None"):
        assert expected in problems
