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
from cxengine.errors import Unanswerable
from cxengine.kpi_sql import RATER_ROW_SETS, Filters
from cxengine.kpis import Kpi, get_kpi
from cxengine.measure import SEGMENT_DIMENSIONS, Cell, Context, cell_row, segment_label
from cxengine.regression import regression
from cxengine.results import Result, Run
from cxengine.stats import base_flags, format_below


def _by_wave(ctx: Context, run: Run, kpi_id: str, f: Filters, waves: list[str],
             by: tuple[str, ...]) -> dict[str, dict[Any, Cell]]:
    cells = ctx.measure(run, get_kpi(kpi_id), f.with_(wave=waves), ("wave", *by))
    out: dict[str, dict[Any, Cell]] = {w: {} for w in waves}
    for c in cells:
        key = tuple(c.group[d] for d in by) if len(by) > 1 else c.group[by[0]] if by else None
        out[c.group["wave"]][key] = c
    return out


def explain_change(ctx: Context, kpi_id: str, *, brand: str, market: str, from_wave: str,
                   to_wave: str, segment: str = "prescriber", segments: Filters | None = None
                   ) -> Result:
    """`segments` (prescriber / specialty / setting filters) restrict every part: the change,
    the regression rows, the driver means, the channels and the mix vs rate split."""
    kpi = _decomposable(get_kpi(kpi_id))
    if ctx.brand_ta(brand) is None:
        raise Unanswerable(f"there is no brand {brand!r} in the benchmark")
    if segment not in SEGMENT_DIMENSIONS:
        raise ValueError(f"mix vs rate splits by one of {', '.join(SEGMENT_DIMENSIONS)}, "
                         f"not {segment!r}")
    run = ctx.new_run()
    base = (segments or Filters()).with_(brand=brand, market=market)
    waves = [from_wave, to_wave]
    chosen = segment_label(base.segments())
    if chosen:
        run.note(f"every part restricted to {chosen}")
    for w in waves:
        ctx.coverage_warnings(run, kpi, base.with_(wave=w))
    # 1. the change and its significance
    level = _by_wave(ctx, run, kpi.id, base, waves, ())
    a, b = level[from_wave].get(None), level[to_wave].get(None)
    values = [ctx.value(kpi, c, base.with_(wave=w)) for w, c in ((from_wave, a), (to_wave, b))
              if c is not None]
    ctx.flag_warnings(run, kpi, values)
    summary: dict[str, Any] = {"kpi": kpi.id, "brand": brand, "market": market,
                               "from_wave": from_wave, "to_wave": to_wave,
                               "filters": base.to_dict(), "segment": chosen}
    rows: list[dict[str, Any]] = []
    if a is None or b is None or a.estimate.value is None or b.estimate.value is None:
        run.warn(f"cannot compare {kpi.label} for {ctx.brand_name(brand)} in {market} between "
                 f"{from_wave} and {to_wave}: a value is missing or its base is too low")
        return Result.build("explain_change", run, values, rows, summary)
    test = ctx.change_test(kpi, a, b)
    run.test(f"{kpi.label} {from_wave} -> {to_wave}", test)
    ctx.significance_warning(run, kpi, f"{kpi.label} {from_wave} -> {to_wave}", test)
    delta = b.estimate.value - a.estimate.value
    summary.update(change=delta, significant=test.significant, test=test.test,
                   p_value=test.p_value, value_from=a.estimate.value, value_to=b.estimate.value)
    rows += [{"part": "level", "item": w, **cell_row(kpi, c)} for w, c in ((from_wave, a),
                                                                           (to_wave, b))]
    # 2. driver contributions
    contributions = _contributions(ctx, run, kpi, brand, base, waves)
    summary["contributions"] = contributions
    explained = sum(c["contribution"] for c in contributions)
    summary["explained"], summary["unexplained"] = explained, delta - explained
    rows += [{"part": "driver", "item": c["predictor"], **{k: v for k, v in c.items()
                                                         if k != "predictor"}}
             for c in contributions]
    # 3. channels
    summary["channels"] = _channel_deltas(ctx, run, base, waves)
    rows += [{"part": "channel", "item": c["channel"], **{k: v for k, v in c.items()
                                                          if k != "channel"}}
             for c in summary["channels"]]
    # 4. mix vs rate
    split = _mix_segment(run, base, segment)
    summary["mix"] = _mix_rate(ctx, run, kpi.id, base, waves, split, delta) if split else {}
    rows += [{"part": "mix", "item": k, "contribution": v} for k, v in summary["mix"].items()
             if k in MIX_PARTS]
    chart = {"type": "waterfall", "start": a.estimate.value, "end": b.estimate.value,
             "steps": [{"label": c["predictor"], "value": c["contribution"]}
                       for c in contributions]
             + [{"label": "not explained", "value": delta - explained}],
             "title": f"{kpi.label} {from_wave} -> {to_wave}: driver contributions"}
    return Result.build("explain_change", run, values, rows, summary, chart,
                        table_title=f"Why {kpi.label} moved, {from_wave} -> {to_wave}")


MIX_PARTS = ("mix", "rate", "interaction", "remainder")


def _decomposable(kpi: Kpi) -> Kpi:
    """The decomposition regresses a per-rater score on the rater's driver ratings, so it
    needs a KPI measured over the brand's raters."""
    if kpi.kind == "row" and kpi.rows in RATER_ROW_SETS and kpi.score:
        return kpi
    raise Unanswerable(f"{kpi.label} is not measured over the brand's raters, so a 'why did it "
                       "move' decomposition cannot split it; it decomposes KPIs rated by each "
                       "HCP (NPS, satisfaction, CX index, product score, a CX driver, ...). "
                       "For a channel KPI ask for its trend or the channel mix")


def _mix_segment(run: Run, base: Filters, asked: str) -> str | None:
    """Mix vs rate across a filtered dimension has one segment only: use another one."""
    filtered = base.segments()
    if asked not in filtered:
        return asked
    other = next((d for d in SEGMENT_DIMENSIONS if d not in filtered), None)
    if other is None:
        run.note("mix vs rate skipped: every segment dimension is filtered on")
    else:
        run.note(f"mix vs rate split by {other}, not {asked}: {asked} is filtered on")
    return other


def _contributions(ctx: Context, run: Run, kpi: Kpi, brand: str, base: Filters,
                   waves: list[str]) -> list[dict[str, Any]]:
    """Delta of the brand's mean predictors x the pooled regression coefficients."""
    ta = str(ctx.brands.loc[brand, "ta_id"])
    pooled = base.with_(brand=None, market=None, ta=ta)
    full = [w for w in waves if not ctx.is_light(w)]
    predictors = PREDICTORS if len(full) == 2 else ("product_rating",)
    if len(full) < 2:
        run.note("a light wave does not ask the CX drivers: only product perception can be "
                 "decomposed; the drivers' part stays in 'not explained'")
    # Coefficients from the full model, pooled over the TA in both (full) waves, all markets.
    pool = full or ctx.wave_order([str(w) for w in ctx.waves.index if not ctx.is_light(w)])
    reg = regression(cross_products(ctx, run, pooled.with_(wave=pool), kpi.score or ""),
                     TARGET, PREDICTORS)
    chosen = segment_label(base.segments())
    run.note(f"driver contributions: change in {ctx.brand_name(brand)}'s mean rating x "
             f"coefficient of the regression of the {kpi.label} score on the drivers and "
             f"product, pooled over {ta}, all markets, waves {', '.join(pool)}"
             f"{', ' + chosen if chosen else ''} (R² = {reg.r_squared:.3f})")
    sides = [cross_products(ctx, run, base.with_(wave=w), kpi.score or "", predictors)
             for w in waves]
    least = min(cp.n_eff for cp in sides)
    if any("suppressed" in base_flags(cp.n, cp.n_eff, ctx.thresholds) for cp in sides):
        run.warn(f"too few complete ratings of {ctx.brand_name(brand)} in a wave for driver "
                 "contributions (effective base "
                 f"{format_below(least, ctx.thresholds.suppress_below)} < "
                 f"{ctx.thresholds.suppress_below:g})")
        return []
    means = [dict(zip(cp.names, cp.means(), strict=True)) for cp in sides]
    out = [{"predictor": p, "delta_mean": means[1][p] - means[0][p],
            "coefficient": reg.coefficients[p],
            "contribution": (means[1][p] - means[0][p]) * reg.coefficients[p],
            "delta_mean_min_effective_base": round(least, 1)}
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
                    "impact_from": _v(i0), "impact_to": _v(i1), "impact_delta": _d(i0, i1),
                    "reach_from_effective_base": _n_eff(r0),
                    "reach_to_effective_base": _n_eff(r1),
                    "impact_from_effective_base": _n_eff(i0),
                    "impact_to_effective_base": _n_eff(i1)})
    return sorted(out, key=lambda c: -abs(c["reach_delta"] or 0))


def _mix_rate(ctx: Context, run: Run, kpi_id: str, base: Filters, waves: list[str],
              segment: str, change: float) -> dict[str, Any]:
    """dK = sum dw_i k_i0 (mix) + sum w_i0 dk_i (rate) + sum dw_i dk_i (interaction).

    A segment present in one wave only has weight 0 in the other and no value there: its
    value is taken as unchanged, so all of it counts as mix (it entered or left the base).
    What rounding or clipping leaves over is reported as the remainder, so the parts always
    add up to the change."""
    cells = _by_wave(ctx, run, kpi_id, base, waves, (segment,))
    w0, w1 = (sum(c.moments.sum_w for c in cells[w].values()) for w in waves)
    if not w0 or not w1:
        return {}
    parts = {"mix": 0.0, "rate": 0.0, "interaction": 0.0}
    segments = []
    one_wave = []
    for key in sorted(set(cells[waves[0]]) | set(cells[waves[1]]), key=str):
        c0, c1 = cells[waves[0]].get(key), cells[waves[1]].get(key)
        s0 = c0.moments.sum_w / w0 if c0 else 0.0
        s1 = c1.moments.sum_w / w1 if c1 else 0.0
        # cells carry weight (n > 0), so their mean is defined; a missing side takes the other's
        k0 = (c0 or c1).moments.mean or 0.0
        k1 = (c1 or c0).moments.mean or 0.0
        if c0 is None or c1 is None:
            one_wave.append(f"{key} ({waves[1] if c0 is None else waves[0]} only)")
        parts["mix"] += (s1 - s0) * k0
        parts["rate"] += s0 * (k1 - k0)
        parts["interaction"] += (s1 - s0) * (k1 - k0)
        segments.append({"segment": key, "share_from": s0, "share_to": s1,
                         "value_from": _v(c0), "value_to": _v(c1)})
    parts["remainder"] = change - sum(parts.values())
    if one_wave:
        run.note(f"mix vs rate by {segment}: {', '.join(one_wave)} present in one wave only; "
                 "weight 0 in the other, all of its contribution counted as mix")
    return {**parts, "segment": segment, "segments": segments}


def _v(c: Cell | None) -> float | None:
    return None if c is None else c.estimate.value


def _n_eff(c: Cell | None) -> float | None:
    return None if c is None else round(c.estimate.n_eff, 1)


def _d(a: Cell | None, b: Cell | None) -> float | None:
    va, vb = _v(a), _v(b)
    return None if va is None or vb is None else vb - va
