"""The workshop pack: a whole conversation as Markdown or self-contained HTML.

Pure functions over `(question, Answer)` pairs, no Streamlit, so the pack can be built and
tested anywhere (UI download buttons, CLI, tests). Charts become the tables they were drawn
from: a workshop team pastes numbers into slides, and a table survives e-mail and printing.
Figures are shown at their KPI's display precision, as on the page; the page's other pure
texts (starter questions, dataset summary, LLM status) live here too, so it stays layout.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt

from assistant.answer import Answer
from cxengine.kpis import catalogue

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


# ------------------------------------------------------------ sidebar texts

# Starter questions per user group (DOMAIN §1); the slots come from the catalogue.
STARTER_TEMPLATES: dict[str, list[str]] = {
    "Brand leader": [
        "How is {brand} doing in {market}?",
        "Are we ahead of the leader on NPS?",
        "Which channel gives {brand} the best experience in {market}?",
    ],
    "Analyst": [
        "How exactly is NPS computed here?",
        "What is the base for {brand} prescribers in {market} in {wave}?",
        "Is the {movement} in {brand} NPS in {market} from {from_wave} to {wave} significant?",
    ],
    "Workshop team": [
        "Why did {brand}'s NPS {moved} in {market} in {wave}?",
        "Which drivers matter most for recommendation in {ta}?",
        "What should we fix first?",
    ],
}
# The sample benchmark's planted stories (DOMAIN §6), used when its brands are in the data.
SAMPLE_SLOTS = {"brand": "Cardiovex", "market": "Germany", "ta": "oncology", "wave": "2025-Q4",
                "from_wave": "2025-Q2", "moved": "fall", "movement": "drop"}


def starter_questions(catalogue: Any) -> dict[str, list[str]]:
    """The starters on the sample's stories when its brands are in the data; else on the
    catalogue's first brand, market and therapy area and its latest full wave."""
    brands = [b["name"] for b in catalogue.brands]
    slots = SAMPLE_SLOTS
    if SAMPLE_SLOTS["brand"] not in brands:
        waves = catalogue.wave_ids(full_only=True) or catalogue.wave_ids()
        slots = {"brand": brands[0] if brands else "our brand",
                 "market": catalogue.markets[0]["name"] if catalogue.markets else "our market",
                 "ta": catalogue.therapy_areas[0]["name"] if catalogue.therapy_areas else "",
                 "wave": waves[-1] if waves else "",
                 "from_wave": waves[-2] if len(waves) > 1 else "the previous wave",
                 "moved": "change", "movement": "change"}
    return {group: [q.format(**slots) for q in questions]
            for group, questions in STARTER_TEMPLATES.items()}


def dataset_lines(catalogue: Any) -> list[str]:
    """What the data holds, one Markdown line per dimension."""
    return ["**Waves:** " + ", ".join(f"{w['wave_id']} ({w['wave_type']})"
                                      for w in catalogue.waves),
            "**Markets:** " + ", ".join(f"{m['market_id']} {m['name']}"
                                        for m in catalogue.markets),
            "**Therapy areas:** " + ", ".join(f"{t['ta_id']} {t['name']}"
                                              for t in catalogue.therapy_areas),
            "**Brands:** " + ", ".join(f"{b['name']} ({b['company']}, {b['ta_id']})"
                                       for b in catalogue.brands)]


def llm_status(llm: Any, configured: str | None) -> str:
    """The assistant's real LLM state: the one it loaded, if any, not the variable's."""
    if llm is not None:
        return f"LLM: **on** ({getattr(llm, 'name', 'LLM')})."
    if configured:
        return (f"LLM: **configured but not usable** (CXASSIST_LLM={configured}; see the "
                "server log); answers are deterministic.")
    return "LLM: **off** (set CXASSIST_LLM to enable); answers are deterministic."


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


TEST_COLUMNS = ["label", "test", "statistic", "p_value", "significant", "difference", "note"]


def tests_table(tests: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """`test` evidence as a table; `note` says why a test was approximate or not run."""
    rows = [{**{c: t.get(c) for c in TEST_COLUMNS[:-1]},
             "note": fmt((t.get("detail") or {}).get("reason"))} for t in tests]
    return TEST_COLUMNS, rows


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
