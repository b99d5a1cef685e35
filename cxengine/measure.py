"""Measuring a KPI: catalogue -> SQL moments -> estimates with bases and flags.

Every analysis measures through here, so value, base, CI, suppression and the
choice of test are computed one way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

from cxengine.errors import Unanswerable
from cxengine.kpi_sql import CHANNEL_ROW_SETS, RATER_ROW_SETS, ROW_SETS, Filters, moments_sql
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
    format_below,
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

    def brand_ta(self, brand_id: str) -> str | None:
        return str(self.brands.loc[brand_id, "ta_id"]) if brand_id in self.brands.index else None

    @cached_property
    def channels(self) -> list[str]:
        return self.store.query("SELECT channel_id FROM channels ORDER BY channel_id"
                                )["channel_id"].tolist()

    def require_one_channel(self, kpi: Kpi, filters: Filters) -> None:
        """A channel KPI ranked or compared over pooled channels means nothing: refuse it."""
        if kpi.rows in CHANNEL_ROW_SETS and len(filters.channel or ()) != 1:
            examples = sorted(self.channels, key=lambda c: (c != "f2f_rep", c))
            raise Unanswerable(f"{kpi.label} is measured per channel: name a channel, e.g. "
                               f"{', '.join(examples[:3])}, ... (channels: "
                               f"{', '.join(self.channels)})")

    # --- measuring -------------------------------------------------------
    def measure(self, run: Run, kpi: Kpi, filters: Filters, by: tuple[str, ...] = (), *,
                pool_channels: bool = False) -> list[Cell]:
        """Cells of a KPI per group of `by`. A channel KPI needs one channel or a channel
        breakdown unless the caller opts in to `pool_channels` (see kpi_sql.moments_sql)."""
        run.use(kpi)
        sql, params = moments_sql(kpi, filters, by, pool_channels=pool_channels)
        if kpi.rows not in CHANNEL_ROW_SETS and ("channel" in by or filters.channel):
            reached = "each channel" if "channel" in by else " or ".join(filters.channel or ())
            run.note(f"{kpi.label} among the HCPs reached by {reached} (at least one "
                     "interaction with the brand in the channel in the last 3 months)")
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
        rows = ROW_SETS[kpi.rows]
        if kpi.test == "share" and not rows.content_per_rater and kpi.rows != "assets":
            return two_proportion_z_test(a.moments, b.moments, conf)  # 0/100 per row
        if kpi.test == "mean" or rows.content_per_rater:  # per-rater shares: a mean
            return welch_t_test(a.moments, b.moments, conf)
        return independent_z_test(a.estimate, b.estimate, conf)

    def paired_tests(self, run: Run, kpi: Kpi, filters: Filters, brand_a: str,
                     others: list[str]) -> dict[str, TestResult]:
        """Brand vs brand: the same HCPs rate both, so the test works on the difference
        within rater (b - a), over the raters of both. Respondent ids are unique per wave, so
        the pairs stay within a wave over any waves filtered. One query for all `others`."""
        if kpi.rows not in RATER_ROW_SETS or kpi.score is None or not others:
            return {}
        conds, params = filters.with_(brand=None).conditions(kpi.rows)
        where = " AND ".join([*ROW_SETS[kpi.rows].fixed, *conds]) or "TRUE"
        side = (f"SELECT r.respondent_id, r.brand_id, r.weight AS w, ({kpi.score}) AS x "
                f"FROM {ROW_SETS[kpi.rows].source} WHERE {where} AND r.brand_id IN ")
        marks = ", ".join("?" for _ in others)
        sql = ("SELECT b.brand_id, count(*) AS n, sum(a.w) AS sum_w, sum(a.w * a.w) AS sum_w2, "
               "sum(a.w * (b.x - a.x)) AS sum_wx, sum(a.w * (b.x - a.x) * (b.x - a.x)) AS sum_wx2 "
               f"FROM ({side}(?)) a JOIN ({side}({marks})) b ON a.respondent_id = b.respondent_id "
               "WHERE a.x IS NOT NULL AND b.x IS NOT NULL GROUP BY b.brand_id")
        conf, least = self.thresholds.confidence, self.thresholds.suppress_below
        out = {}
        for row in self.store.rows(sql, [*params, brand_a, *params, *others], run.sql):
            m = Moments(int(row["n"]), float(row["sum_w"]), float(row["sum_w2"]),
                        float(row["sum_wx"]), float(row["sum_wx2"]))
            out[row["brand_id"]] = paired_z_test(m, conf, least)
        empty = Moments(0, 0.0, 0.0, 0.0, 0.0)
        return {b: out.get(b) or paired_z_test(empty, conf, least) for b in others}

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
        t = self.thresholds
        for v in values:
            where = what or describe_value(v, self)
            # Written below the threshold it is below: "effective base 30.0 < 30" for 29.995
            # would read as a contradiction (see format_below).
            if "suppressed" in v.flags and "empty" not in v.flags:
                run.warn(f"{kpi.label} for {where}: base too low (effective base "
                         f"{format_below(v.effective_base, t.suppress_below)} < "
                         f"{t.suppress_below:g}), not shown")
            elif "small_base" in v.flags:
                run.warn(f"{kpi.label} for {where}: small base (effective base "
                         f"{format_below(v.effective_base, t.small_below)}), read with caution")

    def significance_warning(self, run: Run, kpi: Kpi, what: str, test: TestResult) -> None:
        """Warn when a change or difference is not significant, or could not be tested."""
        if test.significant is None:
            run.warn(f"{what}: no significance test possible "
                     f"({test.detail.get('reason', 'no test')})")
        elif not test.significant:
            run.warn(f"{what}: {kpi.format_change(test.difference)} is not significant at "
                     f"{test.confidence:.0%} ({test.test}, p = {test.p_value:.2f})")

    def coverage_warnings(self, run: Run, kpi: Kpi, filters: Filters,
                          by: tuple[str, ...] = ()) -> None:
        """Say plainly when the data cannot carry what was asked."""
        waves = list(filters.wave or ())
        by_channel = bool(filters.channel) or "channel" in by
        for w in waves:
            if self.is_light(w) and not kpi.light:
                run.warn(f"{w} is a light wave: it asks headline KPIs only, not {kpi.label}")
            elif self.is_light(w) and by_channel:
                run.warn(f"{w} is a light wave: it carries no channel data, so no HCP of it "
                         "counts as reached by a channel")
        self._launch_warnings(run, filters.brand or (), filters.market or (), waves)

    def _launch_warnings(self, run: Run, brands: tuple[str, ...], markets: tuple[str, ...],
                         waves: list[str]) -> None:
        waves = [w for w in waves if w in self.waves.index]  # an unknown wave has no stage
        for b in brands:
            for m in markets or sorted({mk for (br, mk, _) in self.lifecycle if br == b}):
                before = [w for w in waves if self.lifecycle.get((b, m, w)) == "prelaunch"]
                if not before:
                    continue
                after = [w for w in self.wave_order(waves) if w not in before]
                name = self.brand_name(b)
                if len(waves) == 1:
                    run.warn(f"{name} was not launched in {m} by {waves[0]} (prelaunch): "
                             "no HCP ratings yet")
                elif not after:
                    run.warn(f"{name} was not launched in {m} in any wave asked (prelaunch): "
                             "no HCP ratings")
                else:
                    run.warn(f"{name} launched in {m} only by {after[0]} (prelaunch in "
                             f"{', '.join(self.wave_order(before))}): no HCP ratings before, "
                             f"so its series starts at {after[0]}")


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
