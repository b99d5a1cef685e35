"""Key driver analysis: what matters for recommendation, and how the brand performs on it.

Rows are respondent x brand; the recoded NPS score is regressed on the seven CX
drivers and product_rating. Importance = Shapley value (LMG) share of R^2 over
all 256 subsets. Cross-products are summed in SQL, so the regression never
pulls respondent rows out of the database, at any scale.
"""

from __future__ import annotations

import numpy as np

from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Context
from cxengine.regression import CrossProducts, importance_shares, lmg_importance, regression
from cxengine.results import Result, Run, Value
from cxengine.schema import DRIVERS

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
                wave: str | None = None,
                brand: str | None = None) -> Result:
    nps = get_kpi("nps")
    run = ctx.new_run()
    run.use(nps)
    f = Filters.of(ta=ta, market=market, wave=wave)
    if wave and ctx.is_light(wave):
        run.warn(f"{wave} is a light wave: it does not ask the CX drivers, so there is no "
                 "driver analysis for it")
    cp = cross_products(ctx, run, f, nps.score or "")
    if cp.n_eff < max(ctx.thresholds.suppress_below, 10 * len(PREDICTORS)):
        run.warn(f"too few complete ratings for a driver analysis (effective base "
                 f"{cp.n_eff:.0f}); widen the selection")
        return Result.build("key_drivers", run, [], [], {"ta": ta, "market": market,
                                                        "wave": wave, "brand": brand})
    contrib = lmg_importance(cp, TARGET, PREDICTORS)
    shares = importance_shares(contrib)
    reg = regression(cp, TARGET, PREDICTORS)
    # Performance: the brand's own mean ratings when a brand is named, else the selection's.
    perf_cp = cross_products(ctx, run, f.with_(brand=brand), nps.score or "") if brand else cp
    means = dict(zip(perf_cp.names, perf_cp.means(), strict=True))
    imp_cut = float(np.median(list(shares.values())))
    perf_cut = float(np.mean([means[p] for p in PREDICTORS]))
    rows, values = [], []
    for p in sorted(PREDICTORS, key=lambda x: -shares[x]):
        quadrant = QUADRANTS[(shares[p] >= imp_cut, means[p] >= perf_cut)]
        kpi_id = "product_score" if p == "product_rating" else f"driver:{p}"
        run.use(get_kpi(kpi_id))
        rows.append({"predictor": p, "kind": "product" if p == "product_rating" else "cx_driver",
                     "importance_pct": round(shares[p], 2), "r2_contribution": round(contrib[p], 5),
                     "coefficient": round(reg.coefficients[p], 4),
                     "performance": round(means[p], 3), "quadrant": quadrant})
        values.append(Value(kpi=f"importance:{p}", value=shares[p], base=cp.n,
                            effective_base=cp.n_eff, brand=brand, market=market, ta=ta,
                            wave=wave))
    cx_share = sum(shares[d] for d in DRIVERS)
    run.note(f"Shapley value regression (LMG): each predictor's average R² gain over all "
             f"{2 ** len(PREDICTORS)} subsets of the {len(PREDICTORS)} predictors; target = "
             f"recoded NPS score (+100/0/-100); weighted; R² = {reg.r_squared:.3f}")
    run.note("quadrant: importance above/below the median importance x performance above/below "
             "the mean performance (fix = important and weak; leverage = important and strong; "
             "maintain = less important and strong; monitor = less important and weak)")
    summary = {"ta": ta, "market": market, "wave": wave, "brand": brand,
               "r_squared": reg.r_squared, "cx_share": cx_share, "product_share":
               shares["product_rating"], "n": cp.n, "n_eff": cp.n_eff,
               "top": rows[0]["predictor"],
               "fix": [r["predictor"] for r in rows if r["quadrant"] == "fix"]}
    chart = {"type": "quadrant", "x": "performance", "y": "importance_pct",
             "label": "predictor", "color": "quadrant",
             "title": "Key drivers of recommendation: importance x performance"}
    return Result.build("key_drivers", run, values, rows, summary, chart,
                        table_title="Key drivers of NPS (Shapley / LMG)")
