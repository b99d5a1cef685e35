"""What every analysis returns: headline values, an aggregate table, evidence, warnings.

Evidence items are plain dicts with a `kind` (definition, sql, table, test,
chart, note), already in the shape of the assistant's Answer contract, so they
pass through untouched and serialise to JSON as they are. Evidence holds
aggregates only, never respondent-level rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from cxengine.kpis import Kpi
from cxengine.stats import TestResult
from cxengine.store import SqlRecord


def clean(v: Any) -> Any:
    """JSON-safe scalars: numpy to Python, NaN to None."""
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


@dataclass
class Value:
    """One headline number, in the Answer contract's shape."""

    kpi: str
    value: float | None
    base: int | None = None
    effective_base: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    flags: list[str] = field(default_factory=list)
    brand: str | None = None
    market: str | None = None
    ta: str | None = None
    wave: str | None = None
    segment: str | None = None
    channel: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: clean(v) for k, v in asdict(self).items()}
        if d["effective_base"] is not None:
            d["effective_base"] = round(d["effective_base"], 1)
        return d


@dataclass
class Run:
    """Collects evidence while an analysis runs."""

    dataset_version: str
    sql: list[SqlRecord] = field(default_factory=list)
    definitions: dict[str, Kpi] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def use(self, kpi: Kpi) -> None:
        self.definitions.setdefault(kpi.id, kpi)

    def test(self, label: str, result: TestResult) -> None:
        self.tests.append({"kind": "test", "label": label, **result.to_dict()})

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


@dataclass
class Result:
    analysis: str
    values: list[Value]
    table: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    warnings: list[str]
    dataset_version: str
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, analysis: str, run: Run, values: list[Value], table: list[dict[str, Any]],
              summary: dict[str, Any] | None = None, chart: dict[str, Any] | None = None,
              table_title: str = "") -> Result:
        table = [{k: clean(v) for k, v in row.items()} for row in table]
        evidence: list[dict[str, Any]] = [k.definition_evidence()
                                          for k in run.definitions.values()]
        evidence += [s.to_dict() for s in run.sql]
        if table:
            evidence.append({"kind": "table", "title": table_title or analysis,
                             "columns": list(table[0]), "rows": table})
        evidence += run.tests
        if chart:
            evidence.append({"kind": "chart", **chart})
        evidence += [{"kind": "note", "text": n} for n in run.notes]
        evidence.append({"kind": "note", "text": f"dataset version {run.dataset_version}",
                         "dataset_version": run.dataset_version})
        return cls(analysis, values, table, evidence, list(run.warnings), run.dataset_version,
                   {k: clean(v) if not isinstance(v, (dict, list)) else v
                    for k, v in (summary or {}).items()})

    def to_dict(self) -> dict[str, Any]:
        return {"analysis": self.analysis, "values": [v.to_dict() for v in self.values],
                "table": self.table, "evidence": self.evidence, "warnings": self.warnings,
                "dataset_version": self.dataset_version, "summary": self.summary}

    def evidence_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.evidence if e["kind"] == kind]
