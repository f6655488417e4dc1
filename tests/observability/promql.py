"""Reading what the monitoring files ask of the worker: metric and label names in PromQL, and
the samples of a Prometheus text scrape.

A deliberately small PromQL reader: it knows the functions, aggregations and keywords the
repository's dashboards and rules use, and treats every other identifier outside ``{…}``,
``by (…)``, ``without (…)`` and strings as a metric name, so a typo or a metric the worker
does not export shows up as an unknown name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import ROOT

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

KEYWORDS = {
    # aggregations and their modifiers
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset",
    # functions
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "absent", "time",
    "vector", "scalar", "clamp_min", "clamp_max", "abs", "max_over_time", "min_over_time",
    "avg_over_time", "label_replace", "sort", "sort_desc",
}  # fmt: skip
SYNTHETIC = {"up"}
"""Series Prometheus makes itself for every target, not exported by anyone."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass
class Names:
    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)


def names_in(expr: str) -> Names:
    """The metric names and label names an expression uses."""
    found = Names()
    for matchers in _MATCHERS.findall(expr):
        found.labels.update(_MATCHER_LABEL.findall(matchers))
    for _, labels in _GROUPING.findall(expr):
        found.labels.update(name.strip() for name in labels.split(",") if name.strip())
    bare = _GROUPING.sub(" ", _RANGE.sub(" ", _MATCHERS.sub(" ", _STRING.sub(" ", expr))))
    bare = re.sub(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b", " ", bare)
    for name in _IDENTIFIER.findall(bare):
        if name not in KEYWORDS:
            found.metrics.add(name)
    return found


def dashboard_queries() -> dict[str, str]:
    """Every query of every provisioned dashboard, keyed ``file: panel / refId``."""
    queries: dict[str, str] = {}
    for path in DASHBOARDS:
        for panel in _panels(json.loads(path.read_text())["panels"]):
            for target in panel.get("targets", []):
                queries[f"{path.name}: {panel['title']} / {target['refId']}"] = target["expr"]
    return queries


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


def alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load(ALERT_RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_scrape(text: str) -> list[Sample]:
    """The samples of a text exposition, with names exactly as Prometheus stores them.

    (prometheus_client's parser would add ``_total`` to counters that lack it, which the
    SDK's counters do; a query must use the name as exposed.)
    """
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, number = match.groups()
        samples.append(Sample(name, dict(_LABEL.findall(labels or "")), float(number)))
    return samples


def exported(samples: list[Sample]) -> dict[str, set[str]]:
    """Every series name a query may use (histograms: ``_bucket``/``_sum``/``_count``), with the
    label names seen on it, plus the labels Prometheus adds to every series."""
    names: dict[str, set[str]] = {}
    for sample in samples:
        names.setdefault(sample.name, {"instance", "job"}).update(sample.labels)
    for name in SYNTHETIC:
        names[name] = {"instance", "job"}
    return names


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def unknown_names(expressions: dict[str, str], metrics: dict[str, set[str]]) -> list[str]:
    """``where: name`` for each metric or label an expression uses that the scrape lacks."""
    problems = []
    for where, expr in expressions.items():
        used = names_in(expr)
        problems += [f"{where}: metric {m}" for m in sorted(used.metrics - set(metrics))]
        known_labels = set().union(*(metrics.get(m, set()) for m in used.metrics)) | {"le"}
        problems += [f"{where}: label {label}" for label in sorted(used.labels - known_labels)]
    return problems


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
