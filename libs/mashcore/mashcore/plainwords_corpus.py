"""The plain-words corpus report: precision and recall per rule (issue 20).

``python -m mashcore.plainwords_corpus [corpus.yaml] [pack.yaml]`` (``make corpus-report``)
reads the synthetic referrals in ``policy/corpus/referrals.yaml``, runs the pack's
``plain_words`` rules on each, and prints per rule the true and false positives, the misses,
precision and recall, then the overall (micro-averaged) figures and each case that disagreed.
It exits 1 when the overall floors (``PRECISION_FLOOR``, ``RECALL_FLOOR``) are not met.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mashcore.plainwords import Matcher, PlainWords
from mashcore.policy import default_policy_dir, load_pack

PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.9


@dataclass(frozen=True)
class Case:
    id: str
    agency: str
    text: str
    expect: frozenset[str]


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    per_rule: dict[str, Tally] = field(default_factory=dict)
    overall: Tally = field(default_factory=Tally)
    wrong: list[tuple[str, frozenset[str], frozenset[str]]] = field(default_factory=list)


def default_corpus() -> Path:
    return default_policy_dir().parent / "corpus" / "referrals.yaml"


def load_corpus(file: Path) -> list[Case]:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    return [Case(c["id"], c["agency"], c["text"], frozenset(c.get("expect") or ()))
            for c in data["cases"]]


def predict(matcher: Matcher, text: str) -> frozenset[str]:
    """The rule codes that fire on ``text`` (an ask_why only when no context is given)."""
    context = matcher.gives_context(text)
    return frozenset(hit.rule.code for hit in matcher.found(text)
                     if hit.rule.kind != "ask_why" or not context)


def score(plain: PlainWords, cases: list[Case]) -> Report:
    matcher = Matcher(plain)
    report = Report({rule.code: Tally() for rule in plain.rules})
    for case in cases:
        got = predict(matcher, case.text)
        for code in got | case.expect:
            tally = report.per_rule.setdefault(code, Tally())
            if code in got and code in case.expect:
                tally.tp += 1
                report.overall.tp += 1
            elif code in got:
                tally.fp += 1
                report.overall.fp += 1
            else:
                tally.fn += 1
                report.overall.fn += 1
        if got != case.expect:
            report.wrong.append((case.id, case.expect, got))
    return report


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv else default_corpus()
    pack = load_pack(Path(argv[1]) if len(argv) > 1
                     else default_policy_dir() / "default.yaml")
    report = score(pack.plain_words, load_corpus(corpus))
    print(f"{'rule':32} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}")
    rows = [*sorted(report.per_rule.items()), ("overall", report.overall)]
    for code, t in rows:
        print(f"{code:32} {t.tp:4} {t.fp:4} {t.fn:4} {t.precision:10.2f} {t.recall:7.2f}")
    for case_id, want, got in report.wrong:
        print(f"disagrees: {case_id}: expected {sorted(want)}, got {sorted(got)}")
    ok = (report.overall.precision >= PRECISION_FLOOR and report.overall.recall >= RECALL_FLOOR)
    print(f"floors (precision >= {PRECISION_FLOOR}, recall >= {RECALL_FLOOR}): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
