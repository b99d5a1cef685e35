"""The workshop pack: Markdown and HTML built from (question, Answer) pairs, no Streamlit."""

from __future__ import annotations

import csv
import io

from assistant.answer import Answer
from assistant.workshop_pack import chart_table, table_csv, to_html, to_markdown, values_table

RANKING = Answer(
    question="Who leads cardiology in Germany?", route="both", intent="ranking",
    query={"kpi": "nps"}, text="Corastin leads on NPS <b>+12</b>.",
    values=[{"kpi": "nps", "brand": "corastin", "market": "DE", "wave": "2025-Q4", "value": 12.3,
             "base": 210, "effective_base": 198.4, "ci_low": 2.0, "ci_high": 22.6, "flags": []},
            {"kpi": "nps", "brand": "hemavel", "market": "DE", "wave": "2025-Q4", "value": 5.0,
             "base": 80, "effective_base": 71.0, "ci_low": -9.0, "ci_high": 19.0,
             "flags": ["small_base"]}],
    evidence=[
        {"kind": "definition", "kpi": "nps", "label": "Net Promoter Score",
         "definition": "Promoters minus detractors.", "formula": "100 x (p - d)"},
        {"kind": "sql", "sql": "SELECT 1 WHERE brand = ?", "params": ["corastin"]},
        {"kind": "table", "title": "NPS ranking", "columns": ["name", "value", "leader"],
         "rows": [{"name": "Corastin", "value": 12.3, "leader": True},
                  {"name": "Hemavel | x", "value": 5.0, "leader": False, "gap_to_leader": -7.3}]},
        {"kind": "test", "label": "Hemavel vs leader", "test": "paired t", "statistic": -2.1,
         "p_value": 0.036, "significant": True, "difference": -7.3},
        {"kind": "chart", "type": "ranking", "x": "name", "y": "value", "highlight": "leader",
         "title": "NPS ranking"},
        {"kind": "passage", "title": "Wave report 2025-Q4", "section": "Cardiology",
         "wave": "2025-Q4", "text": "Corastin gained after the <launch>.",
         "source": "wave_reports/2025-Q4.md"},
    ],
    warnings=["Hemavel: small base (n_eff 71)"])
WHY = Answer(
    question="Why did it fall?", route="engine", intent="explain_change", query={},
    text="It fell 10 points.",
    evidence=[{"kind": "chart", "type": "waterfall", "start": 14.0, "end": 4.0,
               "steps": [{"label": "respect_time", "value": -6.0},
                         {"label": "not explained", "value": -4.0}]}])
TURNS = [(RANKING.question, RANKING), (WHY.question, WHY)]


def test_markdown_has_questions_answers_tables_charts_and_sources() -> None:
    md = to_markdown(TURNS, dataset_version="abc123")
    assert md.startswith("# CX benchmark workshop pack")
    assert "`abc123`" in md
    assert "## 1. Who leads cardiology in Germany?" in md and "## 2. Why did it fall?" in md
    assert "| name | value | leader | gap_to_leader |" in md  # columns from mixed rows
    assert "Hemavel \\| x" in md  # pipes escaped so the table stays a table
    assert "### Chart (ranking): NPS ranking" in md
    assert "| respect_time | -6 |" in md and "| start | 14 |" in md  # waterfall as a table
    assert "> Corastin gained after the <launch>." in md
    assert "wave_reports/2025-Q4.md" in md
    assert "| Hemavel vs leader | paired t | -2.1 | 0.036 | yes | -7.3 |" in md
    assert "- Hemavel: small base (n_eff 71)" in md
    assert "small_base" in md


def test_html_is_escaped_and_complete() -> None:
    page = to_html(TURNS, title="Workshop <DE>")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<title>Workshop &lt;DE&gt;</title>" in page
    assert "<b>+12</b>" not in page and "&lt;b&gt;+12&lt;/b&gt;" in page
    assert "&lt;launch&gt;" in page
    assert page.count("<table>") == 5  # numbers, table, ranking chart, tests, waterfall
    assert "<td>respect_time</td><td>-6</td>" in page


def test_values_table_drops_empty_label_columns() -> None:
    columns, rows = values_table(RANKING)
    assert columns == ["kpi", "brand", "market", "wave", "value", "base", "effective_base",
                       "ci_low", "ci_high", "flags"]
    assert len(rows) == 2


def test_table_csv_round_trips() -> None:
    rows = list(csv.reader(io.StringIO(table_csv(RANKING.evidence_of("table")[0]))))
    assert rows[0] == ["name", "value", "leader", "gap_to_leader"]
    assert rows[2] == ["Hemavel | x", "5", "no", "-7.3"]


def test_chart_table_uses_the_chart_fields() -> None:
    columns, rows = chart_table(RANKING.evidence_of("chart")[0], RANKING.evidence_of("table"))
    assert columns == ["name", "value", "leader"] and rows[0]["leader"] is True
    scatter = {"type": "scatter", "x": "a", "y": "b", "points": [{"cell": "x/DE", "a": 1,
                                                                   "b": 2}]}
    assert chart_table(scatter, []) == (["cell", "a", "b"], scatter["points"])


def test_empty_conversation_and_no_streamlit() -> None:
    assert to_markdown([]).startswith("# CX benchmark workshop pack")
    assert "<h2>" not in to_html([])
    import assistant.workshop_pack as pack

    source = open(pack.__file__, encoding="utf-8").read()
    assert "import streamlit" not in source and "from streamlit" not in source
