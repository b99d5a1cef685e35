"""How an Answer is shown, on the page and in the pack alike.

Cell text, answer Markdown, tables (values, evidence tables, the data behind a chart, tests)
and the warnings people may read. Pure functions, no Streamlit: the page, the charts and the
workshop pack all take them from here, so a figure reads the same wherever it appears, at
its KPI's display precision.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from assistant.answer import VALUE_KEYS, Answer
from cxengine.kpis import catalogue


def fmt(v: Any) -> str:
    """Cell text: floats to at most 4 decimals, lists joined, None blank."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if v == v else ""
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
    return str(v)


def answer_markdown(text: str) -> str:
    """An answer's text as Markdown. Its lines are separate statements (numbers, quotes,
    assumptions): a hard line break keeps each on its own line instead of one run-on
    paragraph; blank lines still separate paragraphs."""
    return re.sub(r"(?<!\n)\n(?!\n)", "  \n", text or "_(no answer text)_")


def table_csv(table: dict[str, Any]) -> str:
    """One `table` evidence item as CSV text (columns in the engine's order)."""
    columns = table_columns(table)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in table.get("rows", []):
        writer.writerow([fmt(row.get(c)) for c in columns])
    return buf.getvalue()


def table_columns(table: dict[str, Any]) -> list[str]:
    columns = list(table.get("columns") or [])
    for row in table.get("rows", []):  # rows of mixed parts (explain_change) add columns
        columns += [k for k in row if k not in columns]
    return columns


VALUE_COLUMNS = VALUE_KEYS  # the Answer contract's value keys, in its order


# Figures in a KPI's own units, shown as that KPI displays them; deltas with their sign.
KPI_FIGURES = ("value", "ci_low", "ci_high", "change", "gap_to_leader")
_SIGNED = ("change", "gap_to_leader")
_INTERNAL_ERROR = "internal error"


def values_table(answer: Answer) -> tuple[list[str], list[dict[str, Any]]]:
    """Answer.values as a table, dropping label columns that are empty in every row."""
    rows = [dict(v) for v in answer.values]
    columns = [c for c in VALUE_COLUMNS
               if c in ("value", "base", "effective_base", "ci_low", "ci_high", "flags")
               or any(r.get(c) not in (None, "") for r in rows)]
    return columns, rows


def display_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the figures of a catalogue KPI (the row's `kpi`) as text at that KPI's
    display precision (DOMAIN §4: NPS whole points, shares whole %, means one decimal).
    Rows of anything else (importance shares, correlations) are left as they are; the
    CSV downloads keep full precision."""
    kpis = catalogue()
    out = []
    for row in rows:
        kpi = kpis.get(str(row.get("kpi")))
        shown = dict(row)
        if kpi is not None:
            for c in KPI_FIGURES:
                v = row.get(c)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    shown[c] = kpi.format(float(v), signed=c in _SIGNED)
        out.append(shown)
    return out


def page_warnings(answer: Answer) -> list[str]:
    """The warnings people may read: an "internal error: ..." warning carries a raw
    exception (the answer text already says something went wrong), so it is left out."""
    return [w for w in answer.warnings if not w.startswith(_INTERNAL_ERROR)]


def chart_table(chart: dict[str, Any], tables: Sequence[dict[str, Any]]
                ) -> tuple[list[str], list[dict[str, Any]]]:
    """The data a chart shows, as (columns, rows)."""
    if chart.get("type") == "waterfall":
        rows: list[dict[str, Any]] = [{"step": "start", "value": chart.get("start")}]
        rows += [{"step": s.get("label"), "value": s.get("value")}
                 for s in chart.get("steps", [])]
        rows.append({"step": "end", "value": chart.get("end")})
        return ["step", "value"], rows
    if chart.get("points"):
        points = list(chart["points"])
        return list(dict.fromkeys(k for p in points for k in p)), points
    if not tables:
        return [], []
    table = tables[0]
    wanted = [chart.get(k) for k in ("label", "x", "y", "size", "color", "series", "mark")]
    wanted += list(chart.get("band") or [])
    if chart.get("highlight"):
        wanted.append(chart["highlight"])
    columns = [c for c in dict.fromkeys(w for w in wanted if w) if c in table_columns(table)]
    return columns, [{c: r.get(c) for c in columns} for r in table.get("rows", [])]


TEST_COLUMNS = ["label", "test", "statistic", "p_value", "significant", "difference", "note"]


def tests_table(tests: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """`test` evidence as a table; `note` says why a test was approximate or not run."""
    rows = [{**{c: t.get(c) for c in TEST_COLUMNS[:-1]},
             "note": fmt((t.get("detail") or {}).get("reason"))} for t in tests]
    return TEST_COLUMNS, rows

