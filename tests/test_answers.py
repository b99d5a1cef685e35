"""Answers: text from computed values only, defaults said, clarify options, plain statements,
retrieval kept apart, never an exception."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_gold import FakeRetriever

from assistant.answer import Answer
from assistant.conversation import Conversation

DB = Path("data/cx.duckdb")
INDEX = Path("data/index")
pytestmark = pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")


@pytest.fixture(scope="module")
def engine():
    from cxengine.engine import Engine

    return Engine(DB)


@pytest.fixture(scope="module")
def fake() -> FakeRetriever:
    return FakeRetriever()


@pytest.fixture(scope="module")
def assistant(engine, fake):
    from assistant.service import Assistant

    return Assistant(engine, lambda: fake)


def test_value_text_is_formatted_from_the_value(assistant, engine) -> None:
    from cxengine.kpis import get_kpi

    a = assistant.ask("nps of cardiovex in germany")
    v = a.values[0]
    assert a.route == "engine" and v["wave"] == engine.waves()[-1]
    assert get_kpi("nps").format(v["value"]) in a.text
    assert f"latest wave {engine.waves()[-1]}" in a.text
    assert f"base {v['base']}" in a.text
    assert any(e["kind"] == "sql" for e in a.evidence)
    assert any(e["kind"] == "definition" for e in a.evidence)


def test_numeric_answers_do_not_touch_the_retriever(engine) -> None:
    from assistant.service import Assistant

    def factory():
        raise AssertionError("a numeric answer must not build the retriever")

    a = Assistant(engine, factory).ask("cx index of oncelis in france 2025-Q4")
    assert a.route == "engine" and a.values


def test_trend_states_significance_in_words(assistant) -> None:
    a = assistant.ask("nps trend for cardiovex in germany")
    assert a.intent == "trend" and len(a.values) >= 5
    assert "significant at 95%" in a.text and "vs previous" in a.text


def test_compare_names_the_test(assistant) -> None:
    a = assistant.ask("cardiovex vs corastin in the uk 2025-Q4")
    assert "test:" in a.text and a.evidence_of("test")


def test_clarify_lists_the_valid_markets(assistant, engine) -> None:
    a = assistant.ask("nps of cardiovex")
    names = [m["name"] for m in engine.catalogue().markets]
    assert a.route == "clarify" and a.options == names
    assert all(n in a.text for n in names)


def test_did_you_mean(assistant) -> None:
    a = assistant.ask("how is cardiofix doing in germany")
    assert a.route == "clarify" and a.options == ["Cardiovex"] and "Did you mean" in a.text


@pytest.mark.parametrize("question,phrase", [
    ("nps of cardiovex in japan", "not in the benchmark"),
    ("nps of dermavance in france 2025-Q2", "not yet launched"),
    ("knowledge score of cardiovex in germany 2025-Q3", "light wave"),
    ("key drivers in cardiology in 2025-Q3", "light wave"),
    ("oncelis nps france 2023-Q4", "no wave 2023-Q4"),
])
def test_plain_statements_when_the_data_cannot_answer(assistant, question, phrase) -> None:
    a = assistant.ask(question)
    assert phrase in a.text, a.text
    assert not [v for v in a.values if v["value"] is not None]


def test_why_is_numbers_first_then_documents(assistant, fake) -> None:
    fake.calls.clear()
    a = assistant.ask("why did cardiovex's nps change in germany in 2025-Q4?")
    assert a.route == "both" and a.intent == "explain_change"
    assert a.query["waves"] == ["2025-Q3", "2025-Q4"]
    assert "previous wave carrying the KPI, 2025-Q3" in a.text
    data, docs = a.text.index("From the data:"), a.text.index("What the wave reports say")
    assert data < docs
    assert fake.calls[0]["doc_type"] == "wave_report"
    assert (fake.calls[0]["wave"], fake.calls[0]["market"], fake.calls[0]["brand"]) == (
        "2025-Q4", "DE", "cardiovex")
    assert a.evidence_of("passage") and a.evidence_of("test")


def test_definition_uses_catalogue_and_methodology(assistant, fake) -> None:
    fake.calls.clear()
    a = assistant.ask("how is nps calculated?")
    assert a.route == "retrieval" and "promoters" in a.text
    assert fake.calls[0]["doc_type"] == "methodology"
    assert a.evidence_of("definition") and a.evidence_of("passage")


def test_missing_index_is_said_not_raised(engine) -> None:
    from assistant.service import Assistant

    def broken():
        raise FileNotFoundError("data/index is empty")

    a = Assistant(engine, broken).ask("how is the sample weighted?")
    assert a.route == "retrieval" and "not" in a.text and a.warnings


def test_internal_errors_become_a_plain_answer(engine) -> None:
    from assistant.service import Assistant

    a = Assistant(engine, lambda: None)
    a.router.run = None  # type: ignore[assignment]  # break it
    ans = a.ask("nps of cardiovex in germany")
    assert isinstance(ans, Answer) and ans.route == "none" and "went wrong" in ans.text


def test_small_and_suppressed_bases_are_said_in_words(assistant) -> None:
    from assistant.compose import Composer

    comp: Composer = assistant.composer
    v = {"kpi": "nps", "value": 12.3, "ci_low": 1.0, "ci_high": 20.0, "base": 80,
         "effective_base": 75.2, "flags": ["small_base"]}
    assert comp._value(v).endswith("small base)")
    v.update(value=None, ci_low=None, ci_high=None, flags=["suppressed"], effective_base=20.0)
    assert "base too low" in comp._value(v) and "12" not in comp._value(v)


def test_concurrent_questions_give_the_same_answers(assistant) -> None:
    qs = ["nps of cardiovex in germany 2025-Q4", "who leads oncology in france",
          "nps trend for oncelis in france", "why did oncelis nps change in france in 2025-Q4"]
    expected = [assistant.ask(q).text for q in qs]
    got: dict[int, str] = {}

    def run(i: int) -> None:
        got[i] = assistant.ask(qs[i % len(qs)], Conversation()).text

    threads = [threading.Thread(target=run, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(got[i] == expected[i % len(qs)] for i in range(12))


@pytest.mark.skipif(not (INDEX / ".complete").exists(),
                    reason="no complete document index (data/index/.complete missing): "
                           "run `cxassist index build`")
def test_with_the_real_retriever(engine) -> None:
    from assistant.service import Assistant
    from index.retrieval import Retriever

    a = Assistant(engine, lambda: Retriever(INDEX))
    d = a.ask("how is the effective base computed?")
    assert d.route == "retrieval" and d.evidence_of("passage")
    w = a.ask("why did cardiovex's nps change in germany in 2025-Q4?")
    assert w.route == "both" and w.values
