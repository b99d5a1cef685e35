"""Omnichannel vs CX: correlations across brand x market x wave cells.

Omnichannel performance per cell = breadth (distinct channels per rater) and
mean channel impact; each is correlated with the CX index, and the CX index
with NPS and patient share. Cells whose base is suppressed are left out.
"""

from __future__ import annotations

import numpy as np

from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Context
from cxengine.results import Result, Value
from cxengine.stats import correlation_test

MEASURES = ("omnichannel_breadth", "channel_impact", "cx_index", "nps", "patient_share")
PAIRS = (("omnichannel_performance", "cx_index"), ("omnichannel_breadth", "cx_index"),
         ("channel_impact", "cx_index"), ("cx_index", "nps"), ("nps", "patient_share"),
         ("cx_index", "patient_share"))


def correlations(ctx: Context, *, ta: str | None = None, wave: str | None = None) -> Result:
    run = ctx.new_run()
    full = [w for w in ctx.waves.index if not ctx.is_light(w)]
    waves = [wave] if wave else full
    if wave and ctx.is_light(wave):
        run.warn(f"{wave} is a light wave: no channel or driver data to correlate")
        return Result.build("correlations", run, [], [], {"ta": ta, "wave": wave})
    f = Filters.of(ta=ta, wave=waves)
    by = ("brand", "market", "wave")
    cells: dict[tuple, dict[str, float]] = {}
    for m in MEASURES:
        # Mean channel impact of a cell deliberately pools every channel rating (one per
        # rater and channel reached): the brand's experience across its channels.
        for c in ctx.measure(run, get_kpi(m), f, by, pool_channels=True):
            if c.estimate.value is not None:
                cells.setdefault(tuple(c.group[d] for d in by), {})[m] = c.estimate.value
    keys = [k for k, v in cells.items() if len(v) == len(MEASURES)]
    data = {m: np.array([cells[k][m] for k in keys]) for m in MEASURES}
    if len(keys) >= 3:
        z = [(data[m] - data[m].mean()) / data[m].std() for m in ("omnichannel_breadth",
                                                                   "channel_impact")]
        data["omnichannel_performance"] = (z[0] + z[1]) / 2
    rows, values, summary = [], [], {"ta": ta, "wave": wave, "cells": len(keys)}
    if len(keys) < 5:
        run.warn(f"only {len(keys)} brand x market cells with enough base: too few to correlate")
        return Result.build("correlations", run, [], [], summary)
    for x, y in PAIRS:
        r = float(np.corrcoef(data[x], data[y])[0, 1])
        test = correlation_test(r, len(keys), ctx.thresholds.confidence)
        run.test(f"{x} vs {y}", test)
        rows.append({"x": x, "y": y, "r": r, "r_squared": r * r, "cells": len(keys),
                     "p_value": test.p_value, "significant": test.significant})
        values.append(Value(kpi=f"correlation:{x}~{y}", value=r, base=len(keys), ta=ta,
                            wave=wave))
        summary[f"{x}~{y}"] = r
    run.note("unit = brand x market x wave cell (full waves); Pearson correlation across cells; "
             "omnichannel performance = mean of standardised breadth and standardised mean "
             "channel impact. Correlation is not causation.")
    run.note("mean channel impact of a cell = weighted mean of all its channel experience "
             "ratings, pooled over channels (one rating per rater and channel reached)")
    chart = {"type": "scatter", "x": "omnichannel_performance", "y": "cx_index",
             "points": [{"cell": "/".join(k), "omnichannel_performance":
                         float(data["omnichannel_performance"][i]),
                         "cx_index": float(data["cx_index"][i])} for i, k in enumerate(keys)],
             "title": "Omnichannel performance vs CX index (brand x market x wave)"}
    for m in MEASURES:
        run.use(get_kpi(m))
    return Result.build("correlations", run, values, rows, summary, chart,
                        table_title="Correlations across brand x market cells")
