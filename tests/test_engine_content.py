"""Content KPIs over every asset of the brand, with bases and errors that rest on raters; and
an unweighted database (all weights 1) where every KPI is the plain mean.

Two private copies of the sample database are altered here: one loses exposure records (an
incomplete grid), one has all weights set to 1. Expected values come from pandas on the
sample files with the same change applied."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportions_ztest

from cxengine.engine import Engine
from tests.conftest import RawSample

CELL = {"brand": "cardiovex", "market": "DE", "wave": "2025-Q4"}
Z95 = 1.959963984540054


def _copy(sample_db: Path, tmp: Path) -> Path:
    db = tmp / "cx.duckdb"
    shutil.copyfile(sample_db, db)
    return db


def _assets(raw: RawSample, brand: str) -> list[str]:
    return sorted(raw["content_assets"].query("brand_id == @brand").asset_id)


@pytest.fixture(scope="module")
def gappy(sample_db: Path, raw: RawSample, tmp_path_factory: pytest.TempPathFactory):
    """The sample without any record of the brand's first asset, and without the 'seen'
    records of its second (so those raters have no row for it at all)."""
    gone, half = _assets(raw, CELL["brand"])[:2]
    db = _copy(sample_db, tmp_path_factory.mktemp("gappy"))
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM content_exposure WHERE asset_id = ? OR (asset_id = ? AND seen)",
                [gone, half])
    con.close()
    e = raw["content_exposure"]
    exposure = e[~((e.asset_id == gone) | ((e.asset_id == half) & e.seen))]
    engine = Engine(db)
    yield engine, exposure
    engine.close()


def _raters(raw: RawSample) -> pd.DataFrame:
    r = raw.ratings
    return r[(r.brand_id == CELL["brand"]) & (r.market_id == CELL["market"])
             & (r.wave_id == CELL["wave"])]


def _per_rater(raw: RawSample, exposure: pd.DataFrame) -> pd.DataFrame:
    """Per rater of the cell: weight, assets of the brand, assets seen, seen and useful."""
    d = _raters(raw)[["respondent_id", "brand_id", "weight"]]
    e = exposure.merge(d[["respondent_id", "brand_id"]])
    counts = e.assign(useful4=e.seen & (e.useful >= 4)).groupby("respondent_id").agg(
        n_seen=("seen", "sum"), n_useful=("useful4", "sum"))
    out = d.set_index("respondent_id").join(counts).fillna({"n_seen": 0, "n_useful": 0})
    return out.assign(n_assets=len(_assets(raw, CELL["brand"])))


def _weighted(x: pd.Series, w: pd.Series) -> tuple[float, float, float]:
    """Weighted mean, SE = sqrt(weighted population variance / Kish base), Kish base."""
    mean = float(np.average(x, weights=w))
    n_eff = float(w.sum() ** 2 / (w ** 2).sum())
    return mean, math.sqrt(float(np.average((x - mean) ** 2, weights=w)) / n_eff), n_eff


def test_assets_without_exposure_records_count_as_not_seen(gappy, raw: RawSample) -> None:
    engine, exposure = gappy
    k = _per_rater(raw, exposure)
    seen = engine.kpi_value("content_seen_pct", **CELL).values[0]
    value, se, n_eff = _weighted(100.0 * k.n_seen / k.n_assets, k.weight * k.n_assets)
    assert seen.value == pytest.approx(value, abs=1e-9)
    assert seen.base == len(k) and seen.effective_base == pytest.approx(n_eff)
    assert seen.ci_low == pytest.approx(max(value - Z95 * se, 0.0), abs=1e-9)
    # The pair share over the remaining records only is what the engine must not report.
    dropped = exposure.merge(_raters(raw)[["respondent_id", "brand_id", "weight"]])
    assert abs(np.average(dropped.seen * 100.0, weights=dropped.weight) - value) > 0.1


def test_unused_content_counts_the_asset_nobody_has_a_record_for(gappy, raw: RawSample) -> None:
    engine, exposure = gappy
    d = _raters(raw)[["respondent_id", "brand_id", "weight"]]
    grid = pd.MultiIndex.from_product([d.respondent_id, _assets(raw, CELL["brand"])],
                                      names=["respondent_id", "asset_id"]).to_frame(index=False)
    grid = grid.merge(d).merge(exposure[["respondent_id", "asset_id", "seen"]], how="left")
    grid["seen"] = grid.seen.fillna(False).astype(float) * 100.0
    share = grid.groupby("asset_id").apply(lambda a: np.average(a.seen, weights=a.weight))
    r = engine.kpi_value("content_unused_pct", **CELL).values[0]
    assert r.value == pytest.approx(100.0 * float((share < 10).mean()), abs=1e-9)
    assert r.base == len(d)


def test_content_useful_is_a_ratio_over_raters_who_saw_something(gappy, raw: RawSample) -> None:
    engine, exposure = gappy
    k = _per_rater(raw, exposure).query("n_seen > 0")
    v = engine.kpi_value("content_useful_pct", **CELL).values[0]
    value, se, n_eff = _weighted(100.0 * k.n_useful / k.n_seen, k.weight * k.n_seen)
    assert value == pytest.approx(100 * (k.weight * k.n_useful).sum()
                                  / (k.weight * k.n_seen).sum())  # the pair ratio
    assert v.value == pytest.approx(value, abs=1e-9)
    assert v.base == len(k) and v.effective_base == pytest.approx(n_eff)
    assert v.ci_high == pytest.approx(min(value + Z95 * se, 100.0), abs=1e-9)


def test_content_seen_base_is_raters_not_pairs(engine: Engine, raw: RawSample) -> None:
    d = _raters(raw)
    v = engine.kpi_value("content_seen_pct", **CELL).values[0]
    assert v.base == len(d)
    assert v.effective_base == pytest.approx(d.weight.sum() ** 2 / (d.weight ** 2).sum())
    r = engine.compare("content_seen_pct", dimension="wave", a="2025-Q2", b="2025-Q4",
                       brand="cardiovex", market="DE")
    assert r.summary["test"].startswith("Welch")  # per-rater shares, not 0/100 indicators


# --- an unweighted database -------------------------------------------------------------------


@pytest.fixture(scope="module")
def unweighted(sample_db: Path, tmp_path_factory: pytest.TempPathFactory):
    db = _copy(sample_db, tmp_path_factory.mktemp("unweighted"))
    con = duckdb.connect(str(db))
    con.execute("UPDATE rating_facts SET weight = 1.0")
    con.execute("UPDATE respondents SET weight = 1.0")
    con.close()
    engine = Engine(db)
    yield engine
    engine.close()


def test_all_weights_one_give_the_plain_mean(unweighted: Engine, raw: RawSample) -> None:
    d = _raters(raw)
    nps = unweighted.kpi_value("nps", **CELL).values[0]
    plain = ((d.recommend >= 9) * 100.0 - (d.recommend <= 6) * 100.0).mean()
    assert nps.value == pytest.approx(plain, abs=1e-9)
    assert nps.effective_base == pytest.approx(len(d)) and nps.base == len(d)
    csat = unweighted.kpi_value("csat_mean", **CELL).values[0]
    assert csat.value == pytest.approx(d.satisfaction.mean(), abs=1e-9)
    sd = d.satisfaction.std(ddof=0)
    assert csat.ci_high - csat.value == pytest.approx(Z95 * sd / math.sqrt(len(d)), rel=1e-9)


def test_unweighted_share_change_is_statsmodels_proportions_ztest(unweighted: Engine,
                                                                   raw: RawSample) -> None:
    r = raw.ratings
    cells = [r[(r.brand_id == "cardiovex") & (r.market_id == "DE") & (r.wave_id == w)]
             for w in ("2025-Q2", "2025-Q4")]
    hits = [int((c.satisfaction >= 4).sum()) for c in cells]
    z, p = proportions_ztest([hits[1], hits[0]], [len(cells[1]), len(cells[0])])
    test = unweighted.compare("csat_t2b", dimension="wave", a="2025-Q2", b="2025-Q4",
                              brand="cardiovex", market="DE").evidence_of("test")[0]
    assert test["statistic"] == pytest.approx(z, rel=1e-9)
    assert test["p_value"] == pytest.approx(p, rel=1e-9)
