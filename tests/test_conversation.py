"""Conversation: follow-ups inherit missing slots; "we/our" is the default brand."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from assistant.conversation import Conversation
from assistant.query import Compare, Query

DB = Path("data/cx.duckdb")


def _last() -> Query:
    return Query(intent="kpi_value", kpi="nps", brands=["cardiovex"], ta="CARD",
                 markets=["DE"], waves=["2025-Q4"], cued=True)


def _conv() -> Conversation:
    c = Conversation()
    c.remember(_last())
    return c


def test_followup_inherits_missing_slots_and_keeps_given_ones() -> None:
    q = _conv().merge(Query(intent="kpi_value", markets=["FR"], followup=True))
    assert (q.brands, q.kpi, q.markets, q.waves) == (["cardiovex"], "nps", ["FR"], ["2025-Q4"])


def test_default_context_fills_only_what_is_still_empty() -> None:
    c = Conversation()
    c.set_defaults(brand="oncelis", market="FR", ta="ONC", wave="2025-Q2")
    q = c.merge(Query(intent="kpi_value", kpi="nps", brands=["cardiovex"], cued=True))
    assert (q.markets, q.waves, q.ta) == (["FR"], ["2025-Q2"], None)
    assert "market FR (your default context)" in q.defaults
    q = c.merge(Query(intent="ranking", kpi="nps", markets=["DE"], waves=["2025-Q4"]))
    assert (q.markets, q.waves, q.ta) == (["DE"], ["2025-Q4"], "ONC")
    trend = c.merge(Query(intent="trend", kpi="nps", brands=["oncelis"], cued=True))
    assert trend.waves == [] and trend.markets == ["FR"]  # a series takes no default wave
    assert c.merge(Query(intent="methodology")).markets == []
    c.set_defaults()
    assert c.merge(Query(intent="kpi_value", kpi="nps", brands=["oncelis"])).markets == []


def test_bare_followup_keeps_the_previous_intent() -> None:
    c = Conversation()
    c.remember(Query(intent="ranking", kpi="nps", ta="CARD", markets=["DE"], waves=["2025-Q4"]))
    q = c.merge(Query(intent="kpi_value", markets=["ES"], followup=True))
    assert (q.intent, q.ta, q.markets) == ("ranking", "CARD", ["ES"])


def test_cued_intent_replaces_the_previous_one() -> None:
    q = _conv().merge(Query(intent="explain_change", cued=True, followup=True))
    assert q.intent == "explain_change" and q.brands == ["cardiovex"] and q.waves == ["2025-Q4"]


def test_split_by_turns_into_a_breakdown_of_the_last_value() -> None:
    c = Conversation()
    c.remember(Query(intent="explain_change", kpi="nps", brands=["cardiovex"], markets=["DE"],
                     waves=["2025-Q2", "2025-Q4"]))
    q = c.merge(Query(intent="kpi_value", by=["specialty"], followup=True))
    assert q.intent == "kpi_value" and q.by == ["specialty"] and q.wave == "2025-Q4"


def test_new_question_only_borrows_the_market() -> None:
    q = _conv().merge(Query(intent="kpi_value", kpi="csat_t2b", brands=["oncelis"]))
    assert q.markets == ["DE"] and q.waves == [] and q.brands == ["oncelis"]
    q = _conv().merge(Query(intent="key_drivers", ta="ONC", cued=True))
    assert q.markets == []  # a driver analysis does not need one


def test_we_means_the_default_brand() -> None:
    c = Conversation(default_brand="oncelis")
    q = c.merge(Query(intent="compare", self_ref=True, compare=Compare("brand", None, "leader")))
    assert q.brands == ["oncelis"] and q.compare == Compare("brand", "oncelis", "leader")


def test_versus_followup_takes_the_other_side_from_context() -> None:
    q = _conv().merge(Query(intent="compare", brands=["corastin"], followup=True, cued=True))
    assert q.compare == Compare("brand", "cardiovex", "corastin")


def test_history_is_bounded_and_thread_safe() -> None:
    c = Conversation()
    threads = [threading.Thread(target=lambda: [c.remember(_last()) for _ in range(50)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c.history) == 20


@pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")
def test_chain_through_the_assistant() -> None:
    from assistant.service import Assistant
    from cxengine.engine import Engine

    a = Assistant(Engine(DB), lambda: None)
    c = Conversation(default_brand="cardiovex")
    first = a.ask("how are we doing in germany in 2025-Q4?", c)
    assert first.query["brands"] == ["cardiovex"] and first.values
    prev = a.ask("what about the previous wave?", c)
    assert prev.query["waves"] == ["2025-Q3"] and "previous wave 2025-Q3" in prev.text
    leader = a.ask("how do we compare with the leader?", c)
    assert leader.intent == "compare" and leader.route == "engine"
    missing = a.ask("and what about japan?", c)
    assert "not in the benchmark" in missing.text and missing.route == "none"
