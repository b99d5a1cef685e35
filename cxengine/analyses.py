"""Headline analyses: a KPI value, a ranking, a trend, a comparison."""

from __future__ import annotations

from typing import Any

from cxengine.errors import Unanswerable
from cxengine.kpi_sql import RATER_ROW_SETS, Filters, ask_instead, pools_channels
from cxengine.kpis import Kpi, get_kpi
from cxengine.measure import Cell, Context, cell_row
from cxengine.results import Result, Run
from cxengine.stats import TestResult

# Dimensions whose two sides can hold the same HCPs (a rater rates brands of both companies,
# is reached by both channels): an independent-samples test ignores that overlap.
OVERLAPPING_DIMENSIONS = ("company", "channel")


def row_kpi(kpi_id: str) -> Kpi:
    """The KPI, if the row analyses can compute it; a derived KPI says where to ask."""
    kpi = get_kpi(kpi_id)
    if kpi.kind != "row":
        raise Unanswerable(ask_instead(kpi))
    return kpi


def kpi_value(ctx: Context, kpi_id: str, filters: Filters, by: tuple[str, ...] = ()
              ) -> Result:
    """Any KPI for any filter, optionally broken down by dimensions."""
    kpi = row_kpi(kpi_id)
    run = ctx.new_run()
    if pools_channels(kpi, filters, by):
        by = (*by, "channel")
        run.note(f"{kpi.label} is measured per channel: shown for "
                 f"{'each channel named' if filters.channel else 'every channel'}")
    ctx.coverage_warnings(run, kpi, filters, by)
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
    kpi = row_kpi(kpi_id)
    run = ctx.new_run()
    f = (filters or Filters()).with_(ta=ta, market=market, wave=wave, brand=None)
    ctx.require_one_channel(kpi, f)
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
    kpi = row_kpi(kpi_id)
    run = ctx.new_run()
    f = filters.with_(wave=waves) if waves else filters.with_(wave=None)
    by = ("wave", "channel") if pools_channels(kpi, f, ("wave",)) else ("wave",)
    if len(by) > 1:
        run.note(f"{kpi.label} is measured per channel: one line per channel")
    ctx.coverage_warnings(run, kpi, f.with_(wave=waves or list(ctx.waves.index)), by)
    cells = ctx.measure(run, kpi, f, by)
    series: dict[Any, list] = {}
    for c in cells:
        series.setdefault(c.group.get("channel"), []).append(c)
    rows, values = [], []
    for channel, cs in series.items():
        cs.sort(key=lambda c: int(ctx.waves.loc[c.group["wave"], "sequence"]))
        prev, changes = None, []
        for c in cs:
            row = cell_row(kpi, c)
            row["wave_type"] = str(ctx.waves.loc[c.group["wave"], "wave_type"])
            if prev is not None:
                test = ctx.change_test(kpi, prev, c)
                label = f"{prev.group['wave']} -> {c.group['wave']}" + (
                    f" ({channel})" if channel else "")
                run.test(label, test)
                changes.append((label, test))
                row.update(change=test.difference, significant=test.significant,
                           p_value=test.p_value)
            rows.append(row)
            values.append(ctx.value(kpi, c, f))
            if c.estimate.value is not None:
                prev = c
        _trend_significance(run, kpi, changes)
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


def _trend_significance(run: Run, kpi: Kpi, changes: list[tuple[str, TestResult]]) -> None:
    """One warning per series listing the changes that are not significant or untested."""
    flat = [f"{label} ({kpi.format_change(t.difference)})" for label, t in changes
            if t.significant is False]
    untested = [f"{label} ({t.detail.get('reason', 'no test')})" for label, t in changes
                if t.significant is None]
    if flat:
        conf = f"{changes[0][1].confidence:.0%}"
        run.warn(f"{kpi.label}: not significant at {conf}: {'; '.join(flat)}")
    if untested:
        run.warn(f"{kpi.label}: no significance test possible for {'; '.join(untested)}")


def compare(ctx: Context, kpi_id: str, filters: Filters, dimension: str, a: Any, b: Any
            ) -> Result:
    """Two brands, waves, markets or segments on one KPI, with the right test."""
    kpi = row_kpi(kpi_id)
    run = ctx.new_run()
    if dimension != "channel":  # comparing channels names one channel per side
        ctx.require_one_channel(kpi, filters)
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
        test = _compare_test(ctx, run, kpi, fa, dimension, a, b, ca, cb)
        summary.update(difference=None if ca.estimate.value is None or cb.estimate.value is None
                       else cb.estimate.value - ca.estimate.value,
                       significant=test.significant, test=test.test, p_value=test.p_value)
    chart = {"type": "bar", "x": dimension, "y": "value", "title": f"{kpi.label}: {a} vs {b}"}
    return Result.build("compare", run, values, rows, summary, chart,
                        table_title=f"{kpi.label}: {a} vs {b}")


def _compare_test(ctx: Context, run: Run, kpi: Kpi, fa: Filters, dimension: str, a: Any,
                  b: Any, ca: Cell, cb: Cell) -> TestResult:
    """The right test for the two sides, recorded with its caveats."""
    label = (f"{ctx.brand_name(b)} vs {ctx.brand_name(a)}" if dimension == "brand"
             else f"{b} vs {a}")
    test = None
    if dimension == "brand" and kpi.rows in RATER_ROW_SETS:
        test = ctx.paired_tests(run, kpi, fa, a, [b])[b]
        n_common = int(test.detail.get("n_common", 0))
        if n_common == 0:
            ta_a, ta_b = ctx.brand_ta(a), ctx.brand_ta(b)
            names = (ctx.brand_name(a), ctx.brand_name(b))
            run.warn(f"{names[0]} and {names[1]} belong to different therapy areas: no HCP "
                     "rated both, no test" if ta_a and ta_b and ta_a != ta_b else
                     f"no HCP rated both {names[0]} and {names[1]} in this selection: no test")
        else:
            run.note(f"paired test on the {n_common} HCPs who rated both brands; its "
                     "difference is the mean within-HCP difference among them")
    elif dimension == "brand":
        run.note("brands share raters; this test treats them as independent, so it is "
                 "approximate")
    if dimension in OVERLAPPING_DIMENSIONS:
        run.note(f"the two {dimension} sides can hold the same HCPs; this test treats them as "
                 "independent, so it is approximate")
    test = test or ctx.change_test(kpi, ca, cb)
    run.test(label, test)
    if not (dimension == "brand" and test.detail.get("n_common") == 0):
        ctx.significance_warning(run, kpi, label, test)
    return test
