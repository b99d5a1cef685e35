"""Channel mix of one brand in one market and wave, against its competitors.

Per channel: reach, frequency, impact, impact index vs the face-to-face
reference (f2f_rep; medical channels use msl_f2f), and the competitors' average
in the same market and wave: each competitor brand's own value, then the
unweighted mean over the competitor brands whose base is large enough to show it.
Sales vs medical split pools each role's channel ratings (Moments add), so it is a
proper weighted mean, not a mean of means.
"""

from __future__ import annotations

from typing import Any

from cxengine.errors import Unanswerable
from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Cell, Context, segment_label
from cxengine.results import Result, Run
from cxengine.stats import estimate

REFERENCE = {"medical": "msl_f2f", "sales": "f2f_rep", "none": "f2f_rep"}
MEASURES = ("channel_reach", "channel_frequency", "channel_impact")


def _per_channel(ctx: Context, run: Run, kpi_id: str, f: Filters) -> dict[str, Cell]:
    return {c.group["channel"]: c for c in ctx.measure(run, get_kpi(kpi_id), f, ("channel",))}


def _competitor_average(ctx: Context, run: Run, kpi_id: str, f: Filters
                        ) -> dict[str, dict[str, Any]]:
    """Per channel: the mean over competitor brands of each brand's value (brands with a
    suppressed base left out), how many brands it rests on and the smallest of their
    effective bases."""
    shown: dict[str, list[tuple[float, float]]] = {}
    for c in ctx.measure(run, get_kpi(kpi_id), f, ("brand", "channel")):
        if c.estimate.value is not None:
            shown.setdefault(c.group["channel"], []).append((c.estimate.value, c.estimate.n_eff))
    return {ch: {"value": sum(v for v, _ in vs) / len(vs), "brands": len(vs),
                 "min_effective_base": round(min(n for _, n in vs), 1)}
            for ch, vs in shown.items()}


def channel_mix(ctx: Context, *, brand: str, market: str, wave: str,
                segments: Filters | None = None) -> Result:
    """`segments` (prescriber / specialty / setting) restrict the brand's and the
    competitors' raters alike."""
    ta = ctx.brand_ta(brand)
    if ta is None:
        raise Unanswerable(f"there is no brand {brand!r} in the benchmark")
    run = ctx.new_run()
    reach_kpi = get_kpi("channel_reach")
    run.use(get_kpi("channel_impact_index"))
    base = segments or Filters()
    own = base.with_(brand=brand, market=market, wave=wave)
    ctx.coverage_warnings(run, reach_kpi, own)
    competitors = [b for b in ctx.brands.index if ctx.brands.loc[b, "ta_id"] == ta and b != brand]
    comp = base.with_(brand=competitors, market=market, wave=wave)
    data = {k: _per_channel(ctx, run, k, own) for k in MEASURES}
    averages = {k: _competitor_average(ctx, run, k, comp) for k in MEASURES}
    roles = ctx.store.query("SELECT channel_id, role, channel_type, name FROM channels",
                            log=run.sql).set_index("channel_id")
    rows, values = [], []
    for ch in roles.index:
        rows.append(_channel_row(ch, roles, data, averages))
        reach = data["channel_reach"].get(ch)
        if reach is not None:
            values.append(ctx.value(reach_kpi, reach, own.with_(channel=ch)))
    impact_kpi = get_kpi("channel_impact")
    ctx.flag_warnings(run, impact_kpi, [ctx.value(impact_kpi, c, own.with_(channel=ch))
                                        for ch, c in data["channel_impact"].items()])
    chosen = segment_label(base.segments())
    run.note("impact index = channel impact / the brand's face-to-face reference impact "
             "(f2f_rep = 1.00; medical channels use msl_f2f): relative and directional, "
             "not additive")
    run.note(f"competitors' average = unweighted mean over the competitor brands "
             f"({', '.join(ctx.brand_name(c) for c in competitors)}) of each brand's own value "
             "in the same market and wave, leaving out brands whose base is too low; "
             "competitors_brands says how many brands each average rests on")
    if chosen:
        run.note(f"brand and competitors restricted to {chosen}")
    rows.sort(key=lambda r: -(r["reach"] or 0))
    summary = {"brand": brand, "market": market, "wave": wave, "filters": own.to_dict(),
               "segment": chosen, "roles": _role_split(ctx, data["channel_impact"], roles),
               "top_reach": rows[0]["channel"] if rows and rows[0]["reach"] else None,
               "top_impact": max((r for r in rows if r["impact"] is not None),
                                 key=lambda r: r["impact"], default={}).get("channel")}
    chart = {"type": "bubble", "x": "reach", "y": "impact", "size": "frequency",
             "label": "channel", "color": "role",
             "title": f"{ctx.brand_name(brand)} channel mix, {market} {wave}"}
    if not data["channel_reach"]:
        run.warn(f"no channel data for {ctx.brand_name(brand)} in {market}, {wave}")
    return Result.build("channel_mix", run, values, rows, summary, chart,
                        table_title=f"{ctx.brand_name(brand)} channel mix vs competitors")


def _channel_row(ch: str, roles, data: dict[str, dict[str, Cell]],
                 averages: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    row: dict[str, Any] = {"channel": ch, "name": roles.loc[ch, "name"],
                           "role": roles.loc[ch, "role"],
                           "channel_type": roles.loc[ch, "channel_type"]}
    for k in MEASURES:
        c, name = data[k].get(ch), k.removeprefix("channel_")
        row[name] = None if c is None else c.estimate.value
        row[f"{name}_effective_base"] = None if c is None else round(c.estimate.n_eff, 1)
    for k in MEASURES:
        avg, name = averages[k].get(ch), k.removeprefix("channel_")
        row[f"competitors_{name}"] = None if avg is None else avg["value"]
        row[f"competitors_{name}_brands"] = 0 if avg is None else avg["brands"]
        row[f"competitors_{name}_min_effective_base"] = (None if avg is None
                                                         else avg["min_effective_base"])
    impact = data["channel_impact"].get(ch)
    ref = data["channel_impact"].get(REFERENCE[roles.loc[ch, "role"]])
    row["impact_index"] = (impact.estimate.value / ref.estimate.value
                           if impact and ref and impact.estimate.value is not None
                           and ref.estimate.value else None)
    row["impact_reference"] = REFERENCE[roles.loc[ch, "role"]]
    reach = data["channel_reach"].get(ch)
    row["base"] = reach.estimate.n if reach else None
    row["impact_base"] = impact.estimate.n if impact else None
    return row


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
