"""The workshop pack: a whole conversation as Markdown or self-contained HTML.

Pure functions over `(question, Answer)` pairs, no Streamlit, so the pack can be built and
tested anywhere (UI download buttons, CLI, tests). Charts become the tables they were drawn
from: a workshop team pastes numbers into slides, and a table survives e-mail and printing.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from typing import Any

from assistant.answer import Answer

Turn = tuple[str, Answer]
DEFAULT_TITLE = "CX benchmark workshop pack"
_MAX_ROWS = 200  # a pack is read by people; longer tables are cut with a note


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


VALUE_COLUMNS = ("kpi", "brand", "market", "ta", "wave", "segment", "channel", "value", "base",
                 "effective_base", "ci_low", "ci_high", "flags")


def values_table(answer: Answer) -> tuple[list[str], list[dict[str, Any]]]:
    """Answer.values as a table, dropping label columns that are empty in every row."""
    rows = [dict(v) for v in answer.values]
    columns = [c for c in VALUE_COLUMNS
               if c in ("value", "base", "effective_base", "ci_low", "ci_high", "flags")
               or any(r.get(c) not in (None, "") for r in rows)]
    return columns, rows


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


# ----------------------------------------------------------------- Markdown


def _md_cell(v: Any) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def _md_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    if not columns:
        return ""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in columns) + " |"
              for r in rows[:_MAX_ROWS]]
    if len(rows) > _MAX_ROWS:
        lines.append(f"\n_{len(rows) - _MAX_ROWS} more rows left out; download the CSV._")
    return "\n".join(lines)


def _passage_line(p: dict[str, Any]) -> str:
    where = " > ".join(x for x in (p.get("title"), p.get("section")) if x)
    wave = f", wave {p['wave']}" if p.get("wave") else ""
    quote = "\n".join("> " + line for line in str(p.get("text", "")).strip().splitlines())
    return f"**{where}**{wave} ({p.get('source', '')})\n\n{quote}"


def to_markdown(turns: Sequence[Turn], *, title: str = DEFAULT_TITLE,
                dataset_version: str | None = None) -> str:
    out = [f"# {title}"]
    if dataset_version:
        out.append(f"Dataset version: `{dataset_version}`")
    for n, (question, a) in enumerate(turns, start=1):
        out.append(f"## {n}. {question}")
        out.append(answer_markdown(a.text))
        if a.values:
            out += ["### Numbers", _md_table(*values_table(a))]
        tables = a.evidence_of("table")
        for t in tables:
            out += [f"### Table: {t.get('title', '')}", _md_table(table_columns(t),
                                                                  t.get("rows", []))]
        for c in a.evidence_of("chart"):
            out += [f"### Chart ({c.get('type')}): {c.get('title', '')}",
                    _md_table(*chart_table(c, tables))]
        for d in a.evidence_of("definition"):
            out.append(f"### Definition: {d.get('label', d.get('kpi', ''))}\n\n"
                       f"{d.get('definition', '')}\n\nFormula: `{d.get('formula', '')}`")
        tests = a.evidence_of("test")
        if tests:
            out += ["### Tests", _md_table(*_tests_table(tests))]
        passages = a.evidence_of("passage")
        if passages:
            out += ["### Sources"] + [_passage_line(p) for p in passages]
        if a.warnings:
            out += ["### Warnings"] + [f"- {w}" for w in a.warnings]
    return "\n\n".join(x for x in out if x) + "\n"


def _tests_table(tests: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    rows = [{"label": t.get("label"), "test": t.get("test"), "statistic": t.get("statistic"),
             "p_value": t.get("p_value"), "significant": t.get("significant"),
             "difference": t.get("difference")} for t in tests]
    return ["label", "test", "statistic", "p_value", "significant", "difference"], rows


# --------------------------------------------------------------------- HTML

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}th{background:#f3f3f3}
blockquote{border-left:3px solid #999;margin:.5rem 0;padding:.2rem 1rem;color:#444}
.warn{color:#8a4b00}h2{border-top:1px solid #ddd;padding-top:1rem}"""


def _h(v: Any) -> str:
    return html.escape(fmt(v))


def _html_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    if not columns:
        return ""
    head = "".join(f"<th>{_h(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_h(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows[:_MAX_ROWS])
    more = (f"<p><em>{len(rows) - _MAX_ROWS} more rows left out; download the CSV.</em></p>"
            if len(rows) > _MAX_ROWS else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                   for p in text.split("\n\n") if p.strip())


def to_html(turns: Sequence[Turn], *, title: str = DEFAULT_TITLE,
            dataset_version: str | None = None) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if dataset_version:
        out.append(f"<p>Dataset version: <code>{html.escape(dataset_version)}</code></p>")
    for n, (question, a) in enumerate(turns, start=1):
        out.append(f"<h2>{n}. {html.escape(question)}</h2>{_paragraphs(a.text)}")
        if a.values:
            out.append("<h3>Numbers</h3>" + _html_table(*values_table(a)))
        tables = a.evidence_of("table")
        for t in tables:
            out.append(f"<h3>Table: {_h(t.get('title'))}</h3>"
                       + _html_table(table_columns(t), t.get("rows", [])))
        for c in a.evidence_of("chart"):
            out.append(f"<h3>Chart ({_h(c.get('type'))}): {_h(c.get('title'))}</h3>"
                       + _html_table(*chart_table(c, tables)))
        for d in a.evidence_of("definition"):
            out.append(f"<h3>Definition: {_h(d.get('label') or d.get('kpi'))}</h3>"
                       f"<p>{_h(d.get('definition'))}</p><p>Formula: "
                       f"<code>{_h(d.get('formula'))}</code></p>")
        tests = a.evidence_of("test")
        if tests:
            out.append("<h3>Tests</h3>" + _html_table(*_tests_table(tests)))
        passages = a.evidence_of("passage")
        if passages:
            out.append("<h3>Sources</h3>")
            for p in passages:
                where = " &gt; ".join(_h(x) for x in (p.get("title"), p.get("section")) if x)
                wave = f", wave {_h(p['wave'])}" if p.get("wave") else ""
                out.append(f"<p><strong>{where}</strong>{wave} ({_h(p.get('source'))})</p>"
                           f"<blockquote>{_paragraphs(str(p.get('text', '')))}</blockquote>")
        if a.warnings:
            out.append("<h3>Warnings</h3><ul>" + "".join(
                f"<li class='warn'>{_h(w)}</li>" for w in a.warnings) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)
