"""The page against issue 6 §1-§4, for what tests/test_app.py does not cover: each chart as
drawn (its Vega-Lite spec), suggestions as buttons, the sidebar, CSV and workshop-pack
downloads, the first-start build with visible progress, and plain messages (never a traceback)
for a failed first start or a corrupt index.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant.answer import Answer
from assistant.charts import build_chart, values_frame
from cxengine.engine import Engine
from cxengine.kpis import get_kpi
from tests.conftest import ROOT
from tests.test_app import ask

APP = str(ROOT / "streamlit_app.py")
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"
pytestmark = [
    pytest.mark.skipif(not (ROOT / "data/cx.duckdb").exists(),
                       reason="data/cx.duckdb missing: run `make data`"),
]

CHART_QUESTIONS = {
    "ranking": "Rank cardiology brands by NPS in Germany in 2025-Q4",
    "trend": "Show the NPS trend over time for Cardiovex in Germany",
    "key_drivers": "Which drivers matter most for recommendation in cardiology?",
    "channel_mix": "Which channel gives Cardiovex the best experience in Germany in 2025-Q4?",
    "explain_change": "Why did Cardiovex's NPS fall in Germany in 2025-Q4?",
}


class NoPassages:
    """A retriever with nothing in it: the chart tests need numbers only."""

    def search(self, query: str, k: int = 5, **filters: Any) -> list[Any]:
        return []


@pytest.fixture(scope="module")
def answers(engine: Engine) -> dict[str, Answer]:
    from assistant.service import Assistant

    assistant = Assistant(engine, NoPassages)
    return {intent: assistant.ask(q) for intent, q in CHART_QUESTIONS.items()}


def spec(answer: Answer) -> dict[str, Any]:
    [chart] = answer.evidence_of("chart")
    drawn = build_chart(chart, answer.evidence_of("table"))
    assert drawn is not None, chart
    return drawn.to_dict()


def layers(s: dict[str, Any]) -> list[dict[str, Any]]:
    return s.get("layer", [s])


def mark(layer: dict[str, Any]) -> str:
    m = layer["mark"]
    return m if isinstance(m, str) else m["type"]


def rows(s: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return s["datasets"][(layer.get("data") or s["data"])["name"]]


def table_rows(answer: Answer) -> list[dict[str, Any]]:
    return answer.evidence_of("table")[0]["rows"]


# ------------------------------------------------------------------ charts per intent


def test_ranking_bars_mark_the_leader(answers: dict[str, Answer]) -> None:
    a = answers["ranking"]
    s = spec(a)
    assert mark(s) == "bar"
    assert s["encoding"]["color"]["condition"]["test"] == "datum._lead"
    lead = [r["name"] for r in rows(s, s) if r["_lead"]]
    assert lead == [r["name"] for r in table_rows(a) if r["leader"]]
    assert len(rows(s, s)) == len(table_rows(a)) >= 2


def test_trend_line_has_ci_band_and_marks_significant_changes(
        answers: dict[str, Answer]) -> None:
    a = answers["trend"]
    s = spec(a)
    by_mark = {mark(layer): layer for layer in layers(s)}
    band = by_mark["area"]["encoding"]
    assert (band["y"]["field"], band["y2"]["field"]) == ("ci_low", "ci_high")
    assert by_mark["line"]["encoding"]["y"]["field"] == "value"
    significant = [r["wave"] for r in table_rows(a) if r.get("significant")]
    assert significant, "the sample trend should hold a significant change to mark"
    marked = by_mark["point"]
    assert marked["mark"]["shape"] == "diamond"
    assert [r["wave"] for r in rows(s, marked)] == significant


def test_key_drivers_are_an_importance_by_performance_quadrant(
        answers: dict[str, Answer]) -> None:
    a = answers["key_drivers"]
    s = spec(a)
    marks = [mark(layer) for layer in layers(s)]
    assert marks.count("rule") == 2 and "circle" in marks and "text" in marks
    points = next(layer for layer in layers(s) if mark(layer) == "circle")
    enc = points["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"]) == (
        "performance", "importance_pct", "quadrant")
    assert {r["predictor"] for r in rows(s, points)} == {r["predictor"] for r in table_rows(a)}


def rule_at(s: dict[str, Any]) -> dict[str, float]:
    """Where the quadrant's dashed lines are: {field: value}."""
    return {k: v for layer in layers(s) if mark(layer) == "rule"
            for k, v in rows(s, layer)[0].items()}


def test_quadrant_lines_are_the_engines_cuts(answers: dict[str, Answer]) -> None:
    a = answers["key_drivers"]
    [chart] = a.evidence_of("chart")
    tables = a.evidence_of("table")
    given = build_chart({**chart, "x_cut": 6.125, "y_cut": 12.5}, tables)
    assert given is not None
    assert rule_at(given.to_dict()) == {"performance": 6.125, "importance_pct": 12.5}
    # Without the engine's cuts: the engine's rule (mean performance, median importance)
    # recomputed from the table.
    plain = build_chart({k: v for k, v in chart.items() if k not in ("x_cut", "y_cut")},
                        tables)
    assert plain is not None
    fallback = rule_at(plain.to_dict())
    table = table_rows(a)
    assert fallback["performance"] == pytest.approx(
        statistics.mean(r["performance"] for r in table))
    assert fallback["importance_pct"] == pytest.approx(
        statistics.median(r["importance_pct"] for r in table))
    # The engine sends the cuts it assigned the quadrants with; they are what is drawn.
    assert rule_at(spec(a)) == {"performance": chart["x_cut"], "importance_pct": chart["y_cut"]}
    for r in table:  # and every point sits in the quadrant the engine named
        important, strong = r["importance_pct"] >= chart["y_cut"], \
            r["performance"] >= chart["x_cut"]
        assert r["quadrant"] == {(True, False): "fix", (True, True): "leverage",
                                 (False, True): "maintain", (False, False): "monitor"}[
            (important, strong)], r


def test_channel_mix_is_reach_by_impact_bubbles(answers: dict[str, Answer]) -> None:
    s = spec(answers["channel_mix"])
    points = next(layer for layer in layers(s) if mark(layer) == "circle")
    enc = points["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["size"]["field"]) == (
        "reach", "impact", "frequency")


def test_why_is_a_waterfall_of_driver_contributions(answers: dict[str, Answer]) -> None:
    a = answers["explain_change"]
    [chart] = a.evidence_of("chart")
    s = spec(a)
    assert mark(s) == "bar" and s["encoding"]["y2"]["field"] == "to"
    bars = rows(s, s)
    steps = [b["step"] for b in bars]
    assert steps[0] == "start" and steps[-1] == "end" and len(steps) == len(chart["steps"]) + 2
    assert bars[0]["to"] == pytest.approx(chart["start"])
    assert bars[1]["from"] == pytest.approx(chart["start"])
    # Each step starts where the last ended, and the contributions close the gap to the end.
    for before, step in zip(bars[1:-1], bars[2:-1], strict=False):
        assert step["from"] == pytest.approx(before["to"])
    assert bars[-2]["to"] == pytest.approx(chart["end"], abs=0.05)


# ------------------------------------------------------------------ the page


def open_page(monkeypatch: pytest.MonkeyPatch, timeout: float = 60, **env: str) -> AppTest:
    """The page, freshly started (no cached engine or assistant) with `env` set."""
    st.cache_resource.clear()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture()
def page(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    yield open_page(monkeypatch)
    st.cache_resource.clear()


def test_chart_tab_draws_vega_lite(page: AppTest) -> None:
    ask(page, CHART_QUESTIONS["ranking"])
    assert "Chart" in [t.label for t in page.tabs]
    assert len(page.get("vega_lite_chart")) == 1


def test_suggestions_are_buttons_that_ask(page: AppTest) -> None:
    answer = ask(page, "What is the NPS of Cardiovex in Germany in 2025-Q4?")
    assert answer.suggestions, "a number should come with follow-up suggestions"
    buttons = sorted((b for b in page.button if b.key and b.key.startswith("t0-sug-")),
                     key=lambda b: int(b.key.rsplit("-", 1)[1]))
    assert [b.label for b in buttons] == answer.suggestions
    buttons[0].click().run()
    assert not page.exception
    assert page.session_state["turns"][-1][0] == answer.suggestions[0]


def test_sidebar_dataset_starters_llm_status(page: AppTest, engine: Engine) -> None:
    catalogue = engine.catalogue()
    [dataset] = [e for e in page.sidebar.expander if e.label.startswith("Dataset")]
    assert catalogue.dataset_version in dataset.label
    shown = " ".join(m.value for m in dataset.markdown)
    for w in catalogue.waves:
        assert w["wave_id"] in shown
    for item in (*catalogue.markets, *catalogue.therapy_areas, *catalogue.brands):
        assert item["name"] in shown
    assert [s.key for s in page.sidebar.selectbox] == ["ctx_brand", "ctx_market", "ctx_ta",
                                                       "ctx_wave"]
    groups = {e.label for e in page.sidebar.expander} - {dataset.label}
    assert groups == {"Brand leader", "Analyst", "Workshop team"}
    for group in ("brand_leader", "analyst", "workshop_team"):
        assert any(b.key == f"starter-{group}-0" for b in page.sidebar.button)
    assert any("LLM:" in c.value for c in page.sidebar.caption)
    assert any(b.key == "new_conversation" for b in page.sidebar.button)


def test_csv_per_table_and_workshop_pack(page: AppTest) -> None:
    assert not page.download_button  # nothing to take away before the first answer
    answer = ask(page, CHART_QUESTIONS["ranking"])
    keys = {b.key for b in page.download_button}
    tables = answer.evidence_of("table")
    assert {f"t0-table-{i}" for i in range(len(tables))} <= keys
    assert ("t0-values-csv" in keys) == bool(answer.values)
    # In the very run that answered: the pack is built after the new turn, so it includes it.
    assert {"pack-md", "pack-html"} <= {b.key for b in page.sidebar.download_button}


def test_numbers_at_display_precision_and_csv_at_full(page: AppTest) -> None:
    answer = ask(page, "What is the NPS of Cardiovex in Germany in 2025-Q4?")
    nps = get_kpi("nps")
    values, table = page.dataframe[0].value, page.dataframe[1].value
    assert list(values["value"]) == [nps.format(v["value"]) for v in answer.values]
    assert list(values["ci_low"]) == [nps.format(v["ci_low"]) for v in answer.values]
    assert list(table["value"]) == [nps.format(r["value"])
                                    for r in answer.evidence_of("table")[0]["rows"]]
    exact = values_frame(answer, exact=True)  # what "Numbers as CSV" holds
    assert list(exact["value"]) == [v["value"] for v in answer.values]


class ScriptedAssistant:
    """An assistant with an LLM loaded whose every answer is an internal error."""

    llm = SimpleNamespace(name="fake:model")

    def ask(self, question: str, conversation: Any = None) -> Answer:
        return Answer(question=question, route="none", intent="none", query={},
                      text="Sorry, something went wrong while answering that question.",
                      warnings=["internal error: QueryTimeout: SELECT took 20 s",
                                "2025-Q3 is a light wave"])


def scripted_assistant(engine: Engine) -> ScriptedAssistant:
    return ScriptedAssistant()


def test_internal_error_warnings_stay_off_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, CXASSIST_APP_ASSISTANT="tests.test_app_views:scripted_assistant")
    try:
        ask(at, "What is the NPS of Cardiovex in Germany in 2025-Q4?")
        shown = " ".join(e.value for e in (*at.caption, *at.warning, *at.markdown))
        assert "light wave" in shown
        assert "internal error" not in shown and "QueryTimeout" not in shown
        assert "LLM: **on** (fake:model)" in " ".join(c.value for c in at.sidebar.caption)
    finally:
        st.cache_resource.clear()


def test_llm_configured_but_unusable_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, CXASSIST_LLM="nosuchprovider:model")
    try:
        status = " ".join(c.value for c in at.sidebar.caption if "LLM" in c.value)
        assert "configured but not usable" in status and "**on**" not in status
    finally:
        st.cache_resource.clear()


def test_default_context_fills_the_market(page: AppTest) -> None:
    page.selectbox(key="ctx_market").set_value("FR").run()
    answer = ask(page, "What is the NPS of Cardiovex in 2025-Q4?")
    assert answer.route in ("engine", "both"), answer.text
    assert {v.get("market") for v in answer.values} == {"FR"}


# ------------------------------------------------------------------ start-up and failure


def test_first_start_builds_the_missing_index_with_progress(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    at = open_page(monkeypatch, timeout=600, CXASSIST_INDEX_DIR=str(tmp_path / "index"),
                   CXASSIST_DOCS=str(docs))
    try:
        [status] = at.status
        assert status.label == "Ready" and status.state == "complete"
        assert any("Building the document index: done." in m.value for m in at.markdown)
        assert (tmp_path / "index" / ".complete").exists()
        assert not at.error and not at.warning
    finally:
        st.cache_resource.clear()


def test_failed_first_start_is_a_plain_message(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    # Every path the build would write to is private, and the scenario is missing, so the
    # sample build fails at once without touching data/.
    at = open_page(monkeypatch, timeout=120, CXASSIST_DB=str(tmp_path / "cx.duckdb"),
                   CXASSIST_SAMPLE_DIR=str(tmp_path / "sample"),
                   CXASSIST_SCENARIO=str(tmp_path / "missing.yaml"),
                   CXASSIST_DOCS=str(tmp_path / "docs"),
                   CXASSIST_INDEX_DIR=str(tmp_path / "index"))
    try:
        [status] = at.status
        assert status.state == "error"
        [error] = at.error
        assert "make data" in error.value and "Traceback" not in error.value
        assert not (tmp_path / "cx.duckdb").exists()
        at.run()  # the failure is remembered: no rebuild on every rerun, a button instead
        assert not at.status and at.error
        at.button(key="retry-data").click().run()
        [status] = at.status
        assert status.state == "error" and not at.exception
    finally:
        st.cache_resource.clear()


def test_failed_index_build_is_remembered_numbers_still_served(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_page(monkeypatch, timeout=120, CXASSIST_INDEX_DIR=str(tmp_path / "index"),
                   CXASSIST_DOCS=str(tmp_path / "no-docs"))
    try:
        [status] = at.status
        assert status.label == "Ready, without the document index"
        [warning] = at.main.warning
        assert "cxassist index build" in warning.value and "Numbers still work" in warning.value
        answer = ask(at, "What is the NPS of Cardiovex in Germany in 2025-Q4?")
        assert answer.route == "engine" and answer.values
        assert not at.status and at.main.warning  # not rebuilt on the rerun that answered
        at.button(key="retry-index").click().run()
        [status] = at.status  # built again on request (and failed again)
        assert status.label == "Ready, without the document index" and not at.exception
    finally:
        st.cache_resource.clear()


def test_chroma_server_without_an_index_is_a_sidebar_warning(
        monkeypatch: pytest.MonkeyPatch, server: tuple[str, int]) -> None:
    host, port = server
    at = open_page(monkeypatch, CXASSIST_CHROMA_HOST=host, CXASSIST_CHROMA_PORT=str(port))
    try:
        [warning] = at.sidebar.warning
        assert "No usable document index on the Chroma server" in warning.value
        assert "cxassist index build" in warning.value
        assert not at.status  # nothing is built on a server automatically
    finally:
        st.cache_resource.clear()


def test_corrupt_index_is_a_plain_message(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / ".complete").write_text("")
    (index / "CURRENT").write_text("v000001-broken\n")
    (index / "versions").mkdir()
    at = open_page(monkeypatch, CXASSIST_INDEX_DIR=str(index))
    try:
        answer = ask(at, "How exactly is NPS computed here?")
        assert any("index" in w and "cxassist index build" in w for w in answer.warnings), \
            answer.warnings
        assert not at.exception
        assert "Traceback" not in " ".join(m.value for m in at.markdown)
    finally:
        st.cache_resource.clear()
