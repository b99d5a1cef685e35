"""The workshop pack: Markdown and HTML built from (question, Answer) pairs, no Streamlit;
with the presentation pieces it shares with the page and the sidebar's starter texts."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from assistant.answer import Answer
from assistant.presentation import (
    chart_table,
    display_rows,
    page_warnings,
    table_csv,
    values_table,
)
from assistant.starters import SAMPLE_SLOTS, STARTER_TEMPLATES, llm_status, starter_questions
from assistant.workshop_pack import markdown_html, to_html, to_markdown

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
    assert "| Hemavel vs leader | paired t | -2.1 | 0.036 | yes | -7.3 |  |" in md
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
    import assistant.presentation
    import assistant.starters
    import assistant.workshop_pack

    # The pack and the pieces it shares with the page must build without Streamlit.
    for module in (assistant.workshop_pack, assistant.presentation, assistant.starters):
        source = open(module.__file__, encoding="utf-8").read()
        assert "import streamlit" not in source and "from streamlit" not in source, module


# ------------------------------------------------------------- display precision


def test_numbers_are_shown_at_each_kpis_display_precision() -> None:
    md = to_markdown(TURNS)
    # NPS in whole points with its sign (DOMAIN §4), bases as they are.
    assert "| nps | corastin | DE | 2025-Q4 | +12 | 210 | 198.4 | +2 | +23 |  |" in md
    assert "| nps | hemavel | DE | 2025-Q4 | +5 | 80 | 71 | -9 | +19 | small_base |" in md
    assert "12.3" not in md.split("### Table")[0]  # no raw float among the numbers
    assert "<td>+12</td>" in to_html(TURNS)


def test_display_rows_per_kpi_and_untouched_otherwise() -> None:
    rows = [{"kpi": "nps", "value": -31.4162, "ci_low": -40.2, "ci_high": -22.6,
             "change": -9.61, "base": 200},
            {"kpi": "promoters_pct", "value": 41.63},
            {"kpi": "csat_mean", "value": 3.8472},
            {"kpi": "importance:ease", "value": 12.3456},
            {"name": "no kpi", "value": 1.23456}]
    nps, share, mean, importance, other = display_rows(rows)
    assert (nps["value"], nps["ci_low"], nps["ci_high"], nps["change"], nps["base"]) == (
        "-31", "-40", "-23", "-10", 200)
    assert share["value"] == "42%" and mean["value"] == "3.8"
    assert importance == rows[3] and other == rows[4]
    assert rows[0]["value"] == -31.4162  # the input (and so the CSV) keeps full precision


# ------------------------------------------------------------- Markdown in the HTML pack


def test_html_pack_renders_the_markdown_subset_safely() -> None:
    a = Answer(question="q", route="both", intent="explain_change", query={},
               text="**Rep reach.** fell <script>alert(1)</script>\nsecond line",
               evidence=[{"kind": "passage", "title": "Wave report", "text":
                          "*Field force* cut in `DE`:\n\n- fewer visits\n- less time",
                          "source": "wave_reports/2025-Q4.md"},
                         {"kind": "definition", "kpi": "nps", "label": "NPS",
                          "definition": "Promoters **minus** detractors."}])
    page = to_html([("q", a)])
    assert "**" not in page and "<strong>Rep reach.</strong>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "fell &lt;script&gt;alert(1)&lt;/script&gt;<br />" in page  # a newline is a break
    assert "<em>Field force</em>" in page and "<code>DE</code>" in page
    assert "<ul>\n<li>fewer visits</li>" in page
    assert "Promoters <strong>minus</strong> detractors." in page


def test_markdown_html_refuses_unsafe_links_and_images() -> None:
    out = markdown_html("[x](javascript:alert(1)) ![t](http://tracker.example/p.png)")
    assert 'href="javascript' not in out and "<img" not in out


# ------------------------------------------------------------- what the page may show


def test_internal_errors_are_not_shown() -> None:
    a = Answer(question="q", route="none", intent="none", query={}, text="Sorry.",
               warnings=["internal error: QueryTimeout: statement took 20 s", "small base"])
    assert page_warnings(a) == ["small base"]
    for pack in (to_markdown([("q", a)]), to_html([("q", a)])):
        assert "QueryTimeout" not in pack and "small base" in pack


def catalogue(brands: list[str], markets: list[str], tas: list[str],
              waves: list[tuple[str, str]]) -> SimpleNamespace:
    return SimpleNamespace(
        brands=[{"name": b} for b in brands], markets=[{"name": m} for m in markets],
        therapy_areas=[{"name": t} for t in tas],
        wave_ids=lambda full_only=False: [w for w, kind in waves
                                          if not full_only or kind == "full"])


def test_starters_keep_the_sample_stories_on_the_sample() -> None:
    starters = starter_questions(catalogue(["Oncelis", "Cardiovex"], ["Germany"], ["Oncology"],
                                           [("2025-Q4", "full")]))
    assert starters == {g: [q.format(**SAMPLE_SLOTS) for q in qs]
                        for g, qs in STARTER_TEMPLATES.items()}
    assert "Why did Cardiovex's NPS fall in Germany in 2025-Q4?" in starters["Workshop team"]


def test_starters_follow_a_client_catalogue() -> None:
    starters = starter_questions(catalogue(["Zentra", "Oblix"], ["Japan", "Korea"],
                                           ["Neurology"], [("2024-H1", "full"),
                                                           ("2024-H2", "full"),
                                                           ("2025-Q1", "light")]))
    text = " ".join(q for qs in starters.values() for q in qs)
    assert "Cardiovex" not in text and "Germany" not in text and "oncology" not in text
    assert "How is Zentra doing in Japan?" in starters["Brand leader"]
    assert "Why did Zentra's NPS change in Japan in 2024-H2?" in starters["Workshop team"]
    assert "Which drivers matter most for recommendation in Neurology?" in text
    assert list(starters) == ["Brand leader", "Analyst", "Workshop team"]


@pytest.mark.parametrize(("llm", "configured", "shown"), [
    (SimpleNamespace(name="openai:gpt-x"), "openai:gpt-x", "LLM: **on** (openai:gpt-x)"),
    (None, "nosuch:model", "LLM: **configured but not usable** (CXASSIST_LLM=nosuch:model"),
    (None, None, "LLM: **off**"),
])
def test_llm_status_is_the_assistants_real_state(llm: object, configured: str | None,
                                                 shown: str) -> None:
    assert llm_status(llm, configured).startswith(shown)
