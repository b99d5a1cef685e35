"""Channel mix of one brand in one market and wave, against its competitors.

Per channel: reach, frequency, impact, impact index vs the face-to-face
reference (f2f_rep; medical channels use msl_f2f), and the competitors' pooled
values in the same market and wave. Sales vs medical split pools each role's
channel ratings (Moments add), so it is a proper weighted mean, not a mean of means.
"""

from __future__ import annotations

from typing import Any

from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Cell, Context
from cxengine.results import Result, Run
from cxengine.stats import estimate

REFERENCE = {"medical": "msl_f2f", "sales": "f2f_rep", "none": "f2f_rep"}


def _per_channel(ctx: Context, run: Run, kpi_id: str, f: Filters) -> dict[str, Cell]:
    return {c.group["channel"]: c for c in ctx.measure(run, get_kpi(kpi_id), f, ("channel",))}


def channel_mix(ctx: Context, *, brand: str, market: str, wave: str) -> Result:
    run = ctx.new_run()
    reach_kpi = get_kpi("channel_reach")
    run.use(get_kpi("channel_impact_index"))
    ctx.coverage_warnings(run, reach_kpi, Filters.of(brand=brand, market=market, wave=wave))
    ta = str(ctx.brands.loc[brand, "ta_id"])
    competitors = [b for b in ctx.brands.index if ctx.brands.loc[b, "ta_id"] == ta and b != brand]
    own = Filters.of(brand=brand, market=market, wave=wave)
    comp = Filters.of(brand=competitors, market=market, wave=wave)
    data = {(who, k): _per_channel(ctx, run, k, f)
            for who, f in (("brand", own), ("competitors", comp))
            for k in ("channel_reach", "channel_frequency", "channel_impact")}
    roles = ctx.store.query("SELECT channel_id, role, channel_type, name FROM channels",
                            log=run.sql).set_index("channel_id")
    rows, values = [], []
    for ch in roles.index:
        impact = data[("brand", "channel_impact")].get(ch)
        ref = data[("brand", "channel_impact")].get(REFERENCE[roles.loc[ch, "role"]])
        row: dict[str, Any] = {"channel": ch, "name": roles.loc[ch, "name"],
                               "role": roles.loc[ch, "role"],
                               "channel_type": roles.loc[ch, "channel_type"]}
        for who in ("brand", "competitors"):
            prefix = "" if who == "brand" else "competitors_"
            for k in ("channel_reach", "channel_frequency", "channel_impact"):
                c = data[(who, k)].get(ch)
                row[prefix + k.removeprefix("channel_")] = None if c is None else c.estimate.value
        row["impact_index"] = (impact.estimate.value / ref.estimate.value
                               if impact and ref and impact.estimate.value is not None
                               and ref.estimate.value else None)
        row["impact_reference"] = REFERENCE[roles.loc[ch, "role"]]
        reach = data[("brand", "channel_reach")].get(ch)
        row["base"] = reach.estimate.n if reach else None
        row["impact_base"] = impact.estimate.n if impact else None
        rows.append(row)
        if reach is not None:
            values.append(ctx.value(reach_kpi, reach, own.with_(channel=ch)))
    for kpi_id in ("channel_impact",):
        ctx.flag_warnings(run, get_kpi(kpi_id),
                          [ctx.value(get_kpi(kpi_id), c, own.with_(channel=ch))
                           for ch, c in data[("brand", kpi_id)].items()])
    roles_summary = _role_split(ctx, data[("brand", "channel_impact")], roles)
    run.note("impact index = channel impact / the brand's face-to-face reference impact "
             "(f2f_rep = 1.00; medical channels use msl_f2f): relative and directional, "
             "not additive")
    run.note(f"competitors = {', '.join(ctx.brand_name(c) for c in competitors)}, pooled over "
             "their raters in the same market and wave")
    rows.sort(key=lambda r: -(r["reach"] or 0))
    summary = {"brand": brand, "market": market, "wave": wave, "roles": roles_summary,
               "top_reach": rows[0]["channel"] if rows and rows[0]["reach"] else None,
               "top_impact": max((r for r in rows if r["impact"] is not None),
                                 key=lambda r: r["impact"], default={}).get("channel")}
    chart = {"type": "bubble", "x": "reach", "y": "impact", "size": "frequency",
             "label": "channel", "color": "role",
             "title": f"{ctx.brand_name(brand)} channel mix, {market} {wave}"}
    if not data[("brand", "channel_reach")]:
        run.warn(f"no channel data for {ctx.brand_name(brand)} in {market}, {wave}")
    return Result.build("channel_mix", run, values, rows, summary, chart,
                        table_title=f"{ctx.brand_name(brand)} channel mix vs competitors")


def _role_split(ctx: Context, impact: dict[str, Cell], roles) -> dict[str, Any]:
    out = {}
    for role in ("sales", "medical"):
        cells = [c for ch, c in impact.items() if roles.loc[ch, "role"] == role]
        if not cells:
            continue
        pooled = sum((c.moments for c in cells[1:]), cells[0].moments)
        e = estimate(pooled, ctx.thresholds, (0.0, 10.0))
        out[role] = {"impact": e.value, "base": e.n, "effective_base": e.n_eff,
                     "channels": sorted(ch for ch in impact if roles.loc[ch, "role"] == role)}
    return out

