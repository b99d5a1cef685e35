"""Key driver analysis: what matters for recommendation, and how the brand performs on it.

Rows are respondent x brand; the recoded NPS score is regressed on the seven CX
drivers and product_rating. Importance = Shapley value (LMG) share of R^2 over
all 256 subsets. Cross-products are summed in SQL, so the regression never
pulls respondent rows out of the database, at any scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cxengine.errors import Unanswerable
from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Context, segment_label
from cxengine.regression import CrossProducts, importance_shares, lmg_importance, regression
from cxengine.results import Result, Run, Value
from cxengine.schema import DRIVERS
from cxengine.stats import base_flags, format_below

PREDICTORS: tuple[str, ...] = (*DRIVERS, "product_rating")
TARGET = "nps_score"
QUADRANTS = {(True, False): "fix", (True, True): "leverage", (False, True): "maintain",
             (False, False): "monitor"}


def cross_products(ctx: Context, run: Run, filters: Filters, target_sql: str,
                   predictors: tuple[str, ...] = PREDICTORS) -> CrossProducts:
    """Weighted sums and cross-products of target + predictors over complete rows."""
    names = (TARGET, *predictors)
    exprs = [f"({target_sql})", *(f"CAST(r.{p} AS DOUBLE)" for p in predictors)]
    conds, params = filters.conditions("raters")
    complete = " AND ".join(f"v{i} IS NOT NULL" for i in range(len(names)))
    inner = ", ".join(f"{e} AS v{i}" for i, e in enumerate(exprs))
    sums = ", ".join(f"sum(w * v{i}) AS s{i}" for i in range(len(names)))
    prods = ", ".join(f"sum(w * v{i} * v{j}) AS p{i}_{j}"
                      for i in range(len(names)) for j in range(i, len(names)))
    sql = (f"SELECT count(*) AS n, sum(w) AS sum_w, sum(w * w) AS sum_w2, {sums}, {prods} "
           f"FROM (SELECT r.weight AS w, {inner} FROM rating_facts r "
           f"WHERE {' AND '.join(conds) or 'TRUE'}) WHERE {complete}")
    row = ctx.store.rows(sql, params, run.sql)[0]
    k = len(names)
    products = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            products[i, j] = products[j, i] = float(row[f"p{i}_{j}"] or 0.0)
    return CrossProducts(names, int(row["n"]), float(row["sum_w"] or 0),
                         float(row["sum_w2"] or 0),
                         np.array([float(row[f"s{i}"] or 0.0) for i in range(k)]), products)


def key_drivers(ctx: Context, *, ta: str | None = None, market: str | None = None,
                wave: str | None = None, brand: str | None = None,
                segments: Filters | None = None) -> Result:
    """Importance over the selection; performance of `brand` (or of the selection).
    `segments` carries prescriber / specialty / setting filters, applied to every row used."""
    nps = get_kpi("nps")
    run = ctx.new_run()
    run.use(nps)
    f = (segments or Filters()).with_(ta=ta, market=market, wave=wave)
    summary: dict[str, Any] = {"ta": ta, "market": market, "wave": wave, "brand": brand,
                               "filters": f.to_dict(), "segment": segment_label(f.segments())}
    _check_brand(ctx, brand, ta)
    if wave and ctx.is_light(wave):
        run.warn(f"{wave} is a light wave: it does not ask the CX drivers, so there is no "
                 "driver analysis for it")
    cp = cross_products(ctx, run, f, nps.score or "")
    if cp.n_eff < max(ctx.thresholds.suppress_below, 10 * len(PREDICTORS)):
        run.warn(f"too few complete ratings for a driver analysis (effective base "
                 f"{cp.n_eff:.1f}); widen the selection")
        return Result.build("key_drivers", run, [], [], summary)
    contrib = lmg_importance(cp, TARGET, PREDICTORS)
    shares = importance_shares(contrib)
    reg = regression(cp, TARGET, PREDICTORS)
    means, perf_base = _performance(ctx, run, f, brand, cp)
    imp_cut = float(np.median(list(shares.values())))
    perf_cut = float(np.mean([means[p] for p in PREDICTORS])) if means else None
    rows, values = [], []
    for p in sorted(PREDICTORS, key=lambda x: -shares[x]):
        quadrant = (QUADRANTS[(shares[p] >= imp_cut, means[p] >= perf_cut)]
                    if means and perf_cut is not None else None)
        kpi_id = "product_score" if p == "product_rating" else f"driver:{p}"
        run.use(get_kpi(kpi_id))
        rows.append({"predictor": p, "kind": "product" if p == "product_rating" else "cx_driver",
                     "importance_pct": round(shares[p], 2), "r2_contribution": round(contrib[p], 5),
                     "coefficient": round(reg.coefficients[p], 4),
                     "performance": round(means[p], 3) if means else None,
                     "performance_effective_base": perf_base, "quadrant": quadrant})
        # Importance belongs to the regression pooled over every brand of the selection (its
        # base is cp's): no brand label. A named brand applies to performance and quadrant only.
        values.append(Value(kpi=f"importance:{p}", value=shares[p], base=cp.n,
                            effective_base=cp.n_eff, brand=None, market=market, ta=ta,
                            wave=wave, segment=summary["segment"]))
    cx_share = sum(shares[d] for d in DRIVERS)
    run.note(f"Shapley value regression (LMG): each predictor's average R² gain over all "
             f"{2 ** len(PREDICTORS)} subsets of the {len(PREDICTORS)} predictors; target = "
             f"recoded NPS score (+100/0/-100); weighted; R² = {reg.r_squared:.3f}")
    if summary["segment"]:
        run.note(f"rows restricted to {summary['segment']} (regression and performance)")
    run.note("quadrant: importance above/below the median importance x performance above/below "
             "the mean performance (fix = important and weak; leverage = important and strong; "
             "maintain = less important and strong; monitor = less important and weak)")
    summary.update({"r_squared": reg.r_squared, "cx_share": cx_share, "product_share":
                    shares["product_rating"], "n": cp.n, "n_eff": cp.n_eff,
                    "top": rows[0]["predictor"],
                    "fix": [r["predictor"] for r in rows if r["quadrant"] == "fix"]})
    # The cuts the quadrants were assigned with, so the chart draws its lines exactly there.
    chart = {"type": "quadrant", "x": "performance", "y": "importance_pct",
             "label": "predictor", "color": "quadrant", "x_cut": perf_cut, "y_cut": imp_cut,
             "title": "Key drivers of recommendation: importance x performance"}
    return Result.build("key_drivers", run, values, rows, summary, chart,
                        table_title="Key drivers of NPS (Shapley / LMG)")


def _check_brand(ctx: Context, brand: str | None, ta: str | None) -> None:
    if brand is None:
        return
    brand_ta = ctx.brand_ta(brand)
    if brand_ta is None:
        raise Unanswerable(f"there is no brand {brand!r} in the benchmark")
    if ta is not None and brand_ta != ta:
        raise Unanswerable(f"{ctx.brand_name(brand)} is a {brand_ta} brand, not {ta}: ask for "
                           f"the key drivers in {brand_ta}")


def _performance(ctx: Context, run: Run, f: Filters, brand: str | None, cp: CrossProducts
                 ) -> tuple[dict[str, float] | None, float]:
    """Mean ratings and their effective base: the brand's own when a brand is named, else the
    selection's. No means (with a warning) when the brand has too few ratings to show them."""
    if brand is not None:
        cp = cross_products(ctx, run, f.with_(brand=brand), get_kpi("nps").score or "")
        if "suppressed" in base_flags(cp.n, cp.n_eff, ctx.thresholds):
            name = ctx.brand_name(brand)
            markets, waves = f.market or (), f.wave or ()
            prelaunch = any(ctx.lifecycle.get((brand, m, w)) == "prelaunch"
                            for m in markets for w in waves)
            why = (f"{name} was not launched in {', '.join(markets)} by {', '.join(waves)} "
                   "(prelaunch)" if prelaunch else
                   f"{name} has too few complete ratings in this selection (effective base "
                   f"{format_below(cp.n_eff, ctx.thresholds.suppress_below)} < "
                   f"{ctx.thresholds.suppress_below:g})")
            run.warn(f"{why}: importance is shown without its performance and quadrant")
            return None, round(cp.n_eff, 1)
    return dict(zip(cp.names, cp.means(), strict=True)), round(cp.n_eff, 1)
