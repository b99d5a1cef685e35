"""Headline analyses: a KPI value, a ranking, a trend, a comparison."""

from __future__ import annotations

from typing import Any

from cxengine.kpi_sql import Filters
from cxengine.kpis import get_kpi
from cxengine.measure import Context, cell_row
from cxengine.results import Result


def kpi_value(ctx: Context, kpi_id: str, filters: Filters, by: tuple[str, ...] = ()
              ) -> Result:
    """Any KPI for any filter, optionally broken down by dimensions."""
    kpi = get_kpi(kpi_id)
    run = ctx.new_run()
    if kpi.requires == "channel" and not filters.channel and "channel" not in by:
        by = (*by, "channel")
        run.note(f"{kpi.label} is measured per channel: shown for every channel")
    ctx.coverage_warnings(run, kpi, filters)
    cells = ctx.measure(run, kpi, filters, by)
    values = [ctx.value(kpi, c, filters) for c in cells]
    if not cells:
        run.warn(f"no {kpi.label} data for this selection")
    ctx.flag_warnings(run, kpi, values)
    chart = ({"type": "bar", "x": by[0], "y": "value", "title": kpi.label}
             if by and len(cells) > 1 else None)
    return Result.build("kpi_value", run, values, [cell_row(kpi, c) for c in cells],
                        summary={"kpi": kpi.id, "by": list(by), "filters": filters.to_dict()},
                        chart=chart, table_title=f"{kpi.label} by {', '.join(by) or 'selection'}")


def ranking(ctx: Context, kpi_id: str, ta: str, market: str, wave: str,
            filters: Filters | None = None) -> Result:
    """Brands of one TA in one market and wave, best first, with leader and gap to leader."""
    kpi = get_kpi(kpi_id)
    run = ctx.new_run()
    f = (filters or Filters()).with_(ta=ta, market=market, wave=wave, brand=None)
    ctx.coverage_warnings(run, kpi, f)
    cells = ctx.measure(run, kpi, f, ("brand",))
    shown = [c for c in cells if c.estimate.value is not None]
    sign = 1 if kpi.higher_is_better else -1
    shown.sort(key=lambda c: sign * c.estimate.value, reverse=True)
    leader = shown[0] if shown else None
    rows, values = [], []
    tests = ctx.paired_tests(run, kpi, f, leader.group["brand"],
                             [c.group["brand"] for c in shown[1:]]) if leader else {}
    for rank, c in enumerate(shown + [c for c in cells if c.estimate.value is None], start=1):
        v = ctx.value(kpi, c, f)
        values.append(v)
        row = cell_row(kpi, c)
        is_shown = c.estimate.value is not None
        row.update(rank=rank if is_shown else None, name=ctx.brand_name(c.group["brand"]),
                   leader=bool(leader is c))
        if leader is not None and is_shown:
            gap = c.estimate.value - leader.estimate.value
            row["gap_to_leader"] = round(gap, 4)
            lv = leader.estimate.value
            row["index_vs_leader"] = round(100 * c.estimate.value / lv, 1) if lv > 0 else None
            if leader is not c:
                test = tests.get(c.group["brand"])
                if test is not None:
                    run.test(f"{ctx.brand_name(c.group['brand'])} vs leader "
                             f"{ctx.brand_name(leader.group['brand'])}", test)
                    row["gap_significant"] = test.significant
        rows.append(row)
    if leader is not None and leader.estimate.value <= 0:
        run.note("index vs leader is not defined when the leader's value is 0 or negative")
    ctx.flag_warnings(run, kpi, values)
    if not cells:
        run.warn(f"no {kpi.label} data for {ta} in {market}, {wave}")
    summary = {"kpi": kpi.id, "ta": ta, "market": market, "wave": wave,
               "leader": leader.group["brand"] if leader else None,
               "order": [r["brand"] for r in rows if r.get("rank")]}
    chart = {"type": "ranking", "x": "name", "y": "value", "highlight": "leader",
             "title": f"{kpi.label}: {ta} {market} {wave}"}
    return Result.build("ranking", run, values, rows, summary, chart,
                        table_title=f"{kpi.label} ranking, {ta} {market} {wave}")


def trend(ctx: Context, kpi_id: str, filters: Filters, waves: list[str] | None = None
          ) -> Result:
    """A KPI over waves, with the significance of each wave-over-wave change."""
    kpi = get_kpi(kpi_id)
    run = ctx.new_run()
    f = filters.with_(wave=waves) if waves else filters.with_(wave=None)
    by = ("wave", "channel") if kpi.requires == "channel" and not f.channel else ("wave",)
    if len(by) > 1:
        run.note(f"{kpi.label} is measured per channel: one line per channel")
    cells = ctx.measure(run, kpi, f, by)
    series: dict[Any, list] = {}
    for c in cells:
        series.setdefault(c.group.get("channel"), []).append(c)
    rows, values = [], []
    for channel, cs in series.items():
        cs.sort(key=lambda c: int(ctx.waves.loc[c.group["wave"], "sequence"]))
        prev = None
        for c in cs:
            row = cell_row(kpi, c)
            row["wave_type"] = str(ctx.waves.loc[c.group["wave"], "wave_type"])
            if prev is not None:
                test = ctx.change_test(kpi, prev, c)
                label = f"{prev.group['wave']} -> {c.group['wave']}" + (
                    f" ({channel})" if channel else "")
                run.test(label, test)
                row.update(change=test.difference, significant=test.significant,
                           p_value=test.p_value)
            rows.append(row)
            values.append(ctx.value(kpi, c, f))
            if c.estimate.value is not None:
                prev = c
    carried = {c.group["wave"] for c in cells}
    for w in ctx.waves.index:
        if w not in carried and ctx.is_light(w) and not kpi.light and (not waves or w in waves):
            run.note(f"{w} is a light wave and does not carry {kpi.label}: not in the trend")
    ctx.flag_warnings(run, kpi, values)
    if not cells:
        run.warn(f"no {kpi.label} data for this selection")
    chart = {"type": "trend", "x": "wave", "y": "value", "band": ["ci_low", "ci_high"],
             "mark": "significant", "series": "channel" if len(by) > 1 else None,
             "title": f"{kpi.label} over waves"}
    return Result.build("trend", run, values, rows,
                        {"kpi": kpi.id, "filters": f.to_dict(),
                         "waves": [r["wave"] for r in rows]}, chart,
                        table_title=f"{kpi.label} by wave")


def compare(ctx: Context, kpi_id: str, filters: Filters, dimension: str, a: Any, b: Any
            ) -> Result:
    """Two brands, waves, markets or segments on one KPI, with the right test."""
    kpi = get_kpi(kpi_id)
    run = ctx.new_run()
    sides = []
    for side in (a, b):
        f = filters.with_(**{dimension: side if dimension == "prescriber" else [side]})
        ctx.coverage_warnings(run, kpi, f)
        cells = ctx.measure(run, kpi, f)
        sides.append((f, cells[0] if cells else None))
    values = [ctx.value(kpi, c, f) for f, c in sides if c is not None]
    ctx.flag_warnings(run, kpi, values)
    rows = [{dimension: side, **cell_row(kpi, c)} for side, (_, c) in zip((a, b), sides,
                                                                          strict=True) if c]
    summary: dict[str, Any] = {"kpi": kpi.id, "dimension": dimension, "a": a, "b": b}
    (fa, ca), (_, cb) = sides
    if ca is None or cb is None:
        run.warn(f"no {kpi.label} data for {a if ca is None else b}")
    else:
        paired = dimension == "brand" and len(fa.wave or ()) == 1
        test = (ctx.paired_tests(run, kpi, fa, a, [b]).get(b) if paired else None)
        if paired and test is None:
            run.note("brands share raters; this test treats them as independent, so it is "
                     "approximate")
        test = test or ctx.change_test(kpi, ca, cb)
        run.test(f"{b} vs {a}", test)
        summary.update(difference=None if ca.estimate.value is None or cb.estimate.value is None
                       else cb.estimate.value - ca.estimate.value,
                       significant=test.significant, test=test.test, p_value=test.p_value)
    chart = {"type": "bar", "x": dimension, "y": "value", "title": f"{kpi.label}: {a} vs {b}"}
    return Result.build("compare", run, values, rows, summary, chart,
                        table_title=f"{kpi.label}: {a} vs {b}")
