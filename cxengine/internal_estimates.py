"""Companies' internal KPI estimates for the sample: an optimistic view of the truth.

Internal teams see their own activity, not the HCP's whole experience, so their
estimate sits above what HCPs report: estimate = HCP value + optimism x |HCP value|
+ uplift + noise (parameters in scenario.yaml).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cxengine.scenario import Scenario
from cxengine.schema import DRIVERS


def _cell_kpis(ratings: dict[str, Any], weight_of: dict[str, float]) -> dict[str, dict[str, float]]:
    rid = np.asarray(ratings["respondent_id"].to_pylist() if hasattr(
        ratings["respondent_id"], "to_pylist") else ratings["respondent_id"])
    brand = np.asarray(ratings["brand_id"].to_pylist() if hasattr(
        ratings["brand_id"], "to_pylist") else ratings["brand_id"])
    w = np.array([weight_of[r] for r in rid])
    rec = np.asarray(ratings["recommend"], dtype=float)
    sat = np.asarray(ratings["satisfaction"], dtype=float)
    nps_score = np.where(rec >= 9, 100.0, np.where(rec >= 7, 0.0, -100.0))
    drv = [np.asarray(ratings[d].to_numpy(zero_copy_only=False), dtype=float) for d in DRIVERS]
    cx = np.mean(drv, axis=0) * 10.0
    out: dict[str, dict[str, float]] = {}
    for b in np.unique(brand):
        sel = brand == b
        ww = w[sel]
        out[str(b)] = {
            "nps": float(np.average(nps_score[sel], weights=ww)),
            "csat_t2b": float(np.average((sat[sel] >= 4) * 100.0, weights=ww)),
            "cx_index": float(np.average(cx[sel], weights=ww)) if not np.isnan(cx[sel]).any()
            else float("nan"),
        }
    return out


def internal_assessment_rows(sc: Scenario, wave: dict, market: dict, tables: dict[str, Any],
                             rng: np.random.Generator) -> list[dict[str, Any]]:
    cfg = sc.raw["internal_assessments"]
    ratings = tables.get("brand_ratings")
    if not ratings:
        return []
    resp = tables["respondents"]
    weight_of = dict(zip(resp["respondent_id"].tolist(), resp["weight"].tolist(), strict=True))
    company = {b["brand_id"]: b["company"] for b in sc.brands}
    rows = []
    for brand_id, kpis in _cell_kpis(ratings, weight_of).items():
        for kpi in cfg["kpis"]:
            value = kpis[kpi]
            if np.isnan(value):  # light waves carry no drivers, so no cx_index estimate
                continue
            estimate = (value + cfg["optimism"] * abs(value) + cfg["uplift"][kpi]
                        + rng.normal(0.0, cfg["noise"][kpi]))
            rows.append({"company": company[brand_id], "brand_id": brand_id,
                         "market_id": market["market_id"], "wave_id": str(wave["wave_id"]),
                         "kpi_id": kpi, "estimate": round(float(estimate), 1)})
    return rows
