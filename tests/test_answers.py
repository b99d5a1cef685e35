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
WAVE_REPORTS = Path("data/sample/docs/wave_reports")
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


def test_a_kpi_by_wave_is_its_trend(assistant, engine) -> None:
    a = assistant.ask("nps of cardiovex in germany by wave")
    assert a.intent == "trend"
    assert [v["wave"] for v in a.values] == engine.waves()
    assert {(v["brand"], v["market"]) for v in a.values} == {("cardiovex", "DE")}


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
    test = a.evidence_of("test")[0]
    assert f"({test['test']})" in a.text  # the paired test, named after what it tested


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
    # 2025-Q3 is a light wave (no driver ratings): the change is taken from the last full
    # wave, so it can be decomposed, and the answer says so.
    assert a.query["waves"] == ["2025-Q2", "2025-Q4"]
    assert "previous full wave 2025-Q2" in a.text
    assert any(v["kpi"].startswith("contribution:") or v["kpi"] == "nps" for v in a.values)
    data, docs = a.text.index("From the data:"), a.text.index("What the wave reports say")
    assert data < docs
    assert fake.calls[0]["doc_type"] == "wave_report"
    assert (fake.calls[0]["wave"], fake.calls[0]["market"], fake.calls[0]["brand"]) == (
        "2025-Q4", "DE", "cardiovex")
    assert a.evidence_of("passage") and a.evidence_of("test")


def test_why_in_a_light_wave_compares_with_the_wave_before(assistant) -> None:
    a = assistant.ask("why did corastin's nps drop in the uk in 2025-Q3?")
    assert a.query["waves"] == ["2025-Q2", "2025-Q3"]
    assert "previous wave carrying the KPI, 2025-Q2" in a.text


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


def test_internal_errors_become_a_plain_answer(engine, caplog) -> None:
    from assistant.service import Assistant

    a = Assistant(engine, lambda: None)
    a.router.run = None  # type: ignore[assignment]  # break it
    with caplog.at_level("ERROR", logger="assistant.service"):
        ans = a.ask("nps of cardiovex in germany")
    assert isinstance(ans, Answer) and ans.route == "none" and "went wrong" in ans.text
    assert ans.intent == "kpi_value"  # the parsed query's intent, "none" is no intent
    assert "NoneType" not in ans.to_json() and "not callable" not in ans.to_json()
    assert any(r.exc_info for r in caplog.records)  # the traceback is logged


def _raising(exc: Exception):
    def run(*args, **kwargs):
        raise exc
    return run


@pytest.fixture
def own_engine():
    """An engine of its own, for tests that break its store."""
    from cxengine.engine import Engine

    e = Engine(DB, timeout_s=2.5)
    yield e
    e.close()


def test_a_query_timeout_says_what_to_do(own_engine, monkeypatch, caplog) -> None:
    from assistant.service import Assistant
    from cxengine.store import QueryTimeout

    a = Assistant(own_engine, None)
    secret = "the query ran longer than 2.5 s and was stopped: RAW-DETAIL"
    monkeypatch.setattr(own_engine.store, "_run", _raising(QueryTimeout(secret)))
    with caplog.at_level("ERROR", logger="assistant.service"):
        ans = a.ask("what drives recommendation in cardiology")
    assert ans.text == ("The query took too long and was stopped (limit 2.5 s): narrow the "
                        "question (one brand, market or wave) and ask again.")
    assert (ans.route, ans.intent) == ("none", "key_drivers") and not ans.suggestions
    assert "RAW-DETAIL" not in ans.to_json() and not ans.warnings
    assert any(r.exc_info for r in caplog.records)


def test_a_broken_database_says_how_to_rebuild(own_engine, monkeypatch) -> None:
    from assistant.service import Assistant
    from cxengine.store import StoreError

    a = Assistant(own_engine, None)
    monkeypatch.setattr(own_engine.store, "_run", _raising(StoreError("RAW-DETAIL")))
    ans = a.ask("nps of cardiovex in germany")
    assert ans.text == (f"The benchmark database is missing or damaged: delete {DB} and run "
                        "`make data` (or `.venv/bin/cxassist data build`).")
    assert (ans.route, ans.intent) == ("none", "kpi_value")
    assert "RAW-DETAIL" not in ans.to_json() and not ans.warnings


def test_unanswerable_is_answered_with_its_message(own_engine, monkeypatch) -> None:
    from assistant.service import Assistant
    from cxengine.errors import Unanswerable

    a = Assistant(own_engine, None)
    msg = "Channel impact index is derived per channel: ask for the channel mix instead"
    monkeypatch.setattr(own_engine, "kpi_value", _raising(Unanswerable(msg)))
    ans = a.ask("nps of cardiovex in germany")
    assert (ans.route, ans.intent, ans.text) == ("none", "kpi_value", msg)
    assert not ans.warnings and not ans.suggestions and not ans.values


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


class NoPassages(FakeRetriever):
    """An index without the wave report asked for (e.g. built before the reports were)."""

    def search(self, query: str, k: int = 5, **filters):
        super().search(query, k, **filters)
        return []


def test_why_never_quotes_another_waves_report(engine) -> None:
    from assistant.service import Assistant

    fake = NoPassages()
    a = Assistant(engine, lambda: fake).ask("why did cardiovex's nps drop in germany in 2025-Q4?")
    assert a.route == "both" and not a.evidence_of("passage")
    # relaxed brand, then market; never the wave
    assert [(c["wave"], c.get("market"), c.get("brand")) for c in fake.calls] == [
        ("2025-Q4", "DE", "cardiovex"), ("2025-Q4", "DE", None), ("2025-Q4", None, None)]
    assert "No wave-report passages" in a.text and "no wave-report passage for 2025-Q4" in a.text


@pytest.fixture(scope="module")
def report_retriever(tmp_path_factory: pytest.TempPathFactory):
    """A real index (real embeddings) of three wave reports: the wave asked about and two
    others (2025-Q2, 2026-Q2) that discuss Cardiovex in Germany too."""
    if not WAVE_REPORTS.exists():
        pytest.skip("wave reports not rendered: run `make data`")
    import shutil

    from index.build import build_index
    from index.retrieval import Retriever

    docs = tmp_path_factory.mktemp("docs")
    (docs / "wave_reports").mkdir()
    for wave in ("2025-Q2", "2025-Q4", "2026-Q2"):
        shutil.copy(WAVE_REPORTS / f"{wave}.md", docs / "wave_reports")
    index_dir = tmp_path_factory.mktemp("index") / "index"
    build_index([docs], index_dir, progress=False)
    return Retriever(index_dir)


@pytest.mark.parametrize("turns", [
    ["why did Cardiovex NPS drop in Germany in 2025-Q4?"],
    ["nps of cardiovex in germany in 2025-Q4", "why?"],  # the follow-up names nothing itself
], ids=["question", "follow-up"])
def test_why_cites_the_wave_report_of_that_wave_and_market(engine, report_retriever,
                                                            turns) -> None:
    from assistant.service import Assistant

    a, conv = Assistant(engine, lambda: report_retriever), Conversation()
    answer = [a.ask(t, conv) for t in turns][-1]
    assert answer.route == "both" and answer.query["waves"] == ["2025-Q2", "2025-Q4"]
    passages = answer.evidence_of("passage")
    assert passages and {(p["doc_type"], p["wave"]) for p in passages} == {
        ("wave_report", "2025-Q4")}
    top = passages[0]
    assert "DE" in top["markets"] and "cardiovex" in top["brands"], top["section"]
    assert "Germany" in top["section"] and "Cardiovex" in top["section"]
    numbers, words = (answer.text.index("From the data:"),
                      answer.text.index("What the wave reports say"))
    assert numbers < words  # the decomposition first, then the documents
    assert f"({top['title']}, {top['source']})" in answer.text[words:]


# --- significance: a test that did not run is never "not significant" ------------------
def test_no_common_raters_is_no_test_not_not_significant(assistant) -> None:
    a = assistant.ask("Oncelis vs Cardiovex in Germany")
    test = a.evidence_of("test")[0]
    assert test["p_value"] is None and test["detail"]["n_common"] == 0
    assert "not significant" not in a.text and "significant at" not in a.text
    assert "no significance test was possible (no HCP rated both brands" in a.text
    assert "different therapy areas, Oncology and Cardiology" in a.text
    assert "Oncology, Germany" not in a.text  # the scope is not one brand's TA


@pytest.mark.parametrize("test,said", [
    ({"significant": True, "p_value": 0.01, "test": "z"}, "significant at 95%; test: z"),
    ({"significant": False, "p_value": 0.4}, "not significant at 95%"),
    ({"significant": False, "p_value": None, "detail": {"reason": "no common raters"}},
     "no significance test was possible (no HCP rated both brands)"),
    ({"significant": None, "p_value": None, "detail": {"reason": "b: base too low"}},
     "no significance test was possible (the base of one side is too low)"),
    ({"significant": False, "p_value": None}, "no significance test was possible"),
    (None, "no significance test was possible"),
])
def test_significance_in_words(assistant, test, said) -> None:
    assert assistant.composer._significance(test) == said


def test_every_writer_words_an_untested_change_as_no_test(assistant) -> None:
    """Trend rows, ranking gaps and correlations go through the same wording."""
    from assistant.router import Routed
    from cxengine.results import Result

    comp, q = assistant.composer, assistant.router.complete(assistant.parse(
        "nps trend for cardiovex in germany"))
    untested = {"significant": False, "p_value": None}
    rows = [{"wave": "2025-Q2", "value": 10.0, "flags": ""},
            {"wave": "2025-Q4", "value": 2.0, "change": -8.0, "flags": "", **untested}]
    trend = Result("trend", [], rows, [], [], "v")
    text = comp._trend(q, Routed(q, "engine", trend), None)
    assert "no significance test was possible" in text and "not significant" not in text
    corr = Result("correlations", [], [{"x": "a", "y": "b", "r": 0.5, "cells": 9, **untested}],
                  [], [], "v")
    text = comp._correlation(q, Routed(q, "engine", corr), None)
    assert "no significance test was possible" in text and "not significant" not in text


# --- one rounding rule for every difference stated ----------------------------------
@pytest.mark.parametrize("kpi,a,b,said", [
    ("nps", -3.06, -2.55, "+0.5 points"),  # shown -3 vs -3: "+1 point" would look wrong
    ("csat_mean", 5.64, 5.26, "-0.38"),  # shown 5.6 vs 5.3: "-0.4" would look wrong
    ("csat_mean", 5.3, 5.64, "+0.3"),  # shown 5.3 vs 5.6: the display precision is right
    ("nps", 13.79, -1.27, "-15 points"),  # shown +14 vs -1: -15 either way
    ("promoters_pct", 30.2, 41.9, "+12 points"),  # 30% vs 42%
])
def test_a_difference_never_contradicts_the_values_shown(assistant, kpi, a, b, said) -> None:
    assert assistant.composer._difference(kpi, b - a, (a, b)) == said


@pytest.mark.parametrize(("a", "b", "stated"), [
    (-2.55, -2.05, "+0.5 points"),  # -3 vs -2 as shown; "+0" or "+1" would both read wrong
    (-2.55, -1.45, "+1.1 points"),  # -3 vs -1 as shown, 1.1 apart unrounded
    (10.2, 13.1, "+3 points"),      # 10 vs 13: the whole-point difference agrees
])
def test_difference_rule_for_nps(a: float, b: float, stated: str) -> None:
    from assistant.phrasing import difference_kpi
    from cxengine.kpis import get_kpi

    assert difference_kpi(get_kpi("nps"), b - a, (a, b)).format_change(b - a) == stated


def test_compare_states_the_difference_by_the_rule(assistant, engine) -> None:
    """A real comparison: the stated difference agrees with the two values as shown, or
    carries one more decimal."""
    from cxengine.kpis import get_kpi

    a = assistant.ask("Compare Cardiovex NPS in Germany vs France in 2025-Q4")
    de, fr = (next(v for v in a.values if v["market"] == m) for m in ("DE", "FR"))
    nps = get_kpi("nps")
    shown = float(nps.format(fr["value"])) - float(nps.format(de["value"]))
    delta = fr["value"] - de["value"]
    whole = f"{abs(delta):.0f}"
    expected = whole if float(whole) == abs(round(shown)) else f"{abs(delta):.1f}"
    side = "above" if delta > 0 else "below"
    assert f"France is {expected} point{'s' if expected != '1' else ''} {side} Germany" in \
        a.text, a.text


# --- channel mix ----------------------------------------------------------------------
def test_channel_mix_flags_bases_and_accounts_for_every_channel(assistant, engine) -> None:
    from cxengine.kpis import get_kpi

    a = assistant.ask("Which channel gives Cardiovex the best experience in Germany?")
    impacts = {v["channel"]: v for v in a.values if v["kpi"] == "channel_impact"}
    names = {c["channel_id"]: c["name"] for c in engine.catalogue().channels}
    lines = {line[2:].split(":")[0]: line for line in a.text.splitlines()
             if line.startswith("- ")}
    for name in names.values():  # every channel: listed, or said why not
        assert name in lines or name in a.text.split("Not shown:")[-1], name
    for ch, v in impacts.items():
        line = lines[names[ch]]
        if v["value"] is None:
            assert "impact not shown (base too low)" in line
            continue
        assert f"impact {get_kpi('channel_impact').format(v['value'])}" in line
        assert ("[small base]" in line) == ("small_base" in v["flags"]), line
        assert v["effective_base"] is not None and v["ta"] == "CARD"
    assert any("small_base" in v["flags"] for v in impacts.values())
    # every impact the text states is a headline value
    stated = [ln for ln in lines.values() if "impact not shown" not in ln]
    assert len(stated) == len([v for v in impacts.values() if v["value"] is not None])


# --- why ------------------------------------------------------------------------------
def test_why_states_unexplained_part_and_mix_rate(assistant) -> None:
    from assistant.phrasing import singular
    from cxengine.kpis import get_kpi

    a = assistant.ask("why did cardiovex's nps change in germany in 2025-Q4?")
    s = next(e["summary"] for e in a.evidence if e.get("text") == "explain_change summary")
    nps = get_kpi("nps")
    assert singular(f"account for {nps.format_change(s['explained'])} of the change, leaving "
                    f"{nps.format_change(s['unexplained'])} unexplained") in a.text
    mix = {r["item"]: r["contribution"] for e in a.evidence_of("table") for r in e["rows"]
           if r.get("part") == "mix"}
    assert "Mix versus rate across prescribers and non-prescribers: rate (change within each " \
           f"group) {nps.format_change(mix['rate'])}" in a.text


def test_why_flags_a_small_base_in_the_light_wave(assistant) -> None:
    a = assistant.ask("why did corastin's intent to prescribe drop in the uk in 2025-Q3?")
    light = next(v for v in a.values if v["wave"] == "2025-Q3")
    assert "small_base" in light["flags"]
    assert (f"(2025-Q3; small base, effective base {light['effective_base']:.0f})"
            in a.text)


# --- values contract ------------------------------------------------------------------
@pytest.mark.parametrize("question,tas", [
    ("nps of cardiovex in germany", {"CARD"}),
    ("cardiovex vs corastin in the uk 2025-Q4", {"CARD"}),
    ("Oncelis vs Cardiovex in Germany", {"ONC", "CARD"}),
])
def test_values_carry_the_therapy_area(assistant, question, tas) -> None:
    from assistant.answer import VALUE_KEYS

    a = assistant.ask(question)
    assert a.values and all(tuple(v) == VALUE_KEYS for v in a.values)
    assert {v["ta"] for v in a.values} == tas


def test_a_company_is_not_a_segment(assistant) -> None:
    a = assistant.ask("perception gap for helixa on nps")
    assert a.values and all(v["segment"] is None for v in a.values)


# --- suggestions only when they can be answered ---------------------------------------
@pytest.mark.parametrize("question,suggested", [
    ("nps of cardiovex in germany", ["why?", "how do we compare with the leader?",
                                     "show the trend"]),
    ("nps of dermavance in france 2025-Q2", []),  # not launched: no data
    ("nps by respondent", []),  # refused
    ("nps of cardiovex in japan", []),  # not covered
    ("nps of cardiovex in germany 2024-Q2", ["how do we compare with the leader?",
                                             "show the trend"]),  # no earlier wave
    ("channel reach of cardiovex in germany", ["show the trend"]),  # per channel: no why/rank
    ("nps trend for cardiovex in germany", ["why?", "split by specialty"]),
])
def test_suggestions_only_when_answerable(assistant, question, suggested) -> None:
    assert assistant.ask(question).suggestions == suggested


# --- documents ------------------------------------------------------------------------
class ThreePassages(FakeRetriever):
    """Three methodology passages, the second and third with the base thresholds."""

    TEXTS = ("Showing both n and n_eff guards against two opposite mistakes: overconfidence "
             "and confusion about where the interviewed HCPs went.",
             "Effective base. Each value carries an unweighted base n and a Kish effective "
             "base n_eff = (sum w)^2 / sum w^2. Values below 30 are suppressed.",
             "| Effective base | What happens | below 30: suppressed | 30 to 99: small base "
             "flag | 100 or more: shown without a flag |")

    def search(self, query: str, k: int = 5, **filters):
        super().search(query, k, **filters)
        return [{"source": f"methodology/doc{i}.md", "title": f"Doc {i}", "section": "s",
                 "text": t, "score": 1.0 - i / 10, "doc_type": "methodology", "wave": None,
                 "markets": [], "brands": [], "therapy_areas": [], "chunk_id": f"c{i}"}
                for i, t in enumerate(self.TEXTS)][:k]


@pytest.fixture(scope="module")
def documents(engine):
    from assistant.service import Assistant

    return Assistant(engine, ThreePassages)


def test_the_base_rule_states_the_configured_thresholds(documents, engine) -> None:
    a = documents.ask("What is the minimum base for showing a result?")
    t = engine.thresholds
    assert a.route == "retrieval"
    assert (f"effective base is below {t.suppress_below:g} is not shown" in a.text
            and f"below {t.small_below:g} it is shown with a \u201csmall base\u201d" in a.text)
    note = next(e for e in a.evidence if "thresholds" in e)
    assert note["thresholds"] == {"suppress_below": t.suppress_below,
                                  "small_below": t.small_below}
    assert [f"(Doc {i}, methodology/doc{i}.md)" in a.text for i in range(3)] == [True] * 3


def test_a_method_question_quotes_several_passages(documents) -> None:
    a = documents.ask("how is the effective base calculated")
    assert a.text.count("\u201c") == 3 and "n_eff = (sum w)^2 / sum w^2" in a.text
    assert "Base rule" not in a.text  # how it is computed, not the display rule


def test_a_definition_defines_every_kpi_named(documents) -> None:
    from cxengine.kpis import get_kpi

    a = documents.ask("what is the difference between CES and CSAT")
    ces, csat = get_kpi("ces_t2b"), get_kpi("csat_t2b")
    assert a.text.index(ces.definition) < a.text.index(csat.definition) < a.text.index(
        "From the methodology documents")
    assert {e["kpi"] for e in a.evidence_of("definition")} == {"ces_t2b", "csat_t2b"}


def test_a_question_presuming_the_wrong_direction_is_told_so(assistant, engine) -> None:
    """The light wave 2025-Q3 is the wave before 2025-Q4: from it NPS rose, so an answer to
    "is the drop significant?" must say the question's premise does not hold, and offer the
    comparison with the previous full wave."""
    a = assistant.ask("Is the drop in Cardiovex NPS in Germany in 2025-Q4 significant?")
    q3, q4 = (engine.kpi_value("nps", brand="cardiovex", market="DE", wave=w).values[0].value
              for w in ("2025-Q3", "2025-Q4"))
    assert q4 > q3  # the premise this test is about
    assert a.text.startswith("Note: the question presumes a drop, but Net Promoter Score rose "
                             "from 2025-Q3 to 2025-Q4.")
    assert "compare 2025-Q2 with 2025-Q4" in a.suggestions
    follow = Conversation()
    assistant.ask("Is the drop in Cardiovex NPS in Germany in 2025-Q4 significant?", follow)
    full = assistant.ask("compare 2025-Q2 with 2025-Q4", follow)
    assert [v["wave"] for v in full.values] == ["2025-Q2", "2025-Q4"]
    assert "Note:" not in full.text and "down" in full.text


def test_a_matching_direction_gets_no_note(assistant) -> None:
    a = assistant.ask("Is the drop in Cardiovex NPS in Germany from 2025-Q2 to 2025-Q4 "
                      "significant?")
    assert not a.text.startswith("Note:") and "significant at 95%" in a.text


def test_channel_impact_index_question_leads_with_that_index(assistant, engine) -> None:
    mix = engine.channel_mix(brand="oncelis", market="FR", wave="2025-Q4")
    row = next(r for r in mix.table if r["channel"] == "hcp_portal")
    ref = next(r for r in mix.table if r["channel"] == row["impact_reference"])
    a = assistant.ask("channel impact index of the HCP portal for Oncelis in France in 2025-Q4")
    assert a.intent == "channel_mix"
    first = a.text.splitlines()[0]
    assert first.startswith(f"Channel impact index of Brand HCP portal: "
                            f"{row['impact'] / ref['impact']:.2f}")
    assert any(v["kpi"] == "channel_impact_index" and v["channel"] == "hcp_portal"
               and v["value"] == pytest.approx(row["impact_index"]) for v in a.values)


def test_key_drivers_for_a_brand_say_whose_performance_the_quadrants_use(assistant) -> None:
    a = assistant.ask("What should we fix first for Cardiovex in Germany?")
    assert "quadrants from Cardiovex's performance" in a.text


def test_an_unknown_brand_name_is_said_before_the_options(assistant) -> None:
    a = assistant.ask("NPS of Zentravax in Germany")
    assert a.route == "clarify"
    assert a.text.startswith("Zentravax is not a brand in this benchmark.")
    assert "Cardiovex" in a.options


# --- scope: every heading says what HCPs it was computed among ---------------------------
def _answer_query(assistant, text: str = "", **slots):
    """The answer to a query built directly (not parsed), completed and routed as usual."""
    from assistant.query import Compare, Query

    if isinstance(slots.get("compare"), tuple):
        slots["compare"] = Compare(*slots["compare"])
    q = assistant.router.complete(Query(text=text, cued=True, **slots))
    return assistant.composer.answer(text, assistant.router.run(q))


_GP_DE = {"ta": "CARD", "markets": ["DE"], "specialty": "gp"}


@pytest.mark.parametrize("slots,phrase", [
    ({"intent": "kpi_value", "kpi": "nps", "brands": ["cardiovex"], "markets": ["DE"],
      "waves": ["2025-Q4"], "prescriber": True},
     "Net Promoter Score for Cardiovex, Germany, among prescribers, 2025-Q4: "),
    ({"intent": "ranking", "kpi": "nps", "ta": "CARD", "markets": ["DE"], "waves": ["2025-Q4"],
      "prescriber": False},
     "Net Promoter Score ranking, Cardiology, Germany, among non-prescribers, 2025-Q4:"),
    ({"intent": "ranking", "kpi": "nps", "ta": "IMM", "markets": ["DE"], "waves": ["2026-Q2"],
      "specialty": "dermatologist"}, "Immunology, Germany, among dermatologists, 2026-Q2:"),
    ({"intent": "ranking", "kpi": "nps", "ta": "CARD", "markets": ["DE"], "waves": ["2025-Q4"],
      "channel": "msl_f2f"}, "Germany, among HCPs reached by MSL visit, 2025-Q4:"),
    ({"intent": "trend", "kpi": "nps", "brands": ["cardiovex"], "markets": ["DE"],
      "specialty": "cardiologist", "setting": "hospital"},
     "Cardiovex, Germany, among hospital-based cardiologists, over waves:"),
    ({"intent": "compare", "kpi": "nps", "brands": ["cardiovex", "corastin"], "ta": "CARD",
      "markets": ["ES"], "waves": ["2025-Q4"], "specialty": "gp", "setting": "office",
      "compare": ("brand", "cardiovex", "corastin")},
     "Net Promoter Score, Cardiology, Spain, among office-based GPs, 2025-Q4: Cardiovex"),
    ({"intent": "key_drivers", "kpi": "nps", **_GP_DE, "waves": ["2025-Q4"]},
     "in Cardiology, Germany, among GPs, 2025-Q4"),
    ({"intent": "explain_change", "kpi": "nps", "brands": ["cardiovex"], "markets": ["DE"],
      "waves": ["2025-Q2", "2025-Q4"], "prescriber": True},
     "Net Promoter Score for Cardiovex, Germany, among prescribers went from"),
    ({"intent": "channel_mix", "brands": ["cardiovex"], "markets": ["DE"], "waves": ["2025-Q4"],
      "specialty": "gp"}, "Channel mix for Cardiovex, Germany, among GPs, 2025-Q4"),
])
def test_every_analysis_states_its_segment_or_channel(assistant, slots, phrase) -> None:
    a = _answer_query(assistant, **slots)
    assert phrase in a.text, a.text
    assert "Note: not restricted" not in a.text
    labelled = [v for v in a.values if v["value"] is not None]
    assert labelled and all(v["segment"] or v["channel"] for v in labelled), a.values


def test_a_ranking_among_a_segment_says_so(assistant) -> None:
    a = assistant.ask("Rank cardiology brands by NPS in Germany 2025-Q4 among non-prescribers")
    assert a.text.startswith("Net Promoter Score ranking, Cardiology, Germany, among "
                             "non-prescribers, 2025-Q4:")
    assert {v["segment"] for v in a.values} == {"non-prescribers"}


def test_the_leader_of_a_segment_is_named_as_that_segments_leader(assistant) -> None:
    from cxengine.kpis import get_kpi

    a = assistant.ask("How does Cardiovex compare with the leader among GPs in Germany in "
                      "2026-Q2?")
    leader = a.values[0]
    assert leader["segment"] == "gp" and leader["brand"] == "cardiovex"
    shown = get_kpi("nps").format(leader["value"])
    assert a.text.startswith("Cardiovex is the Net Promoter Score leader in Cardiology, "
                             f"Germany, among GPs, 2026-Q2: {shown}")


def test_a_filter_the_analysis_did_not_apply_is_said(assistant) -> None:
    """The driver analysis does not filter by channel: the answer says so rather than
    reading as computed among the HCPs reached by it."""
    a = _answer_query(assistant, intent="key_drivers", kpi="nps", ta="CARD", markets=["DE"],
                      waves=["2025-Q4"], channel="msl_f2f")
    assert "reached by" not in a.text.split("Note:")[0]
    assert "Note: not restricted to HCPs reached by MSL visit" in a.text


def test_the_leader_found_over_other_hcps_is_qualified(assistant) -> None:
    """Compared with the leader among the HCPs reached by a channel: the leader is qualified
    with the HCPs its ranking was computed among whenever that is not the same."""
    a = _answer_query(assistant, intent="compare", kpi="nps", brands=["corastin"], ta="CARD",
                      markets=["DE"], waves=["2025-Q4"], channel="msl_f2f",
                      compare=("brand", "corastin", "leader", "leader"))
    assert "among HCPs reached by MSL visit, 2025-Q4: Corastin" in a.text
    assert "(the leader)" in a.text or "(the leader among all HCPs, not necessarily among " \
        "HCPs reached by MSL visit)" in a.text


# --- a paired test is said with what it tested ----------------------------------------
def test_a_paired_comparison_states_the_tested_difference(assistant) -> None:
    from assistant.phrasing import singular
    from cxengine.kpis import get_kpi

    a = assistant.ask("Cardiovex vs Corastin NPS among office GPs in Spain 2025-Q4")
    t = a.evidence_of("test")[0]
    assert t["test"].startswith("paired") and t["difference"] < 0
    tested = get_kpi("nps").format_change(abs(t["difference"])).lstrip("+")
    word = "significant" if t["significant"] else "not significant"
    assert singular(f"among the {t['detail']['n_common']} HCPs who rated both, Corastin is "
                    f"{tested} below Cardiovex, {word} at 95% ({t['test']})") in a.text, a.text


def test_ranking_gaps_state_the_paired_difference_they_test(assistant) -> None:
    from assistant.phrasing import singular
    from cxengine.kpis import get_kpi

    a = assistant.ask("Rank cardiology brands by NPS in Germany 2025-Q4 among non-prescribers")
    tests = {t["label"].split(" vs leader ")[0]: t for t in a.evidence_of("test")}
    lines = {ln.split(" ")[1]: ln for ln in a.text.splitlines() if ln[:1].isdigit()}
    assert tests and set(tests) < set(lines)
    for name, t in tests.items():
        said = singular(f"among the {t['detail']['n_common']} HCPs who rated both: "
                        f"{get_kpi('nps').format_change(t['difference'])}")
        assert said in lines[name], lines[name]
    assert "paired z-test on common raters: the HCPs who rated both" in a.text


def test_a_test_on_overlapping_sides_is_said_to_be_approximate(assistant) -> None:
    a = _answer_query(assistant, intent="compare", kpi="nps", brands=["cardiovex"], ta="CARD",
                      markets=["DE"], waves=["2025-Q4"],
                      compare=("channel", "msl_f2f", "f2f_rep"))
    assert any("approximate" in e.get("text", "") for e in a.evidence_of("note"))
    assert "HCPs reached by MSL visit" in a.text and "approximate: the same HCPs" in a.text


# --- labels of values -------------------------------------------------------------------
def test_importance_values_belong_to_the_pooled_regression(assistant) -> None:
    a = assistant.ask("What should we fix first for Cardiovex in Germany?")
    importance = [v for v in a.values if v["kpi"].startswith("importance:")]
    assert importance and all(v["brand"] is None for v in importance)
    assert "quadrants from Cardiovex's performance" in a.text


def test_company_level_values_name_their_company(assistant, engine) -> None:
    gap = assistant.ask("perception gap on nps by company")
    summary = next(e["summary"] for e in gap.evidence if e.get("text") == "perception_gap summary")
    assert summary and [v["company"] for v in gap.values] == sorted(
        e for e in {r["company"] for t in gap.evidence_of("table") for r in t["rows"]})
    # A KPI pooled over a company's brands (the engine's company filter, whatever the router
    # makes of "NPS of Helixa"), and a breakdown of it by brand.
    from assistant.query import Query
    from assistant.router import Routed

    q = Query(intent="kpi_value", kpi="nps", company="Helixa", markets=["DE"],
              waves=["2025-Q4"])
    for by, want in (((), ["Helixa"]), (("brand",), [None, None])):
        res = engine.kpi_value("nps", company="Helixa", market="DE", wave="2025-Q4", by=by)
        one = assistant.composer.answer("", Routed(q, "engine", res))
        assert [v["company"] for v in one.values] == want  # a brand names its own company


# --- an effective base never reads as reaching the threshold it is below -----------------
@pytest.mark.parametrize("n_eff,threshold,decimals,said", [
    (29.6, 30, 1, "29.6"),
    (29.995, 30, 1, "29.995"),  # "30.0 < 30" would contradict itself
    (29.96, 30, 1, "29.96"),
    (99.6, 100, 0, "99.6"),
    (95.2, 100, 0, "95"),
    (30.0, 30, 1, "just under 30"),  # already rounded to the threshold: no number left
])
def test_a_base_below_a_threshold_is_written_below_it(n_eff, threshold, decimals, said) -> None:
    from cxengine.stats import format_below

    assert format_below(n_eff, threshold, decimals) == said


def test_suppression_warnings_and_texts_never_reach_the_threshold(assistant, engine) -> None:
    from cxengine.kpis import get_kpi
    from cxengine.results import Value

    run = engine.ctx.new_run()
    engine.ctx.flag_warnings(run, get_kpi("nps"), [
        Value("nps", None, 31, 29.995, flags=["suppressed"]),
        Value("nps", 10.0, 101, 99.96, flags=["small_base"])], what="x")
    assert "effective base 29.995 < 30" in run.warnings[0]
    assert "effective base 99.96)" in run.warnings[1]
    comp = assistant.composer
    assert comp._value({"kpi": "nps", "value": None, "effective_base": 30.0,
                        "flags": ["suppressed"]}).endswith("(effective base just under 30)")
    small = comp._value({"kpi": "nps", "value": 10.0, "ci_low": 0.0, "ci_high": 20.0,
                         "base": 101, "effective_base": 99.6, "flags": ["small_base"]})
    assert "effective base 99.6, small base)" in small


# --- lowest first -----------------------------------------------------------------------
@pytest.mark.parametrize("kpi,order,bottom_up,said", [
    ("nps", "ascending", True, "lowest first"),
    ("nps", "descending", False, "highest first"),
    ("detractors_pct", "ascending", False, "lowest first"),  # its best (leader) is lowest
    ("detractors_pct", "descending", True, "highest first"),  # "worst detractors"
])
def test_a_ranking_in_the_order_asked(assistant, kpi, order, bottom_up, said) -> None:
    from cxengine.kpis import get_kpi

    a = _answer_query(assistant, intent="ranking", kpi=kpi, ta="CARD", markets=["DE"],
                      waves=["2025-Q4"], order=order)
    ranks = [int(ln.split(".")[0]) for ln in a.text.splitlines() if ln[:1].isdigit()]
    assert len(ranks) > 2 and ranks == sorted(ranks, reverse=bottom_up)
    assert a.text.startswith(f"{get_kpi(kpi).label} ranking, Cardiology, Germany, 2025-Q4, "
                             f"{said}:")


def test_a_comparison_of_segments_finds_both_sides(assistant) -> None:
    """Segment sides are found by the engine's segment label (values carry no `prescriber`
    key): both values are stated, never "no data"."""
    from cxengine.kpis import get_kpi

    a = _answer_query(assistant, intent="compare", kpi="nps", brands=["pulmatrex"], ta="ONC",
                      markets=["IT"], waves=["2025-Q4"], compare=("prescriber", True, False))
    pre, non = (next(v for v in a.values if v["segment"] == s)
                for s in ("prescribers", "non-prescribers"))
    nps = get_kpi("nps")
    assert f"prescribers {nps.format(pre['value'])} (" in a.text
    assert f"non-prescribers {nps.format(non['value'])} (" in a.text
    assert "no data" not in a.text and "Non-prescribers are " in a.text
