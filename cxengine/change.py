"""Why did a score move: the computed parts of the decomposition (DOMAIN §5 steps 1-4).

1. the change and its significance;
2. driver contributions = delta(mean predictor) x unstandardised coefficient of the
   pooled regression (the endowment term of an Oaxaca-Blinder decomposition);
3. channel reach and impact deltas;
4. mix vs rate across a segment: dK = sum dw_i k_i0 + sum w_i0 dk_i + sum dw_i dk_i.
Step 5 (what the wave report says) is retrieval, composed by the assistant.
"""

from __future__ import annotations

from typing import Any

from cxengine.drivers import PREDICTORS, TARGET, cross_products
from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Cell, Context, cell_row
from cxengine.regression import regression
from cxengine.results import Result, Run


def _by_wave(ctx: Context, run: Run, kpi_id: str, f: Filters, waves: list[str],
             by: tuple[str, ...]) -> dict[str, dict[Any, Cell]]:
    cells = ctx.measure(run, get_kpi(kpi_id), f.with_(wave=waves), ("wave", *by))
    out: dict[str, dict[Any, Cell]] = {w: {} for w in waves}
    for c in cells:
        key = tuple(c.group[d] for d in by) if len(by) > 1 else c.group[by[0]] if by else None
        out[c.group["wave"]][key] = c
    return out


def explain_change(ctx: Context, kpi_id: str, *, brand: str, market: str, from_wave: str,
                   to_wave: str, segment: str = "prescriber") -> Result:
    kpi = get_kpi(kpi_id)
    run = ctx.new_run()
    base = Filters.of(brand=brand, market=market)
    waves = [from_wave, to_wave]
    for w in waves:
        ctx.coverage_warnings(run, kpi, base.with_(wave=w))
    # 1. the change and its significance
    level = _by_wave(ctx, run, kpi.id, base, waves, ())
    a, b = level[from_wave].get(None), level[to_wave].get(None)
    values = [ctx.value(kpi, c, base.with_(wave=w)) for w, c in ((from_wave, a), (to_wave, b))
              if c is not None]
    ctx.flag_warnings(run, kpi, values)
    summary: dict[str, Any] = {"kpi": kpi.id, "brand": brand, "market": market,
                               "from_wave": from_wave, "to_wave": to_wave}
    rows: list[dict[str, Any]] = []
    if a is None or b is None or a.estimate.value is None or b.estimate.value is None:
        run.warn(f"cannot compare {kpi.label} for {ctx.brand_name(brand)} in {market} between "
                 f"{from_wave} and {to_wave}: a value is missing or its base is too low")
        return Result.build("explain_change", run, values, rows, summary)
    test = ctx.change_test(kpi, a, b)
    run.test(f"{kpi.label} {from_wave} -> {to_wave}", test)
    delta = b.estimate.value - a.estimate.value
    summary.update(change=delta, significant=test.significant, test=test.test,
                   p_value=test.p_value, value_from=a.estimate.value, value_to=b.estimate.value)
    rows += [{"part": "level", "item": w, **cell_row(kpi, c)} for w, c in ((from_wave, a),
                                                                           (to_wave, b))]
    # 2. driver contributions
    contributions = _contributions(ctx, run, kpi, brand, market, waves)
    summary["contributions"] = contributions
    explained = sum(c["contribution"] for c in contributions)
    summary["explained"], summary["unexplained"] = explained, delta - explained
    rows += [{"part": "driver", "item": c["predictor"], "delta_mean": c["delta_mean"],
              "coefficient": c["coefficient"], "contribution": c["contribution"]}
             for c in contributions]
    # 3. channels
    summary["channels"] = _channel_deltas(ctx, run, base, waves)
    rows += [{"part": "channel", "item": c["channel"], **{k: v for k, v in c.items()
                                                          if k != "channel"}}
             for c in summary["channels"]]
    # 4. mix vs rate
    summary["mix"] = _mix_rate(ctx, run, kpi.id, base, waves, segment)
    rows += [{"part": "mix", "item": k, "contribution": v} for k, v in summary["mix"].items()
             if k in ("mix", "rate", "interaction")]
    chart = {"type": "waterfall", "start": a.estimate.value, "end": b.estimate.value,
             "steps": [{"label": c["predictor"], "value": c["contribution"]}
                       for c in contributions]
             + [{"label": "not explained", "value": delta - explained}],
             "title": f"{kpi.label} {from_wave} -> {to_wave}: driver contributions"}
    return Result.build("explain_change", run, values, rows, summary, chart,
                        table_title=f"Why {kpi.label} moved, {from_wave} -> {to_wave}")


def _contributions(ctx: Context, run: Run, kpi, brand: str, market: str, waves: list[str]
                   ) -> list[dict[str, Any]]:
    """Delta of the brand's mean predictors x the pooled regression coefficients."""
    ta = str(ctx.brands.loc[brand, "ta_id"])
    full = [w for w in waves if not ctx.is_light(w)]
    predictors = PREDICTORS if len(full) == 2 else ("product_rating",)
    if len(full) < 2:
        run.note("a light wave does not ask the CX drivers: only product perception can be "
                 "decomposed; the drivers' part stays in 'not explained'")
    # Coefficients from the full model, pooled over the TA in both (full) waves, all markets.
    pool = full or ctx.wave_order([str(w) for w in ctx.waves.index if not ctx.is_light(w)])
    reg = regression(cross_products(ctx, run, Filters.of(ta=ta, wave=pool), kpi.score or ""),
                     TARGET, PREDICTORS)
    run.note(f"driver contributions: change in {ctx.brand_name(brand)}'s mean rating x "
             f"coefficient of the regression of the {kpi.label} score on the drivers and "
             f"product, pooled over {ta}, all markets, waves {', '.join(pool)} "
             f"(R² = {reg.r_squared:.3f})")
    means = []
    for w in waves:
        cp = cross_products(ctx, run, Filters.of(brand=brand, market=market, wave=w),
                            kpi.score or "", predictors)
        means.append(dict(zip(cp.names, cp.means(), strict=True)) if cp.n else {})
    if not all(means):
        return []
    out = [{"predictor": p, "delta_mean": means[1][p] - means[0][p],
            "coefficient": reg.coefficients[p],
            "contribution": (means[1][p] - means[0][p]) * reg.coefficients[p]}
           for p in predictors]
    return sorted(out, key=lambda c: -abs(c["contribution"]))


def _channel_deltas(ctx: Context, run: Run, base: Filters, waves: list[str]
                    ) -> list[dict[str, Any]]:
    if any(ctx.is_light(w) for w in waves):
        run.note("channels are asked in full waves only: no channel deltas for a light wave")
        return []
    reach = _by_wave(ctx, run, "channel_reach", base, waves, ("channel",))
    impact = _by_wave(ctx, run, "channel_impact", base, waves, ("channel",))
    out = []
    for ch in sorted(set(reach[waves[0]]) | set(reach[waves[1]])):
        r0, r1 = (reach[w].get(ch) for w in waves)
        i0, i1 = (impact[w].get(ch) for w in waves)
        out.append({"channel": ch,
                    "reach_from": _v(r0), "reach_to": _v(r1), "reach_delta": _d(r0, r1),
                    "impact_from": _v(i0), "impact_to": _v(i1), "impact_delta": _d(i0, i1)})
    return sorted(out, key=lambda c: -abs(c["reach_delta"] or 0))


def _mix_rate(ctx: Context, run: Run, kpi_id: str, base: Filters, waves: list[str],
              segment: str) -> dict[str, Any]:
    cells = _by_wave(ctx, run, kpi_id, base, waves, (segment,))
    w0, w1 = (sum(c.moments.sum_w for c in cells[w].values()) for w in waves)
    if not w0 or not w1:
        return {}
    parts = {"mix": 0.0, "rate": 0.0, "interaction": 0.0}
    segments = []
    for key in sorted(set(cells[waves[0]]) & set(cells[waves[1]]), key=str):
        c0, c1 = cells[waves[0]][key], cells[waves[1]][key]
        s0, s1 = c0.moments.sum_w / w0, c1.moments.sum_w / w1
        k0, k1 = c0.moments.mean, c1.moments.mean
        parts["mix"] += (s1 - s0) * k0
        parts["rate"] += s0 * (k1 - k0)
        parts["interaction"] += (s1 - s0) * (k1 - k0)
        segments.append({"segment": key, "share_from": s0, "share_to": s1,
                         "value_from": c0.estimate.value, "value_to": c1.estimate.value})
    return {**parts, "segment": segment, "segments": segments}


def _v(c: Cell | None) -> float | None:
    return None if c is None else c.estimate.value


def _d(a: Cell | None, b: Cell | None) -> float | None:
    va, vb = _v(a), _v(b)
    return None if va is None or vb is None else vb - va
