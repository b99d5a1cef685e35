"""Charts for an Answer's `chart` evidence, as Vega-Lite specs (JSON-serialisable dicts).

Each chart is drawn from the tables the engine computed for that answer, never from numbers
of its own: ranking bars with the leader marked, a trend line with its CI band and the
significant changes marked, importance x performance quadrants, channel reach x impact
bubbles and a waterfall of driver contributions. Altair builds and validates the specs; it is
imported on the first chart, so a numeric answer on the command line never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from assistant.answer import Answer
from assistant.presentation import display_rows, fmt, table_columns, values_table

if TYPE_CHECKING:
    import altair as alt

LEADER_COLOUR = "#d62728"
OTHER_COLOUR = "#7f9fbf"


def chart_spec(chart: dict[str, Any], tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Vega-Lite spec for a `chart` evidence item, or None when there is nothing to draw."""
    drawn = build_chart(chart, tables)
    return None if drawn is None else drawn.to_dict()


def table_frame(table: dict[str, Any]) -> pd.DataFrame:
    columns = table_columns(table)
    rows = [{c: _cell(r.get(c)) for c in columns} for r in table.get("rows", [])]
    return pd.DataFrame(rows, columns=columns)


def values_frame(answer: Answer, *, exact: bool = False) -> pd.DataFrame:
    """Answer.values as a grid: figures at each KPI's display precision, or `exact`."""
    columns, rows = values_table(answer)
    rows = rows if exact else display_rows(rows)
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    if "flags" in frame:  # a list per row; a string reads better in a grid and in CSV
        frame["flags"] = frame["flags"].map(fmt)
    return frame


def _cell(v: Any) -> Any:
    # Arrow cannot hold a column mixing lists/dicts with scalars.
    return fmt(v) if isinstance(v, (list, tuple, dict)) else v


def _numeric(frame: pd.DataFrame, *cols: str | None) -> pd.DataFrame:
    for c in cols:
        if c and c in frame:
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


def build_chart(chart: dict[str, Any], tables: list[dict[str, Any]]) -> alt.Chart | None:
    """An Altair chart for a `chart` evidence item, or None when there is nothing to draw."""
    kind = chart.get("type", "bar")
    title = chart.get("title", "")
    if kind == "waterfall":
        return _waterfall(chart, title)
    if chart.get("points"):  # a scatter carries its own points (one per brand x market cell)
        data = pd.DataFrame([{k: _cell(v) for k, v in p.items()} for p in chart["points"]])
        return _scatter(data, {"label": "cell", **chart}, title)
    if not tables or not tables[0].get("rows"):
        return None
    data = table_frame(tables[0])
    x, y = chart.get("x"), chart.get("y", "value")
    if x not in data or y not in data:
        return None
    data = _numeric(data, y, *(chart.get("band") or []))
    if kind in ("ranking", "bar") and x in data:
        return _bars(data, x, y, chart.get("highlight"), title)
    if kind == "trend":
        return _trend(data, chart, title)
    if kind in ("quadrant", "bubble", "scatter"):
        return _scatter(data, chart, title)
    return _bars(data, x, y, None, title)


def _bars(data: pd.DataFrame, x: str, y: str, highlight: str | None, title: str) -> alt.Chart:
    import altair as alt  # lazily: ~1 s of import the first answer may not need

    data = data.dropna(subset=[y])
    color: Any = alt.value(OTHER_COLOUR)
    if highlight and highlight in data:
        data = data.assign(_lead=data[highlight].fillna(False).astype(bool))
        color = alt.condition("datum._lead", alt.value(LEADER_COLOUR), alt.value(OTHER_COLOUR))
    return (alt.Chart(data, title=title).mark_bar()
            .encode(y=alt.Y(f"{x}:N", sort="-x", title=None), x=alt.X(f"{y}:Q", title=y),
                    color=color, tooltip=list(data.columns[:8])))


def _trend(data: pd.DataFrame, chart: dict[str, Any], title: str) -> alt.Chart:
    import altair as alt

    x, y = chart["x"], chart.get("y", "value")
    order = list(dict.fromkeys(data[x]))  # the engine's chronological order, not alphabetical
    series = chart.get("series") if chart.get("series") in data else None
    enc: dict[str, Any] = {"x": alt.X(f"{x}:O", sort=order, title=None)}
    if series:
        enc["color"] = alt.Color(f"{series}:N")
    base = alt.Chart(data.dropna(subset=[y]), title=title).encode(**enc)
    layers = [base.mark_line(point=True).encode(y=alt.Y(f"{y}:Q", title=y),
                                                tooltip=list(data.columns[:10]))]
    band = [b for b in chart.get("band") or [] if b in data]
    if len(band) == 2:
        layers.insert(0, base.mark_area(opacity=0.15).encode(y=f"{band[0]}:Q",
                                                             y2=f"{band[1]}:Q"))
    mark = chart.get("mark")
    if mark and mark in data:
        sig = data[data[mark].fillna(False).astype(bool)].dropna(subset=[y])
        if not sig.empty:  # significant wave-over-wave changes get a visible marker
            layers.append(alt.Chart(sig).mark_point(size=160, shape="diamond", filled=True,
                                                    color=LEADER_COLOUR)
                          .encode(x=alt.X(f"{x}:O", sort=order), y=f"{y}:Q"))
    return alt.layer(*layers)


def _scatter(data: pd.DataFrame, chart: dict[str, Any], title: str) -> alt.Chart:
    import altair as alt

    x, y = chart["x"], chart["y"]
    data = _numeric(data, x, y, chart.get("size")).dropna(subset=[x, y])
    enc: dict[str, Any] = {"x": alt.X(f"{x}:Q", scale=alt.Scale(zero=False)),
                           "y": alt.Y(f"{y}:Q", scale=alt.Scale(zero=False)),
                           "tooltip": list(data.columns[:10])}
    if chart.get("color") in data:
        enc["color"] = alt.Color(f"{chart['color']}:N")
    if chart.get("size") in data:
        enc["size"] = alt.Size(f"{chart['size']}:Q")
    base = alt.Chart(data, title=title)
    layers: list[Any] = [base.mark_circle(opacity=0.8).encode(**enc)]
    if chart.get("label") in data and len(data) <= 40:  # labels on a dense cloud are noise
        layers.append(base.mark_text(align="left", dx=8).encode(
            x=f"{x}:Q", y=f"{y}:Q", text=f"{chart['label']}:N"))
    if chart.get("type") == "quadrant":  # the split the engine used for the quadrants
        x_cut, y_cut = quadrant_cuts(chart, data)
        layers.append(alt.Chart(pd.DataFrame({y: [y_cut]})).mark_rule(
            strokeDash=[4, 4]).encode(y=f"{y}:Q"))
        layers.append(alt.Chart(pd.DataFrame({x: [x_cut]})).mark_rule(
            strokeDash=[4, 4]).encode(x=f"{x}:Q"))
    return alt.layer(*layers)


def quadrant_cuts(chart: dict[str, Any], data: pd.DataFrame) -> tuple[float, float]:
    """Where the quadrant lines go: the engine's own cuts when the chart carries them
    (`x_cut`: mean performance, `y_cut`: median importance, unrounded), else the same rule
    recomputed from the table, whose rounding can move a line across a point."""
    x_cut, y_cut = chart.get("x_cut"), chart.get("y_cut")
    return (float(x_cut) if x_cut is not None else float(data[chart["x"]].mean()),
            float(y_cut) if y_cut is not None else float(data[chart["y"]].median()))


def _waterfall(chart: dict[str, Any], title: str) -> alt.Chart | None:
    import altair as alt

    start, end = chart.get("start"), chart.get("end")
    if start is None or end is None:
        return None
    rows, level = [{"step": "start", "from": 0.0, "to": start, "kind": "level"}], start
    for s in chart.get("steps", []):
        v = s.get("value") or 0.0
        rows.append({"step": s.get("label"), "from": level, "to": level + v,
                     "kind": "up" if v >= 0 else "down", "contribution": v})
        level += v
    rows.append({"step": "end", "from": 0.0, "to": end, "kind": "level"})
    data = pd.DataFrame(rows)
    return (alt.Chart(data, title=title).mark_bar()
            .encode(x=alt.X("step:N", sort=list(data["step"]), title=None),
                    y=alt.Y("from:Q", title="points"), y2="to:Q",
                    color=alt.Color("kind:N", scale=alt.Scale(
                        domain=["level", "up", "down"],
                        range=["#7f7f7f", "#2ca02c", LEADER_COLOUR])),
                    tooltip=["step", "from", "to", "contribution"]))
