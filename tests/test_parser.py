"""Parser: question -> Query, by the rule tables (no engine calls beyond the catalogue)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.lexicon import Lexicon, normalise
from assistant.parser import Parser
from assistant.query import Query

DB = Path("data/cx.duckdb")
pytestmark = pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")


@pytest.fixture(scope="module")
def parser() -> Parser:
    from cxengine.engine import Engine

    engine = Engine(DB)
    return Parser(Lexicon.build(engine.catalogue(), "data/sample/scenario.yaml"))


def test_normalise_keeps_wave_ids_and_drops_punctuation() -> None:
    assert normalise("Cardiovex's NPS, 2025-Q4?") == "cardiovex s nps 2025-q4"


@pytest.mark.parametrize("text,slots", [
    ("what is the nps of cardiovex in germany in 2025-Q4",
     {"intent": "kpi_value", "kpi": "nps", "brands": ["cardiovex"], "markets": ["DE"],
      "waves": ["2025-Q4"]}),
    ("cardivex nps Germnay q4 2025", {"brands": ["cardiovex"], "markets": ["DE"],
                                      "waves": ["2025-Q4"]}),
    ("oncelis french prescribers 2025 Q2", {"brands": ["oncelis"], "markets": ["FR"],
                                            "prescriber": True, "waves": ["2025-Q2"]}),
    ("non prescribers of psorilex", {"prescriber": False}),
    ("satisfaction among gps", {"kpi": "csat_t2b", "specialty": "gp"}),
    ("nps of cardiovex in IT", {"markets": ["IT"]}),
    ("is it good for cardiovex", {"markets": []}),  # lower-case "it" is a word, not Italy
    ("cardiovex nps over time in DE", {"intent": "trend", "kpi": "nps", "wave_ref": "all"}),
    ("cardiovex nps in DE since 2025", {"intent": "trend", "wave_ref": "since:2025"}),
    ("f2f reach for cardiovex", {"kpi": "channel_reach", "channel": "f2f_rep"}),
    ("nps of cardiovex split by specialty", {"by": ["specialty"]}),
    ("cardiovex vs corastin in the UK", {"intent": "compare", "markets": ["UK"],
                                         "compare": {"dimension": "brand", "a": "cardiovex",
                                                     "b": "corastin", "target": None}}),
    ("are we ahead of the leader?", {"intent": "compare", "self_ref": True,
                                     "compare": {"dimension": "brand", "a": None,
                                                 "b": "leader", "target": "leader"}}),
    ("who leads heart failure in spain", {"intent": "ranking", "ta": "CARD",
                                          "markets": ["ES"]}),
    ("why did oncelis go up in france", {"intent": "explain_change"}),
    ("what matters most for recommendation in psoriasis", {"intent": "key_drivers",
                                                           "ta": "IMM"}),
    ("how is nps calculated", {"intent": "definition", "kpi": "nps"}),
    ("how is the effective base computed", {"intent": "methodology"}),
    ("what's the weather like", {"intent": "out_of_scope"}),
    ("nps of cardiovex in japan", {"unknown_markets": ["Japan"]}),
    ("nps of cardiovex 2023-Q4", {"unknown_waves": ["2023-Q4"], "waves": []}),
    ("how is cardiofix doing", {"brands": [], "did_you_mean": ["Cardiovex"]}),
    ("perception gap on cx index for helixa", {"intent": "perception_gap", "kpi": "cx_index",
                                               "company": "Helixa"}),
])
def test_parse(parser: Parser, text: str, slots: dict) -> None:
    q = parser.parse(text).to_dict()
    for key, want in slots.items():
        assert q[key] == want, (text, key, q[key])


def test_wave_phrases_are_not_kpi_words(parser: Parser) -> None:
    # "time" is a synonym of the respect_time driver; "over time" must not read as it
    assert parser.parse("cardiovex nps over time").kpi == "nps"
    assert parser.parse("did we improve since the last wave?").compare.dimension == "wave"


def test_followup_detection(parser: Parser) -> None:
    assert parser.parse("and in France?").followup
    assert parser.parse("why?").followup
    assert not parser.parse("what is the nps of cardiovex in germany in 2025-Q4").followup


def test_query_is_json_serialisable_and_round_trips(parser: Parser) -> None:
    q = parser.parse("cardiovex vs corastin in the UK 2025-Q4")
    back = Query.from_dict(json.loads(json.dumps(q.to_dict())))
    assert back == q
