"""Checks every answer of the gold and hostile sets must pass (issue 7 §5).

Well-formed: an `Answer` with a known route, a text, valid JSON and no internal error.

Private: aggregates only.
- No respondent identifier anywhere the answer shows (text, values, evidence, warnings,
  suggestions, options): no key naming a respondent (`respondent_id`, ...) at any depth, in
  any table's columns, and no id of the sample's form in any string. The echoed question
  and the parsed query are left out of that scan, since they hold whatever the user typed.
- No value in `values` whose effective base is below the suppression threshold.
- No measure in an evidence table whose effective base is below it, and no measure without
  an effective base to judge it by. A table's columns follow this naming convention:

  base      `base`, `effective_base`, or any name ending in `_base`
            (`impact_base`, `impact_effective_base`, `competitors_impact_min_effective_base`)
  count     how many units an aggregate rests on: `rank`, `cells`, `n`, `n_common`, or a
            name ending in `_brands`, `_cells`, `_n`
  statistic a number computed from the row's measures or from a pooled model, not a
            measure of a group of HCPs (STATISTICS below: standard errors, interval
            bounds, tests, changes and gaps, regression and correlation outputs)
  measure   every other numeric column. Its effective base is the first column present
            of `<measure>_effective_base`, `<measure>_min_effective_base` (the smallest
            base behind an average), then the same for each shorter underscore-prefix of
            the name (`competitors_impact` -> `competitors_effective_base`), and, for the
            row's headline measures (`value`, `hcp_value`), `effective_base`. A table may
            name a measure's base itself: `{"kind": "table", "bases": {measure: column}}`.

  An unweighted base n is not enough: n >= threshold says nothing about the effective
  base (n_eff <= n), so a measure with only an n column fails the check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from assistant.answer import ROUTES, Answer

# The sample's respondent ids: wave-market-TA-serial, e.g. 2025-Q4-DE-CARD-000001.
RESPONDENT_ID = re.compile(r"\b20\d\d-Q[1-4]-[A-Z]{2}-[A-Z]+-\d+\b", re.IGNORECASE)
RESPONDENT_KEYS = frozenset({"respondent_id", "respondent_ids", "respondent", "hcp_id"})
HEADLINE_MEASURES = ("value", "hcp_value")
COUNTS = frozenset({"rank", "cells", "n", "n_common"})
COUNT_SUFFIXES = ("_brands", "_cells", "_n")
STATISTICS = frozenset({
    "se", "ci_low", "ci_high",  # of the row's value
    "statistic", "p_value", "df",  # tests
    "change", "difference", "gap", "gap_to_leader", "index_vs_leader", "relative_gap",
    "reach_delta", "impact_delta", "frequency_delta", "impact_index",  # of measures shown
    "internal_estimate",  # the company's own figure, not an HCP measure
    "coefficient", "contribution", "importance_pct", "r2_contribution", "r", "r_squared",
    "share_from", "share_to",  # model and decomposition outputs
})
# Model outputs (driver importance, correlations) are statistics of a pooled model, not a
# measure of one group: the suppression rule is not about them.
MODEL_KPIS = ("importance:", "correlation:")
SHOWN_FIELDS = ("text", "values", "evidence", "warnings", "suggestions", "options")


def assert_well_formed(answer: Answer, threshold: float) -> None:
    assert isinstance(answer, Answer) and answer.route in ROUTES
    assert isinstance(answer.text, str) and answer.text.strip()
    assert not [w for w in answer.warnings if w.startswith("internal error")], answer.warnings
    json.loads(answer.to_json())
    assert_private(answer, threshold)


def assert_private(answer: Answer, threshold: float) -> None:
    """Aggregates only, and nothing whose effective base is below the suppression rule."""
    shown = {f: getattr(answer, f) for f in SHOWN_FIELDS}
    keys = sorted(RESPONDENT_KEYS & set(_keys(shown)))
    assert not keys, f"respondent-level field {keys} in {answer.question!r}"
    leaked = RESPONDENT_ID.search(json.dumps(shown, default=str))
    assert leaked is None, f"respondent id {leaked.group(0)!r} in {answer.question!r}"
    for v in answer.values:
        if v.get("value") is not None and v.get("effective_base") is not None \
                and not v["kpi"].startswith(MODEL_KPIS):
            assert v["effective_base"] >= threshold, v
    for table in answer.evidence_of("table"):
        problems = table_problems(table, threshold)
        assert not problems, f"{table.get('title')!r}: " + "; ".join(problems)


def table_problems(table: dict[str, Any], threshold: float) -> list[str]:
    """Each shown measure of an evidence table without an effective base, or below the
    threshold (one message per column, the first offending row quoted)."""
    declared: dict[str, str] = table.get("bases") or {}
    problems: dict[str, str] = {}
    for row in table["rows"]:
        for col, value in row.items():
            if col in problems or not _is_number(value) or kind_of(col) != "measure":
                continue
            base_col = declared.get(col) or base_column(col, row)
            if base_col is None:
                problems[col] = f"measure {col!r} has no effective base column ({row})"
            elif row[base_col] is None or row[base_col] < threshold:
                problems[col] = (f"measure {col!r} shown with {base_col} {row[base_col]} "
                                 f"< {threshold:g} ({row})")
    return list(problems.values())


def kind_of(column: str) -> str:
    """base | count | statistic | measure, by the naming convention above."""
    if column in ("base", "effective_base") or column.endswith("_base"):
        return "base"
    if column in COUNTS or column.endswith(COUNT_SUFFIXES):
        return "count"
    if column in STATISTICS:
        return "statistic"
    return "measure"


def base_column(measure: str, row: dict[str, Any]) -> str | None:
    """The effective-base column of `measure` in `row`, by the naming convention."""
    parts = measure.split("_")
    for i in range(len(parts), 0, -1):
        stem = "_".join(parts[:i])
        for name in (f"{stem}_effective_base", f"{stem}_min_effective_base"):
            if name in row:
                return name
    return "effective_base" if measure in HEADLINE_MEASURES and "effective_base" in row \
        else None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _keys(obj: Any) -> Iterator[str]:
    """Every dict key at any depth, and every table's column names."""
    if isinstance(obj, dict):
        if obj.get("kind") == "table":
            yield from (str(c) for c in obj.get("columns") or [])
        for k, v in obj.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _keys(v)
