"""The sample generator: deterministic, and the raw data tells the planted scenario.

Every expected value here is computed with pandas straight from the generated
files, independently of cxengine's SQL and statistics.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxengine.sample import generate_sample
from cxengine.scenario import Scenario
from tests.conftest import ROOT, RawSample, weighted_mean, weighted_nps

SCENARIO = ROOT / "data/sample/scenario.yaml"


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix in (".parquet", ".csv")}


def test_same_seed_and_scale_give_identical_bytes(tmp_path: Path) -> None:
    sc = Scenario.load(SCENARIO)
    a = generate_sample(tmp_path / "a", scenario=sc, seed=11)
    b = generate_sample(tmp_path / "b", scenario=sc, seed=11)
    assert a.rows == b.rows
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    generate_sample(tmp_path / "c", scenario=sc, seed=12)
    assert _digest(tmp_path / "c")["brand_ratings.parquet"] != _digest(
        tmp_path / "a")["brand_ratings.parquet"]


def test_csv_output_is_deterministic_too(tmp_path: Path) -> None:
    sc = Scenario.load(SCENARIO)
    generate_sample(tmp_path / "a", scenario=sc, fmt="csv", seed=3)
    generate_sample(tmp_path / "b", scenario=sc, fmt="csv", seed=3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    header = (tmp_path / "a" / "brand_ratings.csv").read_text().splitlines()[0]
    assert header.startswith('"respondent_id","brand_id","prescriber","recommend"')


def test_scale_multiplies_respondents(tmp_path: Path, raw: RawSample) -> None:
    report = generate_sample(tmp_path / "s2", scenario=Scenario.load(SCENARIO), scale=2)
    assert report.rows["respondents"] == 2 * len(raw["respondents"])


def test_sample_size_matches_the_design(raw: RawSample) -> None:
    resp = raw["respondents"]
    cell = resp.groupby(["wave_id", "market_id", "ta_id"]).size()
    full = cell.drop("2025-Q3", level="wave_id")
    assert 160 <= full.mean() <= 240  # "about 200 HCPs per market x TA in a full wave"
    assert 80 <= cell.loc["2025-Q3"].mean() <= 120  # light wave: about 100
    per_rater = raw["brand_ratings"].groupby("respondent_id").size()
    assert 2 <= per_rater.mean() <= 4  # each rates the brands they know, typically 2-4


def test_light_wave_leaves_non_headline_columns_empty(raw: RawSample) -> None:
    r = raw.ratings
    light = r[r["wave_id"] == "2025-Q3"]
    assert light["knowledge"].isna().all() and light["effort_ease"].isna().all()
    assert light["recommend"].notna().all() and light["product_rating"].notna().all()
    light_ids = set(light["respondent_id"])
    assert not light_ids & set(raw["channel_interactions"]["respondent_id"])
    assert not light_ids & set(raw["content_exposure"]["respondent_id"])


def _reach(raw: RawSample, brand: str, market: str, wave: str, channel: str) -> float:
    r = raw.ratings
    raters = r[(r.brand_id == brand) & (r.market_id == market) & (r.wave_id == wave)]
    ci = raw["channel_interactions"]
    reached = set(ci[(ci.brand_id == brand) & (ci.channel_id == channel)]["respondent_id"])
    hit = raters["respondent_id"].isin(reached)
    return float(100 * (raters["weight"] * hit).sum() / raters["weight"].sum())


def _cell(raw: RawSample, brand: str, market: str, wave: str) -> pd.DataFrame:
    r = raw.ratings
    return r[(r.brand_id == brand) & (r.market_id == market) & (r.wave_id == wave)]


def _nps_se(d: pd.DataFrame) -> float:
    """Standard error of a weighted NPS on the Kish effective base (DOMAIN section 4)."""
    score = (d["recommend"] >= 9) * 100.0 - (d["recommend"] <= 6) * 100.0
    w = d["weight"]
    mean = np.average(score, weights=w)
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    return float(np.sqrt(np.average((score - mean) ** 2, weights=w) / n_eff))


def test_planted_1_helixa_field_force_cut(raw: RawSample) -> None:
    q2, q4 = _cell(raw, "cardiovex", "DE", "2025-Q2"), _cell(raw, "cardiovex", "DE", "2025-Q4")
    reach_drop = (_reach(raw, "cardiovex", "DE", "2025-Q4", "f2f_rep")
                  - _reach(raw, "cardiovex", "DE", "2025-Q2", "f2f_rep"))
    assert -30 <= reach_drop <= -20  # "falls by about 25 points"
    for driver in ("respect_time", "knowledge"):
        assert weighted_mean(q4, driver) < weighted_mean(q2, driver) - 0.3
    drop = weighted_nps(q4) - weighted_nps(q2)
    assert -14 <= drop <= -9  # "about 10 points"
    z = drop / np.hypot(_nps_se(q2), _nps_se(q4))
    assert z < -1.96  # "(significant)": independent samples, effective bases


def test_german_cardiology_boost_doubles_the_cell_from_2025_q2(raw: RawSample) -> None:
    cell = raw["respondents"].groupby(["market_id", "ta_id", "wave_id"]).size()
    assert cell.loc[("DE", "CARD", "2024-Q4")] == 260 == cell.loc[("DE", "ONC", "2025-Q4")]
    assert cell.loc[("DE", "CARD", "2025-Q2")] == 520 == cell.loc[("DE", "CARD", "2026-Q2")]
    assert cell.loc[("DE", "CARD", "2025-Q3")] == 260  # light wave, boosted too
    sc = Scenario.load(SCENARIO)
    assert sc.sample_boost("DE", "CARD", "2024-Q4") == 1.0
    assert sc.sample_boost("DE", "CARD", "2025-Q4") == 2.0
    assert sc.sample_boost("UK", "CARD", "2025-Q4") == 1.0


def test_planted_2_oncelis_portal_launch(raw: RawSample) -> None:
    q2, q4 = _cell(raw, "oncelis", "FR", "2025-Q2"), _cell(raw, "oncelis", "FR", "2025-Q4")
    portal = (_reach(raw, "oncelis", "FR", "2025-Q4", "hcp_portal")
              - _reach(raw, "oncelis", "FR", "2025-Q2", "hcp_portal"))
    assert 17 <= portal <= 33
    assert 0.5 <= weighted_mean(q4, "ease") - weighted_mean(q2, "ease") <= 1.5
    assert 3 <= weighted_nps(q4) - weighted_nps(q2) <= 14  # "about 8 points"


def test_planted_3_dermavance_launch_and_leadership(raw: RawSample) -> None:
    r = raw.ratings
    derm = r[r.brand_id == "dermavance"]
    first = derm.groupby("market_id")["wave_id"].min().to_dict()
    assert first == {"DE": "2025-Q2", "UK": "2025-Q2", "FR": "2025-Q4", "ES": "2025-Q4",
                     "IT": "2025-Q4"}
    for market in ("DE", "UK"):
        imm = r[(r.ta_id == "IMM") & (r.market_id == market)]
        launch = imm[imm.wave_id == "2025-Q2"].groupby("brand_id").apply(weighted_nps)
        # "starts below the incumbents": last, and clearly so, not by a coin-flip
        assert launch.idxmin() == "dermavance"
        assert launch.drop("dermavance").min() - launch["dermavance"] >= 8
        latest = imm[imm.wave_id == "2026-Q2"].groupby("brand_id").apply(weighted_nps)
        assert latest.idxmax() == "dermavance"  # IMM leader by 2026-Q2
        ci = raw["channel_interactions"]
        raters = imm[imm.wave_id == "2026-Q2"][["respondent_id", "brand_id", "weight"]]
        counts = ci.groupby(["respondent_id", "brand_id"]).size().rename("k").reset_index()
        b = raters.merge(counts, how="left", on=["respondent_id", "brand_id"]).fillna({"k": 0})
        breadth = b.groupby("brand_id").apply(lambda d: np.average(d["k"], weights=d["weight"]))
        assert breadth.idxmax() == "dermavance"  # on the strongest omnichannel breadth


def test_planted_4_msl_video_beats_rep_video_f2f_parity(raw: RawSample) -> None:
    mean = raw["channel_interactions"].groupby("channel_id")["rating"].mean()
    assert 0.6 <= mean["msl_video"] - mean["remote_rep"] <= 1.4
    assert abs(mean["msl_f2f"] - mean["f2f_rep"]) < 0.3


def test_planted_5_internal_estimates_overshoot(raw: RawSample) -> None:
    r = raw.ratings
    hcp = r.groupby(["brand_id", "market_id", "wave_id"]).apply(weighted_nps).rename("hcp")
    est = raw["internal_assessments"].query("kpi_id == 'nps'").merge(
        hcp.reset_index(), on=["brand_id", "market_id", "wave_id"])
    gap = est["estimate"] - est["hcp"]
    assert gap.sum() / est["hcp"].abs().sum() >= 0.5  # 50% or more on average
    assert (gap > 0).mean() > 0.9


def test_planted_6_most_content_goes_unused(raw: RawSample) -> None:
    e = raw["content_exposure"].merge(raw["respondents"][["respondent_id", "weight", "wave_id"]])
    seen = e.groupby(["wave_id", "asset_id"]).apply(
        lambda d: np.average(d["seen"], weights=d["weight"]))
    assert (seen < 0.10).mean() > 0.70


def test_planted_8_corastin_supply_dip_is_product_not_cx(raw: RawSample) -> None:
    q2, q3 = _cell(raw, "corastin", "UK", "2025-Q2"), _cell(raw, "corastin", "UK", "2025-Q3")
    assert weighted_nps(q3) < weighted_nps(q2) - 5
    assert weighted_mean(q3, "product_rating") < weighted_mean(q2, "product_rating") - 0.4
    intent = [np.average(d["intent_more"] >= 4, weights=d["weight"]) for d in (q2, q3)]
    assert intent[1] < intent[0] - 0.05
    # Elsewhere in the UK light wave, Corastin's peers do not dip the same way.
    peers = _cell(raw, "cardiovex", "UK", "2025-Q3")
    assert weighted_mean(peers, "product_rating") > weighted_mean(q3, "product_rating")


@pytest.mark.parametrize("bad", [0, -1])
def test_scale_must_be_positive(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_sample(tmp_path / "x", scale=bad)


def test_readme_schema_reference_is_in_sync() -> None:
    from cxengine.schema import schema_markdown

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme[readme.index("## Data schema reference"):]
    assert reference.strip() == schema_markdown(level=2).strip()
