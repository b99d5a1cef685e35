"""The workshop pack: a whole conversation as Markdown or self-contained HTML.

Pure functions over `(question, Answer)` pairs, no Streamlit, so the pack can be built and
tested anywhere (UI download buttons, CLI, tests). Charts become the tables they were drawn
from: a workshop team pastes numbers into slides, and a table survives e-mail and printing.
Cells, tables and figures come from `assistant.presentation`, so the pack shows each number
as the page does, at its KPI's display precision.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt

from assistant.answer import Answer
from assistant.presentation import (
    answer_markdown,
    chart_table,
    display_rows,
    fmt,
    page_warnings,
    table_columns,
    tests_table,
    values_table,
)

Turn = tuple[str, Answer]
DEFAULT_TITLE = "CX benchmark workshop pack"
_MAX_ROWS = 200  # a pack is read by people; longer tables are cut with a note


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
            out += ["### Numbers", _md_table(*_shown_values(a))]
        tables = a.evidence_of("table")
        for t in tables:
            out += [f"### Table: {t.get('title', '')}", _md_table(*_shown_table(t))]
        for c in a.evidence_of("chart"):
            out += [f"### Chart ({c.get('type')}): {c.get('title', '')}",
                    _md_table(*chart_table(c, tables))]
        for d in a.evidence_of("definition"):
            out.append(f"### Definition: {d.get('label', d.get('kpi', ''))}\n\n"
                       f"{d.get('definition', '')}\n\nFormula: `{d.get('formula', '')}`")
        tests = a.evidence_of("test")
        if tests:
            out += ["### Tests", _md_table(*tests_table(tests))]
        passages = a.evidence_of("passage")
        if passages:
            out += ["### Sources"] + [_passage_line(p) for p in passages]
        warnings = page_warnings(a)
        if warnings:
            out += ["### Warnings"] + [f"- {w}" for w in warnings]
    return "\n\n".join(x for x in out if x) + "\n"


def _shown_values(a: Answer) -> tuple[list[str], list[dict[str, Any]]]:
    columns, rows = values_table(a)
    return columns, display_rows(rows)


def _shown_table(table: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    return table_columns(table), display_rows(table.get("rows", []))


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


# CommonMark with raw HTML escaped (html=False) and unsafe link schemes refused; no images,
# so a pack never fetches anything. A single newline stays a line break, as on the page.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable("image")


def markdown_html(text: str) -> str:
    """Answer, definition or passage text (a small Markdown subset) as safe HTML."""
    return _MARKDOWN.render(text or "")


def to_html(turns: Sequence[Turn], *, title: str = DEFAULT_TITLE,
            dataset_version: str | None = None) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if dataset_version:
        out.append(f"<p>Dataset version: <code>{html.escape(dataset_version)}</code></p>")
    for n, (question, a) in enumerate(turns, start=1):
        out.append(f"<h2>{n}. {html.escape(question)}</h2>{markdown_html(a.text)}")
        if a.values:
            out.append("<h3>Numbers</h3>" + _html_table(*_shown_values(a)))
        tables = a.evidence_of("table")
        for t in tables:
            out.append(f"<h3>Table: {_h(t.get('title'))}</h3>" + _html_table(*_shown_table(t)))
        for c in a.evidence_of("chart"):
            out.append(f"<h3>Chart ({_h(c.get('type'))}): {_h(c.get('title'))}</h3>"
                       + _html_table(*chart_table(c, tables)))
        for d in a.evidence_of("definition"):
            out.append(f"<h3>Definition: {_h(d.get('label') or d.get('kpi'))}</h3>"
                       f"{markdown_html(fmt(d.get('definition')))}<p>Formula: "
                       f"<code>{_h(d.get('formula'))}</code></p>")
        tests = a.evidence_of("test")
        if tests:
            out.append("<h3>Tests</h3>" + _html_table(*tests_table(tests)))
        passages = a.evidence_of("passage")
        if passages:
            out.append("<h3>Sources</h3>")
            for p in passages:
                where = " &gt; ".join(_h(x) for x in (p.get("title"), p.get("section")) if x)
                wave = f", wave {_h(p['wave'])}" if p.get("wave") else ""
                out.append(f"<p><strong>{where}</strong>{wave} ({_h(p.get('source'))})</p>"
                           f"<blockquote>{markdown_html(str(p.get('text', '')))}</blockquote>")
        warnings = page_warnings(a)
        if warnings:
            out.append("<h3>Warnings</h3><ul>" + "".join(
                f"<li class='warn'>{_h(w)}</li>" for w in warnings) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)
