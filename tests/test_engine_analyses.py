"""The harder analyses on the edges the audit found: key drivers for a brand without ratings,
decompositions of KPIs that cannot be decomposed, derived KPIs asked as values, segment
filters everywhere, the perception gap's base, the competitors' average, mix vs rate with a
segment missing in one wave.

Expected values are recomputed with pandas / numpy from the sample files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxengine.change import _mix_rate
from cxengine.drivers import PREDICTORS
from cxengine.engine import Engine
from cxengine.errors import Unanswerable
from cxengine.kpi_sql import Filters
from cxengine.measure import Cell
from cxengine.stats import Moments, estimate
from tests.conftest import RawSample, weighted_nps


def _cell(raw: RawSample, brand: str, market: str, wave: str) -> pd.DataFrame:
    r = raw.ratings
    return r[(r.brand_id == brand) & (r.market_id == market) & (r.wave_id == wave)]


def _reach(raw: RawSample, d: pd.DataFrame, channel: str) -> tuple[float, pd.DataFrame]:
    """Weighted share of d's raters reached by the channel, and the reached rows."""
    ci = raw["channel_interactions"].query("channel_id == @channel")
    hit = d.merge(ci, on=["respondent_id", "brand_id"], how="left")
    return (float(np.average(hit.interactions.notna() * 100.0, weights=hit.weight)),
            hit[hit.interactions.notna()])


def _kish(w: pd.Series) -> float:
    return float(w.sum() ** 2 / (w ** 2).sum())


# --- 3. key drivers for a brand without ratings ------------------------------------------------


def test_key_drivers_for_a_prelaunch_brand_give_importance_without_performance(
        engine: Engine, raw: RawSample) -> None:
    full = set(raw["waves"].query("wave_type == 'full'").wave_id)
    rated = set(raw.ratings[["brand_id", "market_id", "wave_id"]].itertuples(index=False))
    life = raw["brand_lifecycle"].query("stage == 'prelaunch'")
    brand, market, wave = next(cell for cell in life[["brand_id", "market_id", "wave_id"]]
                               .itertuples(index=False) if cell[2] in full and cell not in rated)
    ta = raw["brands"].set_index("brand_id").ta_id[brand]
    r = engine.key_drivers(ta=ta, market=market, wave=wave, brand=brand)
    assert len(r.table) == len(PREDICTORS)
    assert sum(row["importance_pct"] for row in r.table) == pytest.approx(100, abs=0.05)
    assert all(row["performance"] is None and row["quadrant"] is None for row in r.table)
    assert any("not launched" in w and "without its performance" in w for w in r.warnings)


def test_key_drivers_for_a_brand_of_another_therapy_area_is_unanswerable(engine: Engine) -> None:
    with pytest.raises(Unanswerable, match="Cardiovex is a CARD brand, not IMM"):
        engine.key_drivers(ta="IMM", market="FR", wave="2025-Q2", brand="cardiovex")


# --- 4 / 7. what cannot be computed says where to ask ------------------------------------------


@pytest.mark.parametrize("kpi", ["channel_reach", "channel_impact_index", "content_seen_pct",
                                 "perception_gap"])
def test_explain_change_refuses_kpis_not_measured_over_raters(engine: Engine, kpi: str) -> None:
    with pytest.raises(Unanswerable, match="decompos"):
        engine.explain_change(kpi, brand="cardiovex", market="DE", from_wave="2025-Q2",
                              to_wave="2025-Q4")


@pytest.mark.parametrize("kpi, redirect", [("channel_impact_index", "channel mix analysis"),
                                           ("perception_gap", "perception gap analysis")])
def test_derived_kpis_asked_as_values_redirect(engine: Engine, kpi: str, redirect: str) -> None:
    calls = [lambda: engine.kpi_value(kpi, brand="cardiovex", market="DE", wave="2025-Q4"),
             lambda: engine.ranking(kpi, ta="CARD", market="DE", wave="2025-Q4"),
             lambda: engine.trend(kpi, brand="cardiovex", market="DE"),
             lambda: engine.compare(kpi, dimension="wave", a="2025-Q2", b="2025-Q4",
                                    brand="cardiovex", market="DE")]
    for call in calls:
        with pytest.raises(Unanswerable, match=redirect):
            call()


# --- 9. prescriber is a bool --------------------------------------------------------------------


def test_prescriber_accepts_only_true_false_or_none(engine: Engine, raw: RawSample) -> None:
    for wrong in ("false", "no", 0, 1):
        with pytest.raises(ValueError, match="prescriber must be True, False or None"):
            engine.kpi_value("nps", brand="cardiovex", prescriber=wrong)
    d = _cell(raw, "cardiovex", "DE", "2025-Q4")
    v = engine.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4",
                         prescriber=False).values[0]
    assert v.value == pytest.approx(weighted_nps(d[~d.prescriber]), abs=1e-9)


# --- 11. the perception gap's base ----------------------------------------------------------


def test_perception_gap_base_is_the_hcp_base(engine: Engine, raw: RawSample) -> None:
    r = engine.perception_gap("nps", company="Helixa")
    v = r.values[0]
    shown = [row for row in r.table if row["gap"] is not None]
    assert v.segment is None and r.summary["companies"] == ["Helixa"]
    assert v.base == sum(row["base"] for row in shown)
    assert v.effective_base == pytest.approx(sum(row["effective_base"] for row in shown))
    for row in shown[:3]:
        assert row["base"] == len(_cell(raw, row["brand"], row["market"], row["wave"]))
    with pytest.raises(Unanswerable, match="Internal estimates cover all HCPs"):
        engine.perception_gap("nps", company="Helixa", specialty="cardiologist")


# --- 12. competitors' average over brands ------------------------------------------------------


def test_competitors_average_is_the_mean_over_competitor_brands(engine: Engine,
                                                                raw: RawSample) -> None:
    brands = raw["brands"].set_index("brand_id")
    competitors = [b for b in brands.index if brands.ta_id[b] == "ONC" and b != "oncelis"]
    rows = {row["channel"]: row for row in engine.channel_mix(
        brand="oncelis", market="FR", wave="2025-Q4").table}
    for channel in ("f2f_rep", "hcp_portal"):
        reach, impact = [], []
        for b in competitors:
            d = _cell(raw, b, "FR", "2025-Q4")
            value, reached = _reach(raw, d, channel)
            if _kish(d.weight) >= 30:
                reach.append(value)
            if len(reached) and _kish(reached.weight) >= 30:
                impact.append(np.average(reached.rating, weights=reached.weight))
        row = rows[channel]
        assert row["competitors_reach"] == pytest.approx(np.mean(reach), abs=1e-9)
        assert row["competitors_reach_brands"] == len(reach)
        if impact:
            assert row["competitors_impact"] == pytest.approx(np.mean(impact), abs=1e-9)
        assert row["reach_effective_base"] > 0


# --- 13. mix vs rate with a segment in one wave only ---------------------------------------------


class _Cells:
    """A context stand-in whose measure returns fixed cells."""

    def __init__(self, cells: list[Cell]):
        self.cells = cells

    def measure(self, run, kpi, f, by):  # noqa: ANN001 - the Context.measure signature
        return self.cells


def test_mix_rate_adds_up_when_a_segment_exists_in_one_wave_only(engine: Engine) -> None:
    # Segment b leaves after w0, segment c enters in w1; a is in both.
    rows = {("w0", "a"): ([100, 0, -100, 100], [1, 2, 1, 1]), ("w0", "b"): ([-100, 0], [1, 3]),
            ("w1", "a"): ([100, 100, 0], [2, 1, 1]), ("w1", "c"): ([0, 100, -100], [1, 1, 2])}
    cells = [Cell({"wave": w, "specialty": s}, Moments.from_values(x, wt),
                  estimate(Moments.from_values(x, wt))) for (w, s), (x, wt) in rows.items()]

    def wave_rows(wave: str) -> tuple[np.ndarray, np.ndarray]:
        picked = [v for (w, _), v in rows.items() if w == wave]
        return np.concatenate([x for x, _ in picked]), np.concatenate([wt for _, wt in picked])

    (x0, w0), (x1, w1) = wave_rows("w0"), wave_rows("w1")
    change = np.average(x1, weights=w1) - np.average(x0, weights=w0)
    run = engine.ctx.new_run()
    parts = _mix_rate(_Cells(cells), run, "nps", Filters(), ["w0", "w1"], "specialty", change)
    total = sum(parts[k] for k in ("mix", "rate", "interaction", "remainder"))
    assert total == pytest.approx(change, abs=1e-12)
    assert parts["remainder"] == pytest.approx(0.0, abs=1e-9)
    share = {k: sum(wt) / wave_rows(k[0])[1].sum() for k, (_, wt) in rows.items()}
    mean = {k: np.average(x, weights=wt) for k, (x, wt) in rows.items()}
    # a: share shift x old value; b leaving and c entering are all mix
    expected_mix = ((share["w1", "a"] - share["w0", "a"]) * mean["w0", "a"]
                    - share["w0", "b"] * mean["w0", "b"] + share["w1", "c"] * mean["w1", "c"])
    assert parts["mix"] == pytest.approx(expected_mix, abs=1e-12)
    assert parts["rate"] == pytest.approx(share["w0", "a"] * (mean["w1", "a"] - mean["w0", "a"]))
    assert any("one wave only" in n for n in run.notes)


# --- 14. segment filters in every analysis ------------------------------------------------------


def test_key_drivers_apply_the_segment_to_regression_and_performance(engine: Engine,
                                                                     raw: RawSample) -> None:
    r = raw.ratings
    d = r[(r.ta_id == "CARD") & (r.market_id == "DE") & r.prescriber]
    d = d.dropna(subset=["recommend", *PREDICTORS])
    kd = engine.key_drivers(ta="CARD", market="DE", brand="cardiovex", prescriber=True)
    assert kd.summary["n"] == len(d) and kd.summary["filters"]["prescriber"] is True
    own = d[d.brand_id == "cardiovex"]
    knowledge = next(row for row in kd.table if row["predictor"] == "knowledge")
    assert knowledge["performance"] == pytest.approx(
        np.average(own.knowledge, weights=own.weight), abs=1e-3)


def test_explain_change_applies_the_segment_to_every_part(engine: Engine,
                                                          raw: RawSample) -> None:
    r = engine.explain_change(brand="cardiovex", market="DE", from_wave="2025-Q2",
                              to_wave="2025-Q4", specialty="cardiologist")
    s = r.summary
    cells = [_cell(raw, "cardiovex", "DE", w).query("specialty == 'cardiologist'")
             for w in ("2025-Q2", "2025-Q4")]
    assert s["value_from"] == pytest.approx(weighted_nps(cells[0]), abs=1e-9)
    assert s["value_to"] == pytest.approx(weighted_nps(cells[1]), abs=1e-9)
    f2f = next(c for c in s["channels"] if c["channel"] == "f2f_rep")
    assert f2f["reach_from"] == pytest.approx(_reach(raw, cells[0], "f2f_rep")[0], abs=1e-9)
    assert s["mix"]["segment"] == "prescriber"
    # The pooled regression (TA, both waves, all markets) is restricted to cardiologists too.
    rr = raw.ratings
    pool = rr[(rr.ta_id == "CARD") & rr.wave_id.isin(["2025-Q2", "2025-Q4"])
              & (rr.specialty == "cardiologist")].dropna(subset=["recommend", *PREDICTORS])
    x = np.column_stack([np.ones(len(pool)), pool[list(PREDICTORS)].to_numpy(float)])
    sw = np.sqrt(pool.weight.to_numpy())
    y = np.where(pool.recommend >= 9, 100.0, np.where(pool.recommend >= 7, 0.0, -100.0))
    beta = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
    knowledge = next(c for c in s["contributions"] if c["predictor"] == "knowledge")
    assert knowledge["coefficient"] == pytest.approx(beta[1 + PREDICTORS.index("knowledge")],
                                                     rel=1e-6)


def test_explain_change_splits_mix_by_another_segment_than_the_filtered_one(
        engine: Engine) -> None:
    r = engine.explain_change(brand="cardiovex", market="DE", from_wave="2025-Q2",
                              to_wave="2025-Q4", prescriber=True)
    assert r.summary["mix"]["segment"] != "prescriber"
    assert any("prescriber is filtered on" in e["text"] for e in r.evidence_of("note"))


def test_channel_mix_applies_the_segment_to_brand_and_competitors(engine: Engine,
                                                                  raw: RawSample) -> None:
    r = engine.channel_mix(brand="oncelis", market="FR", wave="2025-Q4", setting="hospital")
    assert r.summary["filters"]["setting"] == ["hospital"]
    f2f = next(row for row in r.table if row["channel"] == "f2f_rep")
    d = _cell(raw, "oncelis", "FR", "2025-Q4").query("setting == 'hospital'")
    assert f2f["reach"] == pytest.approx(_reach(raw, d, "f2f_rep")[0], abs=1e-9)
    assert f2f["base"] == len(d)
