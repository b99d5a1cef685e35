"""Every KPI of the catalogue against an independent pandas computation on the sample.

The pandas side is written from DOMAIN.md's definitions, not from the engine's
SQL: if either drifts from the definition, these disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxengine.kpis import catalogue, get_kpi
from tests.conftest import RawSample

DRIVERS = ["knowledge", "ease", "responsiveness", "respect_time", "personalisation",
           "content_relevance", "seamless"]
CELL = {"brand": "cardiovex", "market": "DE", "wave": "2025-Q4"}


def _raters(raw: RawSample, brand: str, market: str, wave: str) -> pd.DataFrame:
    r = raw.ratings
    return r[(r.brand_id == brand) & (r.market_id == market) & (r.wave_id == wave)]


def _wmean(x: pd.Series, w: pd.Series) -> float:
    keep = x.notna()
    return float(np.average(x[keep].astype(float), weights=w[keep]))


def _rater_kpis(d: pd.DataFrame) -> dict[str, float]:
    w = d["weight"]
    out = {
        "nps": _wmean((d.recommend >= 9) * 100.0 - (d.recommend <= 6) * 100.0, w),
        "promoters_pct": _wmean((d.recommend >= 9) * 100.0, w),
        "detractors_pct": _wmean((d.recommend <= 6) * 100.0, w),
        "csat_t2b": _wmean((d.satisfaction >= 4) * 100.0, w),
        "csat_mean": _wmean(d.satisfaction, w),
        "ces_t2b": _wmean(((d.effort_ease >= 5) * 100.0).where(d.effort_ease.notna()), w),
        "ces_mean": _wmean(d.effort_ease, w),
        "intent_t2b": _wmean((d.intent_more >= 4) * 100.0, w),
        "product_score": _wmean(d.product_rating, w),
        "cx_index": _wmean(d[DRIVERS].mean(axis=1) * 10, w),
        "patient_share": _wmean(d.patient_share, w),
    }
    out.update({f"driver:{k}": _wmean(d[k], w) for k in DRIVERS})
    return out


def _channel_kpis(raw: RawSample, d: pd.DataFrame, channel: str) -> dict[str, float]:
    ci = raw["channel_interactions"]
    ci = ci[(ci.channel_id == channel) & ci.brand_id.isin(d.brand_id.unique())]
    reached = d.merge(ci, on=["respondent_id", "brand_id"], how="left")
    hit = reached["interactions"].notna()
    rows = reached[hit]
    counts = raw["channel_interactions"].groupby(["respondent_id", "brand_id"]).size()
    breadth = d.set_index(["respondent_id", "brand_id"]).index.map(counts).fillna(0)
    return {"channel_reach": _wmean(hit * 100.0, reached["weight"]),
            "channel_frequency": _wmean(rows["interactions"], rows["weight"]),
            "channel_impact": _wmean(rows["rating"], rows["weight"]),
            "omnichannel_breadth": float(np.average(breadth, weights=d["weight"]))}


def _content_kpis(raw: RawSample, d: pd.DataFrame) -> dict[str, float]:
    e = raw["content_exposure"].merge(d[["respondent_id", "brand_id", "weight"]])
    seen = e[e.seen]
    per_asset = e.groupby("asset_id").apply(lambda a: np.average(a.seen * 100.0,
                                                                 weights=a.weight))
    return {"content_seen_pct": _wmean(e.seen * 100.0, e.weight),
            "content_useful_pct": _wmean((seen.useful >= 4) * 100.0, seen.weight),
            "content_unused_pct": float((per_asset < 10).mean() * 100)}


@pytest.fixture(scope="module")
def expected(raw: RawSample) -> dict[str, float]:
    d = _raters(raw, **CELL)
    return {**_rater_kpis(d), **_channel_kpis(raw, d, "f2f_rep"), **_content_kpis(raw, d)}


ROW_KPIS = [k for k, v in catalogue().items() if v.kind == "row"]


@pytest.mark.parametrize("kpi", ROW_KPIS)
def test_kpi_equals_pandas(engine, expected: dict[str, float], kpi: str) -> None:
    channel = "f2f_rep" if get_kpi(kpi).requires == "channel" else None
    result = engine.kpi_value(kpi, channel=channel, **CELL)
    assert len(result.values) == 1
    assert result.values[0].value == pytest.approx(expected[kpi], abs=1e-9)


def test_every_row_kpi_is_covered() -> None:
    assert len(ROW_KPIS) == 25


def test_weights_matter_and_are_applied(engine, raw: RawSample) -> None:
    d = _raters(raw, **CELL)
    plain = float(((d.recommend >= 9) * 100.0 - (d.recommend <= 6) * 100.0).mean())
    value = engine.kpi_value("nps", **CELL).values[0]
    assert value.value == pytest.approx(_rater_kpis(d)["nps"], abs=1e-9)
    assert abs(value.value - plain) > 1e-6  # the sample is weighted, so they differ
    assert value.base == len(d)
    assert value.effective_base == pytest.approx(d.weight.sum() ** 2 / (d.weight ** 2).sum())


def test_breakdown_by_segment_matches_pandas(engine, raw: RawSample) -> None:
    d = _raters(raw, **CELL)
    result = engine.kpi_value("nps", by=["specialty", "prescriber"], **CELL)
    for row in result.table:
        part = d[(d.specialty == row["specialty"]) & (d.prescriber == row["prescriber"])]
        assert row["base"] == len(part)
        if row["value"] is not None:
            assert row["value"] == pytest.approx(_rater_kpis(part)["nps"], abs=1e-3)


def test_company_filter_pools_its_brands(engine, raw: RawSample) -> None:
    r = raw.ratings.merge(raw["brands"][["brand_id", "company"]])
    d = r[(r.company == "Norvaxa") & (r.wave_id == "2025-Q4")]
    value = engine.kpi_value("nps", company="Norvaxa", wave="2025-Q4").values[0]
    assert value.value == pytest.approx(_rater_kpis(d)["nps"], abs=1e-9)


def test_display_rules() -> None:
    assert get_kpi("nps").format(12.6) == "+13"
    assert get_kpi("nps").format(-4.4) == "-4"
    assert get_kpi("nps").format(0.3) == "0"
    assert get_kpi("csat_t2b").format(41.49) == "41%"
    assert get_kpi("product_score").format(7.25) == "7.2"
    assert get_kpi("nps").format_change(-10.2) == "-10 points"
    assert get_kpi("cx_index").band(75.6) == "excellent"
    assert get_kpi("cx_index").band(60) == "good"
