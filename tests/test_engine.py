"""The engine's analyses: planted scenario recovered through the public API, evidence
complete, thresholds honoured, safe under concurrency."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import numpy as np
import pytest

from cxengine.engine import Engine
from cxengine.stats import Thresholds
from tests.conftest import RawSample, weighted_nps

# --- the planted scenario, through the public API --------------------------------------


def test_cardiovex_de_nps_falls_about_10_points_significantly(engine: Engine) -> None:
    r = engine.trend("nps", brand="cardiovex", market="DE", waves=["2025-Q2", "2025-Q4"])
    step = r.table[1]
    assert -14 <= step["change"] <= -9 and step["significant"]
    assert r.evidence_of("test")[0]["test"].startswith("two-sample z-test")


def test_why_cardiovex_fell_names_field_force_and_drivers(engine: Engine) -> None:
    r = engine.explain_change("nps", brand="cardiovex", market="DE", from_wave="2025-Q2",
                              to_wave="2025-Q4")
    s = r.summary
    assert s["change"] < 0 and s["significant"]
    top_two = {c["predictor"] for c in s["contributions"][:2]}
    assert top_two == {"respect_time", "knowledge"}
    assert all(c["contribution"] < 0 for c in s["contributions"][:2])
    f2f = next(c for c in s["channels"] if c["channel"] == "f2f_rep")
    assert s["channels"][0]["channel"] == "f2f_rep" and -33 <= f2f["reach_delta"] <= -17
    mix = s["mix"]
    assert mix["mix"] + mix["rate"] + mix["interaction"] == pytest.approx(s["change"], abs=1e-9)
    assert s["explained"] + s["unexplained"] == pytest.approx(s["change"])
    chart = r.evidence_of("chart")[0]
    assert chart["type"] == "waterfall" and len(chart["steps"]) == 9


def test_oncelis_fr_portal_and_ease_lift_nps(engine: Engine) -> None:
    s = engine.explain_change("nps", brand="oncelis", market="FR", from_wave="2025-Q2",
                              to_wave="2025-Q4").summary
    assert 3 <= s["change"] <= 14
    portal = next(c for c in s["channels"] if c["channel"] == "hcp_portal")
    assert 17 <= portal["reach_delta"] <= 33
    ease = next(c for c in s["contributions"] if c["predictor"] == "ease")
    assert 0.5 <= ease["delta_mean"] <= 1.5 and ease["contribution"] > 0


def test_dermavance_leads_imm_in_de_and_uk_by_2026_q2(engine: Engine) -> None:
    for market in ("DE", "UK"):
        r = engine.ranking("nps", ta="IMM", market=market, wave="2026-Q2")
        assert r.summary["leader"] == "dermavance"
        # Starts below every incumbent, by a margin (not a coin flip).
        launch = engine.ranking("nps", ta="IMM", market=market, wave="2025-Q2")
        assert launch.summary["order"][-1] == "dermavance"
        values = {row["brand"]: row["value"] for row in launch.table}
        lowest_incumbent = min(v for b, v in values.items() if b != "dermavance")
        assert lowest_incumbent - values["dermavance"] >= 8
        breadth = engine.ranking("omnichannel_breadth", ta="IMM", market=market, wave="2026-Q2")
        assert breadth.summary["leader"] == "dermavance"


def test_dermavance_not_launched_is_said_plainly(engine: Engine) -> None:
    r = engine.kpi_value("nps", brand="dermavance", market="FR", wave="2025-Q2")
    assert r.values == [] and any("not launched" in w for w in r.warnings)


def test_msl_video_rated_about_one_point_above_rep_video(engine: Engine) -> None:
    r = engine.kpi_value("channel_impact", channel=["msl_video", "remote_rep", "msl_f2f",
                                                    "f2f_rep"], by=["channel"])
    v = {x.channel: x.value for x in r.values}
    assert 0.6 <= v["msl_video"] - v["remote_rep"] <= 1.4
    assert abs(v["msl_f2f"] - v["f2f_rep"]) < 0.3


def test_internal_estimates_overshoot_by_half(engine: Engine) -> None:
    s = engine.perception_gap("nps").summary
    assert s["relative_gap"] >= 0.5 and s["share_overshooting"] > 0.9
    norvaxa = engine.perception_gap("nps", company="Norvaxa")
    assert {row["company"] for row in norvaxa.table} == {"Norvaxa"}


def test_most_content_unused(engine: Engine) -> None:
    r = engine.kpi_value("content_unused_pct", wave="2025-Q4")
    assert r.values[0].value > 70


def test_omnichannel_correlates_with_cx_and_cx_is_60_percent(engine: Engine) -> None:
    s = engine.correlations().summary
    assert 0.7 <= s["omnichannel_performance~cx_index"] <= 0.9
    assert s["cx_index~nps"] > 0.5
    kd = engine.key_drivers()
    assert 50 <= kd.summary["cx_share"] <= 70  # "about 60% CX, 40% product"
    assert kd.summary["cx_share"] + kd.summary["product_share"] == pytest.approx(100)


def test_corastin_uk_dip_is_product_and_intent(engine: Engine) -> None:
    s = engine.explain_change("nps", brand="corastin", market="UK", from_wave="2025-Q2",
                              to_wave="2025-Q3").summary
    assert s["change"] < -5
    assert s["contributions"][0]["predictor"] == "product_rating"
    assert s["contributions"][0]["contribution"] < 0
    intent = engine.trend("intent_t2b", brand="corastin", market="UK",
                          waves=["2025-Q2", "2025-Q3"]).table[1]
    assert intent["change"] < 0


# --- analyses' own rules ---------------------------------------------------------------


def test_ranking_leader_gap_and_index(engine: Engine, raw: RawSample) -> None:
    r = engine.ranking("nps", ta="CARD", market="DE", wave="2025-Q4")
    rows = {row["brand"]: row for row in r.table}
    d = raw.ratings.query("ta_id == 'CARD' and market_id == 'DE' and wave_id == '2025-Q4'")
    expected = d.groupby("brand_id").apply(weighted_nps)
    assert r.summary["leader"] == expected.idxmax()
    for brand, value in expected.items():
        assert rows[brand]["value"] == pytest.approx(value, abs=1e-3)
        assert rows[brand]["gap_to_leader"] == pytest.approx(value - expected.max(), abs=1e-3)
    assert [t["test"] for t in r.evidence_of("test")] == ["paired z-test on common raters"] * 3


def test_paired_test_matches_a_pandas_recomputation(engine: Engine, raw: RawSample) -> None:
    d = raw.ratings.query("market_id == 'DE' and wave_id == '2025-Q4'")
    score = lambda x: np.where(x >= 9, 100.0, np.where(x >= 7, 0.0, -100.0))  # noqa: E731
    a = d[d.brand_id == "cardiovex"].set_index("respondent_id")
    b = d[d.brand_id == "ventrisol"].set_index("respondent_id")
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    diff = score(both.recommend_b) - score(both.recommend_a)
    w = both.weight_a
    mean = np.average(diff, weights=w)
    se = math.sqrt(np.average((diff - mean) ** 2, weights=w) / (w.sum() ** 2 / (w ** 2).sum()))
    r = engine.compare("nps", dimension="brand", a="cardiovex", b="ventrisol", market="DE",
                       wave="2025-Q4")
    test = r.evidence_of("test")[0]
    assert test["test"] == "paired z-test on common raters"
    assert test["statistic"] == pytest.approx(mean / se, rel=1e-9)
    assert test["detail"]["n_common"] == len(both)


def test_compare_waves_uses_share_test_for_shares(engine: Engine) -> None:
    r = engine.compare("csat_t2b", dimension="wave", a="2025-Q2", b="2025-Q4",
                       brand="cardiovex", market="DE")
    assert r.summary["test"].startswith("pooled two-proportion z-test")
    r = engine.compare("product_score", dimension="market", a="DE", b="FR",
                       brand="cardiovex", wave="2025-Q4")
    assert r.summary["test"].startswith("Welch")


def test_trend_skips_light_wave_for_drivers_and_says_so(engine: Engine) -> None:
    r = engine.trend("driver:ease", brand="cardiovex", market="DE")
    assert "2025-Q3" not in [row["wave"] for row in r.table]
    assert any("2025-Q3 is a light wave" in w for w in r.warnings)  # a warning, not a note
    r = engine.kpi_value("driver:ease", brand="cardiovex", market="DE", wave="2025-Q3")
    assert any("light wave" in w for w in r.warnings)


def test_key_drivers_quadrants_and_shares(engine: Engine) -> None:
    r = engine.key_drivers(ta="CARD", market="DE", brand="cardiovex")
    shares = [row["importance_pct"] for row in r.table]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    assert {row["quadrant"] for row in r.table} <= {"fix", "leverage", "maintain", "monitor"}
    assert len(r.table) == 8 and r.evidence_of("chart")[0]["type"] == "quadrant"


def test_channel_mix_reference_and_competitors(engine: Engine) -> None:
    r = engine.channel_mix(brand="oncelis", market="FR", wave="2025-Q4")
    rows = {row["channel"]: row for row in r.table}
    assert rows["f2f_rep"]["impact_index"] == pytest.approx(1.0)
    assert rows["msl_f2f"]["impact_index"] == pytest.approx(1.0)
    assert rows["hcp_portal"]["reach"] > rows["hcp_portal"]["competitors_reach"]
    assert set(r.summary["roles"]) == {"sales", "medical"}


# --- thresholds, evidence, safety -------------------------------------------------------


def test_suppression_and_small_base_flags(sample_db, engine: Engine) -> None:
    """Thresholds set just above and just below one real cell's effective base."""
    cell = engine.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4").values[0]
    n_eff = cell.effective_base
    strict = Engine(sample_db, thresholds=Thresholds(suppress_below=n_eff + 1,
                                                     small_below=n_eff + 2))
    try:
        r = strict.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4")
        v = r.values[0]
        assert v.value is None and v.ci_low is None and "suppressed" in v.flags
        assert any("base too low" in w for w in r.warnings)
        row = r.table[0]
        assert row["value"] is None and row["se"] is None
    finally:
        strict.close()
    loose = Engine(sample_db, thresholds=Thresholds(suppress_below=n_eff - 1,
                                                    small_below=n_eff + 1))
    try:
        v = loose.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4").values[0]
        assert v.value == pytest.approx(cell.value) and v.flags == ["small_base"]
    finally:
        loose.close()


def test_evidence_is_complete_and_json(engine: Engine) -> None:
    r = engine.ranking("nps", ta="ONC", market="FR", wave="2025-Q4")
    kinds = {e["kind"] for e in r.evidence}
    assert {"definition", "sql", "table", "test", "chart", "note"} <= kinds
    sql = r.evidence_of("sql")[0]
    assert "?" in sql["sql"] and "FR" in sql["params"] and "'FR'" not in sql["sql"]
    text = json.dumps(r.to_dict())
    assert "respondent_id\":" not in text and "-DE-CARD-0" not in text
    assert r.dataset_version == engine.dataset_version


def test_user_text_never_reaches_sql(engine: Engine) -> None:
    hostile = "x'; DROP TABLE brand_ratings; --"
    r = engine.kpi_value("nps", brand=hostile, market="DE")
    assert r.values == []
    assert engine.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4").values


def test_concurrent_calls_equal_sequential(engine: Engine) -> None:
    calls = [lambda m=m, w=w: engine.ranking("nps", ta="CARD", market=m, wave=w)
             for m in ("DE", "FR", "UK") for w in ("2025-Q2", "2025-Q4")]
    calls += [lambda b=b: engine.trend("nps", brand=b, market="DE")
              for b in ("cardiovex", "ventrisol")]
    calls += [lambda: engine.key_drivers(ta="ONC"),
              lambda: engine.explain_change(brand="cardiovex", market="DE",
                                            from_wave="2025-Q2", to_wave="2025-Q4"),
              lambda: engine.compare("nps", dimension="brand", a="cardiovex", b="ventrisol",
                                     market="DE"),
              lambda: engine.channel_mix(brand="oncelis", market="FR", wave="2025-Q4")]
    sequential = [_result_json(c()) for c in calls]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            parallel = list(pool.map(lambda c: _result_json(c()), calls))
            assert parallel == sequential


def _result_json(result) -> str:
    """The whole result (values, table, tests, notes, summary) minus the statements' timings,
    the one part that legitimately differs between runs."""
    d = result.to_dict()
    d["evidence"] = [{k: v for k, v in e.items() if not (e["kind"] == "sql" and k == "ms")}
                     for e in d["evidence"]]
    return json.dumps(d, sort_keys=True)


def test_catalogue_lists_what_exists(engine: Engine) -> None:
    cat = engine.catalogue()
    assert [w["wave_id"] for w in cat.waves] == ["2024-Q2", "2024-Q4", "2025-Q2", "2025-Q3",
                                                 "2025-Q4", "2026-Q2"]
    derm = next(b for b in cat.brands if b["brand_id"] == "dermavance")
    assert derm["lifecycle"]["FR"]["2025-Q2"] == "prelaunch"
    assert derm["lifecycle"]["DE"]["2025-Q2"] == "launch"
    assert any("net promoter" in k["synonyms"] for k in cat.kpis)
    assert not list(combinations([], 2))
    json.dumps(cat.to_dict())
