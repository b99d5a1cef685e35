"""Measuring a KPI: catalogue -> SQL moments -> estimates with bases and flags.

Every analysis measures through here, so value, base, CI, suppression and the
choice of test are computed one way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from cxengine.kpi_sql import Filters, moments_sql
from cxengine.kpis import Kpi
from cxengine.results import Run, Value
from cxengine.stats import (
    DEFAULT_THRESHOLDS,
    Estimate,
    Moments,
    TestResult,
    Thresholds,
    base_flags,
    estimate,
    independent_z_test,
    paired_z_test,
    two_proportion_z_test,
    welch_t_test,
)
from cxengine.store import Store

SEGMENT_DIMENSIONS = ("prescriber", "specialty", "setting")


@dataclass(frozen=True)
class Cell:
    group: dict[str, Any]
    moments: Moments
    estimate: Estimate


class Context:
    """The store plus the base rules; shared by all analyses, safe across threads."""

    def __init__(self, store: Store, thresholds: Thresholds = DEFAULT_THRESHOLDS):
        self.store, self.thresholds = store, thresholds

    def new_run(self) -> Run:
        return Run(self.store.dataset_version)

    @cached_property
    def waves(self) -> pd.DataFrame:
        return self.store.query("SELECT wave_id, wave_type, sequence, label FROM waves "
                                "ORDER BY sequence").set_index("wave_id")

    def wave_order(self, waves: list[str]) -> list[str]:
        return sorted(waves, key=lambda w: int(self.waves.loc[w, "sequence"]))

    def is_light(self, wave: str) -> bool:
        return wave in self.waves.index and self.waves.loc[wave, "wave_type"] == "light"

    @cached_property
    def lifecycle(self) -> dict[tuple[str, str, str], str]:
        df = self.store.query("SELECT brand_id, market_id, wave_id, stage FROM brand_lifecycle")
        return {(b, m, w): s for b, m, w, s in df.itertuples(index=False)}

    @cached_property
    def brands(self) -> pd.DataFrame:
        return self.store.query("SELECT brand_id, name, company, ta_id FROM brands "
                                "ORDER BY brand_id").set_index("brand_id")

    @cached_property
    def _brand_names(self) -> dict[str, str]:
        # A plain dict: brand_name runs for every row of every table, pandas .loc is slow there.
        return {str(k): str(v) for k, v in self.brands["name"].items()}

    def brand_name(self, brand_id: str | None) -> str:
        if brand_id is None:
            return "all brands"
        return self._brand_names.get(brand_id, brand_id)

    # --- measuring -------------------------------------------------------
    def measure(self, run: Run, kpi: Kpi, filters: Filters, by: tuple[str, ...] = ()
                ) -> list[Cell]:
        run.use(kpi)
        sql, params = moments_sql(kpi, filters, by)
        cells = []
        for row in self.store.rows(sql, params, run.sql):
            m = Moments(int(row["n"] or 0), float(row["sum_w"] or 0), float(row["sum_w2"] or 0),
                        float(row["sum_wx"] or 0), float(row["sum_wx2"] or 0))
            if m.n == 0:
                continue
            est = estimate(m, self.thresholds, kpi.scale)
            if "rater_n_eff" in row:  # asset-level KPI: base rules apply to the raters
                est = self._asset_estimate(m, kpi, int(row["rater_n"]),
                                           float(row["rater_n_eff"]))
            cells.append(Cell({d: row[d] for d in by}, m, est))
        return cells

    def _asset_estimate(self, m: Moments, kpi: Kpi, rater_n: int, rater_n_eff: float
                        ) -> Estimate:
        flags = base_flags(rater_n, rater_n_eff, self.thresholds)
        if "suppressed" in flags:
            return Estimate(None, None, None, None, rater_n, rater_n_eff, flags)
        e = estimate(m, Thresholds(0.0, 0.0, self.thresholds.confidence), kpi.scale)
        return Estimate(e.value, e.se, e.ci_low, e.ci_high, rater_n, rater_n_eff, flags)

    def change_test(self, kpi: Kpi, a: Cell, b: Cell) -> TestResult:
        """Test for independent samples (waves, markets, disjoint segments), by KPI type."""
        conf = self.thresholds.confidence
        if "suppressed" in a.estimate.flags or "suppressed" in b.estimate.flags:
            return independent_z_test(a.estimate, b.estimate, conf)  # says "base too low"
        if kpi.test == "share" and kpi.rows != "assets":
            return two_proportion_z_test(a.moments, b.moments, conf)
        if kpi.test == "mean":
            return welch_t_test(a.moments, b.moments, conf)
        return independent_z_test(a.estimate, b.estimate, conf)

    def paired_tests(self, run: Run, kpi: Kpi, filters: Filters, brand_a: str,
                     others: list[str]) -> dict[str, TestResult]:
        """Brand vs brand in one wave: the same HCPs rate both, so the test works on the
        difference within rater (b - a), over the raters of both. One query for all `others`."""
        if kpi.rows != "raters" or kpi.score is None or not others:
            return {}
        conds, params = filters.with_(brand=None).conditions("raters")
        where = " AND ".join(conds) or "TRUE"
        side = (f"SELECT r.respondent_id, r.brand_id, r.weight AS w, ({kpi.score}) AS x "
                f"FROM rating_facts r WHERE {where} AND r.brand_id IN ")
        marks = ", ".join("?" for _ in others)
        sql = ("SELECT b.brand_id, count(*) AS n, sum(a.w) AS sum_w, sum(a.w * a.w) AS sum_w2, "
               "sum(a.w * (b.x - a.x)) AS sum_wx, sum(a.w * (b.x - a.x) * (b.x - a.x)) AS sum_wx2 "
               f"FROM ({side}(?)) a JOIN ({side}({marks})) b ON a.respondent_id = b.respondent_id "
               "WHERE a.x IS NOT NULL AND b.x IS NOT NULL GROUP BY b.brand_id")
        out = {}
        for row in self.store.rows(sql, [*params, brand_a, *params, *others], run.sql):
            m = Moments(int(row["n"]), float(row["sum_w"]), float(row["sum_w2"]),
                        float(row["sum_wx"]), float(row["sum_wx2"]))
            out[row["brand_id"]] = paired_z_test(m, self.thresholds.confidence)
        empty = Moments(0, 0.0, 0.0, 0.0, 0.0)
        return {b: out.get(b) or paired_z_test(empty, self.thresholds.confidence) for b in others}

    # --- presenting ------------------------------------------------------
    def value(self, kpi: Kpi, cell: Cell, filters: Filters) -> Value:
        g = cell.group

        def pick(dim: str) -> Any:
            if dim in g:
                return g[dim]
            chosen = getattr(filters, dim)
            return chosen[0] if isinstance(chosen, tuple) and len(chosen) == 1 else None

        segment = segment_label({d: g.get(d, getattr(filters, d)) for d in SEGMENT_DIMENSIONS})
        e = cell.estimate
        return Value(kpi=kpi.id, value=e.value, base=e.n, effective_base=e.n_eff,
                     ci_low=e.ci_low, ci_high=e.ci_high, flags=list(e.flags),
                     brand=pick("brand"), market=pick("market"), ta=pick("ta"),
                     wave=pick("wave"), segment=segment, channel=pick("channel"))

    def flag_warnings(self, run: Run, kpi: Kpi, values: list[Value], what: str = "") -> None:
        for v in values:
            where = what or describe_value(v, self)
            if "suppressed" in v.flags and "empty" not in v.flags:
                run.warn(f"{kpi.label} for {where}: base too low (effective base "
                         f"{v.effective_base:.0f} < {self.thresholds.suppress_below:g}), "
                         "not shown")
            elif "small_base" in v.flags:
                run.warn(f"{kpi.label} for {where}: small base (effective base "
                         f"{v.effective_base:.0f}), read with caution")

    def coverage_warnings(self, run: Run, kpi: Kpi, filters: Filters) -> None:
        """Say plainly when the data cannot carry what was asked."""
        for w in filters.wave or ():
            if self.is_light(w) and not kpi.light:
                run.warn(f"{w} is a light wave: it asks headline KPIs only, not {kpi.label}")
        for b in filters.brand or ():
            for m in filters.market or ():
                for w in filters.wave or ():
                    if self.lifecycle.get((b, m, w)) == "prelaunch":
                        run.warn(f"{self.brand_name(b)} was not launched in {m} by {w} "
                                 "(prelaunch): no HCP ratings yet")


def segment_label(seg: dict[str, Any]) -> str | None:
    parts = []
    if seg.get("prescriber") is not None:
        parts.append("prescribers" if seg["prescriber"] else "non-prescribers")
    for d in ("specialty", "setting"):
        v = seg.get(d)
        if isinstance(v, tuple):
            v = ", ".join(v)
        if v:
            parts.append(str(v))
    return " / ".join(parts) or None


def describe_value(v: Value, ctx: Context) -> str:
    parts = [ctx.brand_name(v.brand) if v.brand else None, v.channel, v.segment, v.market, v.wave]
    return " ".join(p for p in parts if p) or "the selection"


def cell_row(kpi: Kpi, cell: Cell) -> dict[str, Any]:
    """One row of an evidence table: the group, the value and its base (aggregates only)."""
    e = cell.estimate
    return {**{k: v for k, v in cell.group.items()}, "kpi": kpi.id,
            "value": None if e.value is None else round(e.value, 4),
            "se": None if e.se is None else round(e.se, 4),
            "ci_low": None if e.ci_low is None else round(e.ci_low, 4),
            "ci_high": None if e.ci_high is None else round(e.ci_high, 4),
            "base": e.n, "effective_base": round(e.n_eff, 1), "flags": ",".join(e.flags)}
