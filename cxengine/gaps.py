"""Perception gap: what companies believe their KPI is vs what HCPs report.

gap = internal estimate - HCP value (KPI points); relative gap = gap / |HCP value|.
The overall relative gap is sum(gap) / sum(|HCP value|), which stays meaningful
when single HCP values sit near zero (where per-cell ratios explode).
"""

from __future__ import annotations

from typing import Any

from cxengine.errors import Unanswerable
from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Context, segment_label
from cxengine.results import Result, Value


def perception_gap(ctx: Context, kpi_id: str = "nps", *, company: str | None = None,
                   brand: str | None = None, market: str | None = None,
                   wave: str | None = None, segments: Filters | None = None) -> Result:
    """`segments`: internal estimates are made for all HCPs, so any segment is refused."""
    asked = segment_label((segments or Filters()).segments())
    if asked:
        raise Unanswerable(f"Internal estimates cover all HCPs of a brand, market and wave, "
                           f"not {asked}: a perception gap exists only for all HCPs; ask "
                           "without the segment")
    kpi = get_kpi(kpi_id)
    if kpi.kind != "row":
        raise Unanswerable(f"{kpi.label} has no internal estimates to compare with")
    run = ctx.new_run()
    run.use(get_kpi("perception_gap"))
    conds, params = ["i.kpi_id = ?"], [kpi.id]
    for col, v in (("i.company", company), ("i.brand_id", brand), ("i.market_id", market),
                   ("i.wave_id", wave)):
        if v is not None:
            conds.append(f"{col} = ?")
            params.append(v)
    estimates = ctx.store.query(
        "SELECT i.company, i.brand_id, i.market_id, i.wave_id, i.estimate "
        f"FROM internal_assessments i WHERE {' AND '.join(conds)} "
        "ORDER BY i.company, i.brand_id, i.market_id, i.wave_id", params, run.sql)
    if estimates.empty:
        run.warn(f"no internal {kpi.label} estimates for this selection")
        return Result.build("perception_gap", run, [], [], {"kpi": kpi.id})
    f = Filters.of(brand=sorted(estimates["brand_id"].unique()),
                   market=sorted(estimates["market_id"].unique()),
                   wave=sorted(estimates["wave_id"].unique()))
    hcp = {(c.group["brand"], c.group["market"], c.group["wave"]): c
           for c in ctx.measure(run, kpi, f, ("brand", "market", "wave"))}
    rows: list[dict[str, Any]] = []
    for e in estimates.to_dict("records"):
        c = hcp.get((e["brand_id"], e["market_id"], e["wave_id"]))
        v = None if c is None else c.estimate.value
        gap = None if v is None else e["estimate"] - v
        rows.append({"company": e["company"], "brand": e["brand_id"], "market": e["market_id"],
                     "wave": e["wave_id"], "internal_estimate": e["estimate"], "hcp_value": v,
                     "gap": gap, "relative_gap": None if gap is None or not v else gap / abs(v),
                     "base": None if c is None else c.estimate.n,
                     "effective_base": None if c is None else round(c.estimate.n_eff, 1)})
    usable = [r for r in rows if r["gap"] is not None]
    if len(usable) < len(rows):
        run.warn(f"{len(rows) - len(usable)} estimate(s) have no HCP value to compare with "
                 "(base too low or no ratings)")
    values, by_company = [], {}
    for r in usable:
        by_company.setdefault(r["company"], []).append(r)
    for _, rs in sorted(by_company.items()):
        # Base = the HCP ratings behind the HCP values (cells are separate brand x market x
        # wave samples, so their bases add); the company is named in the table and summary.
        values.append(Value(kpi="perception_gap", value=_mean(r["gap"] for r in rs),
                            base=sum(r["base"] for r in rs),
                            effective_base=sum(r["effective_base"] for r in rs),
                            brand=_only(r["brand"] for r in rs),
                            market=_only(r["market"] for r in rs),
                            wave=_only(r["wave"] for r in rs)))
    summary = {"kpi": kpi.id, "company": company, "brand": brand, "market": market,
               "wave": wave, "cells": len(usable),
               "mean_gap": _mean(r["gap"] for r in usable),
               "relative_gap": (sum(r["gap"] for r in usable)
                                / sum(abs(r["hcp_value"]) for r in usable)) if usable else None,
               "share_overshooting": (sum(r["gap"] > 0 for r in usable) / len(usable))
               if usable else None,
               "by_company": {comp: {"mean_gap": _mean(r["gap"] for r in rs),
                                     "relative_gap": sum(r["gap"] for r in rs)
                                     / sum(abs(r["hcp_value"]) for r in rs), "cells": len(rs)}
                              for comp, rs in sorted(by_company.items())}}
    run.note("value per company = mean gap (internal estimate - HCP value) over its "
             "brand x market x wave cells; relative gap = sum of gaps / sum of |HCP values|; "
             "base = the HCP ratings behind the HCP values, summed over the cells")
    summary["companies"] = sorted(by_company)
    chart = {"type": "bar", "x": "company", "y": "gap", "title": f"{kpi.label}: perception gap"}
    return Result.build("perception_gap", run, values, rows, summary, chart,
                        table_title=f"{kpi.label}: internal estimate vs HCP view")


def _only(xs) -> Any:
    """The one value all items share, else None (the value spans several)."""
    distinct = set(xs)
    return distinct.pop() if len(distinct) == 1 else None


def _mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None
