"""Channel KPIs need a channel; a channel filter on a rater KPI keeps the raters it reached.

Expected values are recomputed with pandas from the sample files (never hard-coded), so the
tests hold when the sample scenario is regenerated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxengine.engine import Engine
from cxengine.errors import Unanswerable
from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from tests.conftest import RawSample, weighted_nps

CELL = {"brand": "cardiovex", "market": "DE", "wave": "2025-Q4"}


def _cell(raw: RawSample, brand: str | None, market: str, wave: str) -> pd.DataFrame:
    r = raw.ratings
    keep = (r.market_id == market) & (r.wave_id == wave)
    return r[keep & (r.brand_id == brand)] if brand else r[keep]


def _reached(raw: RawSample, d: pd.DataFrame, channels: list[str]) -> pd.Series:
    """Per rating row of d: did any of `channels` reach that rater for that brand?"""
    ci = raw["channel_interactions"]
    hit = ci[ci.channel_id.isin(channels)][["respondent_id", "brand_id"]].drop_duplicates()
    keys = pd.MultiIndex.from_frame(d[["respondent_id", "brand_id"]])
    return pd.Series(keys.isin(pd.MultiIndex.from_frame(hit)), index=d.index)


def _kish(w: pd.Series) -> float:
    return float(w.sum() ** 2 / (w ** 2).sum())


def _light_wave(raw: RawSample) -> str:
    return str(raw["waves"].query("wave_type == 'light'").wave_id.iloc[0])


# --- 1. a channel KPI is never pooled over channels -----------------------------------------


def test_ranking_and_compare_of_a_channel_kpi_need_a_channel(engine: Engine) -> None:
    with pytest.raises(Unanswerable, match="Channel reach is measured per channel: name a "
                                           "channel, e.g. f2f_rep"):
        engine.ranking("channel_reach", ta="CARD", market="DE", wave="2025-Q4")
    with pytest.raises(Unanswerable, match="measured per channel"):
        engine.compare("channel_reach", dimension="brand", a="cardiovex", b="ventrisol",
                       market="DE", wave="2025-Q4")
    with pytest.raises(Unanswerable, match="measured per channel"):
        engine.ranking("channel_impact", ta="CARD", market="DE", wave="2025-Q4",
                       channel=["f2f_rep", "remote_rep"])


def test_ranking_of_reach_for_one_channel_counts_each_rater_once(engine: Engine,
                                                                 raw: RawSample) -> None:
    r = engine.ranking("channel_reach", ta="CARD", market="DE", wave="2025-Q4",
                       channel="f2f_rep")
    d = _cell(raw, None, "DE", "2025-Q4").query("ta_id == 'CARD'")
    d = d.assign(reached=_reached(raw, d, ["f2f_rep"]) * 100.0)
    rows = {row["brand"]: row for row in r.table}
    for brand, part in d.groupby("brand_id"):
        assert rows[brand]["base"] == len(part)  # not 10x: one row per rater
        assert rows[brand]["value"] == pytest.approx(
            np.average(part.reached, weights=part.weight), abs=1e-3)


def test_measure_refuses_pooled_channels_unless_opted_in(engine: Engine,
                                                         raw: RawSample) -> None:
    ctx, run = engine.ctx, engine.ctx.new_run()
    f = Filters.of(**CELL)
    for kpi_id in ("channel_reach", "channel_impact"):
        with pytest.raises(Unanswerable):
            ctx.measure(run, get_kpi(kpi_id), f)
        with pytest.raises(Unanswerable):
            ctx.measure(run, get_kpi(kpi_id), f.with_(channel=["f2f_rep", "remote_rep"]))
        assert ctx.measure(run, get_kpi(kpi_id), f.with_(channel="f2f_rep"))
        assert len(ctx.measure(run, get_kpi(kpi_id), f, ("channel",))) > 1
    # Opted in (omnichannel correlations): the weighted mean of every channel rating.
    pooled = ctx.measure(run, get_kpi("channel_impact"), f, pool_channels=True)[0]
    d = _cell(raw, **CELL)
    ci = raw["channel_interactions"].merge(d[["respondent_id", "brand_id", "weight"]])
    assert pooled.estimate.value == pytest.approx(np.average(ci.rating, weights=ci.weight),
                                                  abs=1e-9)
    assert engine.correlations().summary["cells"] >= 5


def test_kpi_value_of_several_channels_is_shown_per_channel(engine: Engine) -> None:
    r = engine.kpi_value("channel_reach", channel=["f2f_rep", "remote_rep"], **CELL)
    assert sorted(v.channel for v in r.values) == ["f2f_rep", "remote_rep"]


# --- 2. a channel filter on a rater KPI -------------------------------------------------------


@pytest.mark.parametrize("channels", [["f2f_rep"], ["f2f_rep", "msl_f2f"]])
def test_channel_filter_keeps_the_raters_the_channel_reached(engine: Engine, raw: RawSample,
                                                             channels: list[str]) -> None:
    d = _cell(raw, **CELL)
    part = d[_reached(raw, d, channels)]
    assert 0 < len(part) < len(d)
    r = engine.kpi_value("nps", channel=channels, **CELL)
    v = r.values[0]
    assert v.base == len(part)
    assert v.effective_base == pytest.approx(_kish(part.weight))
    assert v.value == pytest.approx(weighted_nps(part), abs=1e-9)
    assert v.channel == (channels[0] if len(channels) == 1 else None)
    notes = [e["text"] for e in r.evidence_of("note")]
    assert any(f"Net Promoter Score among the HCPs reached by {' or '.join(channels)}" in n
               for n in notes)


def test_rater_kpi_by_channel_is_one_group_per_channel(engine: Engine, raw: RawSample) -> None:
    d = _cell(raw, **CELL)
    r = engine.kpi_value("csat_mean", by=["channel"], **CELL)
    ci = raw["channel_interactions"].merge(d[["respondent_id", "brand_id"]])
    assert sorted(row["channel"] for row in r.table) == sorted(ci.channel_id.unique())
    for row in r.table:
        part = d[_reached(raw, d, [row["channel"]])]
        assert row["base"] == len(part)
        assert row["effective_base"] == pytest.approx(_kish(part.weight), abs=0.05)
        if row["value"] is not None:
            assert row["value"] == pytest.approx(
                np.average(part.satisfaction, weights=part.weight), abs=1e-3)


def test_ranking_of_a_rater_kpi_among_those_reached(engine: Engine, raw: RawSample) -> None:
    r = engine.ranking("nps", ta="CARD", market="DE", wave="2025-Q4", channel="f2f_rep")
    d = _cell(raw, None, "DE", "2025-Q4").query("ta_id == 'CARD'")
    d = d[_reached(raw, d, ["f2f_rep"])]
    rows = {row["brand"]: row for row in r.table}
    for brand, part in d.groupby("brand_id"):
        assert rows[brand]["base"] == len(part)
        if rows[brand]["value"] is not None:
            assert rows[brand]["value"] == pytest.approx(weighted_nps(part), abs=1e-3)


def test_channel_on_a_light_wave_warns_it_has_no_channel_data(engine: Engine,
                                                              raw: RawSample) -> None:
    light = _light_wave(raw)
    r = engine.kpi_value("nps", brand="cardiovex", market="DE", wave=light, channel="f2f_rep")
    assert r.values == []
    assert any(f"{light} is a light wave" in w and "no channel data" in w for w in r.warnings)
    t = engine.trend("nps", brand="cardiovex", market="DE", channel="f2f_rep")
    assert light not in [row["wave"] for row in t.table]
    assert any(f"{light} is a light wave" in w for w in t.warnings)
