"""Properties of understanding (issue 7 §2): whatever is typed, the parser returns a valid
`Query` (a known intent, or a clarification) and the assistant a well-formed `Answer`;
neither raises. Inputs: any unicode text (control characters, right-to-left scripts,
emoji, very long strings) and sentences built from the benchmark's own vocabulary mixed
with noise, which reach the deeper rules (waves, breakdowns, comparisons, follow-ups)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.answer import ROUTES
from assistant.conversation import Conversation
from assistant.lexicon import Lexicon
from assistant.parser import Parser
from assistant.query import INTENTS, Clarify, Query
from tests.answer_checks import assert_well_formed

DB = Path("data/cx.duckdb")
pytestmark = pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")
FIXTURES = [HealthCheck.function_scoped_fixture]  # module fixtures, shared on purpose


@pytest.fixture(scope="module")
def engine():
    from cxengine.engine import Engine

    return Engine(DB)


@pytest.fixture(scope="module")
def parser(engine) -> Parser:
    return Parser(Lexicon.build(engine.catalogue(), "data/sample/scenario.yaml"))


@pytest.fixture(scope="module")
def assistant(engine):
    from test_gold import FakeRetriever

    from assistant.service import Assistant

    return Assistant(engine, FakeRetriever)


def _vocabulary() -> list[str]:
    """Phrases the rules react to, read from the rule tables (not typed here)."""
    import yaml

    from assistant.lexicon import RULES_FILE

    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    words = [c for rule in rules["intents"] for c in rule["cues"]]
    words += [p for table in ("wave_phrases", "breakdowns", "compare_targets")
              for phrases in rules[table].values() for p in phrases]
    words += rules["followup_cues"] + rules["yes_words"] + rules["light_wave_phrases"]
    words += [w for names in rules["other_markets"].values() for w in names]
    words += list(rules["relative_years"]) + ["over the last two waves", "since Q2 2025", "Q2"]
    return words + ["Cardiovex", "cardivex", "Germany", "DE", "IT", "Oncelis", "Helixa",
                    "nps", "cx index", "f2f", "2025-Q4", "q3 2025", "2023-Q1", "2031", "?"]


VOCABULARY = _vocabulary()
ANY_TEXT = st.text(max_size=400)  # every code point but surrogates: controls, RTL, emoji
SENTENCES = st.lists(st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=8)),
                     max_size=14).map(" ".join)
QUESTIONS = st.one_of(ANY_TEXT, SENTENCES)
ODD = ["", " \t\n", "\x00\x1b[31m nps \x7f", "\u202eDE ni xevoidraC fo SPN\u202c",
       "ما هو NPS لـ Cardiovex في ألمانيا؟", "🔥📉 cardiovex 🇩🇪 nps?", "nps " * 12_500,
       "\ud7ff\ufeff\u200b2025-Q4\u2028by market by wave by specialty"]


def assert_valid_query(q: Query) -> None:
    assert isinstance(q, Query) and q.intent in INTENTS
    assert q.clarify is None or isinstance(q.clarify, Clarify)
    assert Query.from_dict(json.loads(json.dumps(q.to_dict()))) == q


@settings(max_examples=400, deadline=None, suppress_health_check=FIXTURES)
@given(text=QUESTIONS)
@example(text=ODD[0]).via("empty")
@example(text=ODD[1]).via("whitespace")
@example(text=ODD[2]).via("control characters")
@example(text=ODD[3]).via("right-to-left override")
@example(text=ODD[4]).via("arabic")
@example(text=ODD[5]).via("emoji")
@example(text=ODD[6]).via("50,000 characters")
@example(text=ODD[7]).via("zero-width and line separators")
def test_any_text_parses_to_a_valid_query(parser: Parser, text: str) -> None:
    assert_valid_query(parser.parse(text))


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(turns=st.lists(QUESTIONS, min_size=1, max_size=3))
@example(turns=["nps of cardiovex in germany", ODD[3], "and in France?"]).via("chain")
@example(turns=[ODD[6], "why?"]).via("long, then a follow-up")
def test_any_conversation_gets_well_formed_answers(assistant, engine, turns: list[str]
                                                   ) -> None:
    conv = Conversation()
    for text in turns:
        answer = assistant.ask(text, conv)
        assert answer.route in ROUTES and answer.intent in INTENTS
        assert_well_formed(answer, engine.thresholds.suppress_below)
