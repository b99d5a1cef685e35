"""The Streamlit page, driven headlessly with AppTest: one question per intent, a follow-up
chain, a clarification answered by its button, and the sidebar context filling a slot.

The real `assistant.service.Assistant` is used; its retriever is the real one when
data/index/.complete exists, else a fake one (retrieval assertions are then skipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant.answer import Answer
from assistant.presentation import answer_markdown

ROOT = Path(__file__).resolve().parents[1]
INDEX_BUILT = (ROOT / "data/index/.complete").exists()
pytestmark = pytest.mark.skipif(not (ROOT / "data/cx.duckdb").exists(),
                                reason="data/cx.duckdb missing: run `make data`")


class FakeRetriever:
    """Stands in for index.retrieval.Retriever when the index is not built."""

    def search(self, query: str, k: int = 5, **filters: Any) -> list[Any]:
        from index.retrieval import Passage

        return [Passage(source="wave_reports/2025-Q4.md", title="Wave report 2025-Q4",
                        section="Cardiology, Germany", text="Field force was reduced.",
                        score=1.0, doc_type="wave_report", wave="2025-Q4", markets=("DE",),
                        brands=("cardiovex",), therapy_areas=("CARD",), chunk_id="fake-1")][:k]

    def warm(self) -> None:
        pass


def fake_retriever() -> FakeRetriever:
    return FakeRetriever()


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    st.cache_resource.clear()  # each test starts with a fresh Engine/Assistant
    if not INDEX_BUILT:
        monkeypatch.setenv("CXASSIST_APP_RETRIEVER", "tests.test_app:fake_retriever")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()


def ask(at: AppTest, question: str) -> Answer:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    turns = at.session_state["turns"]
    assert turns[-1][0] == question
    return turns[-1][1]


def assistant_texts(at: AppTest) -> list[str]:
    return [m.markdown[0].value for m in at.chat_message if m.name == "assistant"]


INTENT_QUESTIONS = [
    ("kpi_value", "What is the NPS of Cardiovex in Germany in 2025-Q4?", True),
    ("ranking", "Rank cardiology brands by NPS in Germany in 2025-Q4", True),
    ("trend", "Show the NPS trend over time for Cardiovex in Germany", True),
    ("compare", "Compare Cardiovex NPS in Germany vs France in 2025-Q4", True),
    ("key_drivers", "Which drivers matter most for recommendation in cardiology?", True),
    ("explain_change", "Why did Cardiovex's NPS fall in Germany in 2025-Q4?", True),
    ("channel_mix", "Which channel gives Cardiovex the best experience in Germany in 2025-Q4?",
     True),
    ("perception_gap", "What is the perception gap for Cardiovex in Germany in 2025-Q4?", True),
    ("correlation", "What is the correlation between omnichannel breadth and cx index?", True),
    ("definition", "How exactly is NPS computed here?", False),
    ("catalogue", "Which waves are in the data?", False),
    ("help", "help", False),
    ("out_of_scope", "What will the weather be in Paris tomorrow?", False),
]


@pytest.mark.parametrize(("intent", "question", "has_numbers"), INTENT_QUESTIONS,
                         ids=[i[0] for i in INTENT_QUESTIONS])
def test_one_question_per_intent(app: AppTest, intent: str, question: str,
                                 has_numbers: bool) -> None:
    answer = ask(app, question)
    assert answer.intent == intent, (answer.intent, answer.text)
    assert assistant_texts(app)[-1] == answer_markdown(answer.text) and answer.text.strip()
    if has_numbers:
        assert answer.route in ("engine", "both"), answer.route
        assert len(app.dataframe) >= 1  # the Numbers tab
        labels = [t.label for t in app.tabs]
        assert "Numbers" in labels
        if answer.evidence_of("sql"):
            assert "SQL" in labels and any(c.language == "sql" for c in app.code)
        if answer.evidence_of("chart"):
            assert "Chart" in labels
    if intent == "definition":
        assert "Definition" in [t.label for t in app.tabs] or "Sources" in [
            t.label for t in app.tabs]
    if intent == "out_of_scope":
        assert answer.route == "none"


def test_follow_up_chain(app: AppTest) -> None:
    first = ask(app, "What is the NPS of Cardiovex in Germany in 2025-Q4?")
    second = ask(app, "And in France?")
    third = ask(app, "How has it changed over time?")
    assert first.route == second.route == "engine"
    assert {v.get("market") for v in second.values} == {"FR"}
    assert {v.get("brand") for v in second.values} == {"cardiovex"}  # carried over
    assert third.intent == "trend" and "Cardiovex" in assistant_texts(app)[-1]
    assert len([m for m in app.chat_message if m.name == "user"]) == 3


@pytest.mark.parametrize(("question", "intent"), [
    ("How is it doing?", "kpi_value"),
    ("Are we ahead of the leader on NPS?", "compare"),  # a starter: it must stay a comparison
])
def test_clarification_answered_via_button(app: AppTest, question: str, intent: str) -> None:
    answer = ask(app, question)
    assert answer.route == "clarify", (answer.intent, answer.text)
    # Each clarification may ask for the next missing slot (brand, then market): click the
    # first option until an answer comes back; the clicked text is sent as the next message.
    clicked: list[str] = []
    for turn in range(4):
        turns = app.session_state["turns"]
        answer = turns[-1][1]
        if answer.route != "clarify":
            break
        assert answer.options
        prefix = f"t{len(turns) - 1}-opt-"
        buttons = sorted((b for b in app.button if b.key and b.key.startswith(prefix)),
                         key=lambda b: int(b.key.rsplit("-", 1)[1]))  # laid out in columns
        assert [b.label for b in buttons] == answer.options
        buttons[0].click().run()
        assert not app.exception
        assert app.session_state["turns"][-1][0] == answer.options[0], turn
        clicked.append(answer.options[0])
    final = app.session_state["turns"][-1][1]
    assert final.route in ("engine", "both"), final.text
    assert final.intent == intent, (final.intent, final.text)  # the question asked, answered
    text = assistant_texts(app)[-1]
    assert all(choice in text for choice in clicked), (clicked, text)


def test_sidebar_context_fills_a_slot(app: AppTest) -> None:
    """"we/our" is the sidebar's brand; its market fills a question that names none."""
    app.selectbox(key="ctx_brand").set_value("oncelis").run()
    answer = ask(app, "What is our NPS in France in 2025-Q4?")
    assert answer.route in ("engine", "both"), answer.text
    assert {v.get("brand") for v in answer.values} == {"oncelis"}, answer.values
    assert "Oncelis" in assistant_texts(app)[-1]
    app.selectbox(key="ctx_market").set_value("FR").run()
    answer = ask(app, "What is our NPS in 2025-Q4?")
    assert {(v.get("brand"), v.get("market")) for v in answer.values} == {("oncelis", "FR")}
    assert "France" in answer.text


def test_starter_button_asks(app: AppTest) -> None:
    app.button(key="starter-analyst-0").click().run()
    assert not app.exception
    assert app.session_state["turns"][0][0] == "How exactly is NPS computed here?"


def test_new_conversation_clears(app: AppTest) -> None:
    ask(app, "help")
    app.button(key="new_conversation").click().run()
    assert not app.exception and not app.session_state["turns"]
    assert not [m for m in app.chat_message]


def test_why_answer_shows_sources_with_real_index(app: AppTest) -> None:
    if not INDEX_BUILT:
        pytest.skip("data/index/.complete missing: passages come from a fake retriever, "
                    "so source assertions would test the fake (run `make index`)")
    answer = ask(app, "Why did Cardiovex's NPS fall in Germany in 2025-Q4?")
    assert answer.evidence_of("passage"), answer.text
    assert "Sources" in [t.label for t in app.tabs]
    assert any("source:" in c.value for c in app.caption)


def test_failure_is_a_plain_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    st.cache_resource.clear()
    broken = tmp_path / "cx.duckdb"
    broken.write_text("not a database")
    monkeypatch.setenv("CXASSIST_DB", str(broken))
    monkeypatch.setenv("CXASSIST_APP_RETRIEVER", "tests.test_app:fake_retriever")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    # `make data` alone does nothing when the damaged file is newer than its inputs.
    message = at.error[0].value if at.error else ""
    assert f"delete {broken}" in message and "make data" in message, message
    assert "cxassist data build" in message
    st.cache_resource.clear()
