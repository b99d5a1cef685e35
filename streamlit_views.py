"""How one Answer looks in the chat: text first, then evidence tabs, charts and buttons.

Only rendering lives here; every number, table and chart spec comes from the Answer as the
assistant built it, so the page can never show a figure the engine did not compute.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from assistant.answer import Answer
from assistant.workshop_pack import chart_table, fmt, table_columns, table_csv, values_table

if TYPE_CHECKING:
    import altair as alt

Ask = Callable[[str], None]
_LEADER = "#d62728"
_OTHER = "#7f9fbf"


def values_frame(answer: Answer) -> pd.DataFrame:
    columns, rows = values_table(answer)
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    if "flags" in frame:  # a list per row; a string reads better in a grid and in CSV
        frame["flags"] = frame["flags"].map(fmt)
    return frame


def table_frame(table: dict[str, Any]) -> pd.DataFrame:
    columns = table_columns(table)
    rows = [{c: _cell(r.get(c)) for c in columns} for r in table.get("rows", [])]
    return pd.DataFrame(rows, columns=columns)


def _cell(v: Any) -> Any:
    # Arrow cannot hold a column mixing lists/dicts with scalars.
    return fmt(v) if isinstance(v, (list, tuple, dict)) else v


def _numeric(frame: pd.DataFrame, *cols: str | None) -> pd.DataFrame:
    for c in cols:
        if c and c in frame:
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


# ------------------------------------------------------------------ charts


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
    color: Any = alt.value(_OTHER)
    if highlight and highlight in data:
        data = data.assign(_lead=data[highlight].fillna(False).astype(bool))
        color = alt.condition("datum._lead", alt.value(_LEADER), alt.value(_OTHER))
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
                                                    color=_LEADER)
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
    if chart.get("type") == "quadrant":  # the same split the engine used for the quadrants
        layers.append(alt.Chart(pd.DataFrame({y: [data[y].median()]})).mark_rule(
            strokeDash=[4, 4]).encode(y=f"{y}:Q"))
        layers.append(alt.Chart(pd.DataFrame({x: [data[x].mean()]})).mark_rule(
            strokeDash=[4, 4]).encode(x=f"{x}:Q"))
    return alt.layer(*layers)


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
                        domain=["level", "up", "down"], range=["#7f7f7f", "#2ca02c", _LEADER])),
                    tooltip=["step", "from", "to", "contribution"]))


# ---------------------------------------------------------------- evidence


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "table"


def _numbers_tab(a: Answer, key: str) -> None:
    if a.values:
        frame = values_frame(a)
        st.dataframe(frame, hide_index=True)
        st.download_button("Numbers as CSV", frame.to_csv(index=False), f"{a.intent}_values.csv",
                           "text/csv", key=f"{key}-values-csv", on_click="ignore")
    for i, t in enumerate(a.evidence_of("table")):
        st.markdown(f"**{t.get('title', 'Table')}**")
        st.dataframe(table_frame(t), hide_index=True)
        st.download_button("Table as CSV", table_csv(t), f"{_slug(t.get('title', ''))}.csv",
                           "text/csv", key=f"{key}-table-{i}", on_click="ignore")


@st.cache_data(show_spinner=False, max_entries=1000)
def chart_spec(chart: dict[str, Any], tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Vega-Lite spec of `build_chart`, cached: every rerun redraws the whole history, and
    building and validating an Altair chart costs ~0.2 s, which with several sessions at once
    made each new answer wait seconds behind the redrawing of old ones."""
    drawn = build_chart(chart, tables)
    return None if drawn is None else drawn.to_dict()


def _chart_tab(a: Answer) -> None:
    tables = a.evidence_of("table")
    for c in a.evidence_of("chart"):
        spec = chart_spec(c, tables)
        if spec is not None:
            st.vega_lite_chart(spec=spec, width="stretch")
        else:  # still show what would have been drawn
            columns, rows = chart_table(c, tables)
            st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True)


def _definition_tab(a: Answer) -> None:
    for d in a.evidence_of("definition"):
        st.markdown(f"**{d.get('label') or d.get('kpi', '')}** (`{d.get('kpi', '')}`)")
        if d.get("definition"):
            st.markdown(str(d["definition"]))
        if d.get("formula"):
            st.code(str(d["formula"]), language="text")
        extras = {k: v for k, v in d.items() if k in ("unit", "scale", "light_waves")}
        if extras:
            st.caption(" · ".join(f"{k}: {fmt(v)}" for k, v in extras.items()))
    notes = a.evidence_of("note")
    if notes:
        st.markdown("**Method notes**")
        for n in notes:
            st.markdown(f"- {n.get('text', '')}")


def _sql_tab(a: Answer) -> None:
    for i, s in enumerate(a.evidence_of("sql"), start=1):
        st.caption(f"Query {i} · {fmt(s.get('rows'))} rows · {fmt(s.get('ms'))} ms")
        st.code(str(s.get("sql", "")), language="sql")
        if s.get("params"):
            st.code("params = " + repr(list(s["params"])), language="python")


def _sources_tab(a: Answer) -> None:
    for p in a.evidence_of("passage"):
        where = " › ".join(str(x) for x in (p.get("title"), p.get("section")) if x)
        wave = f" · wave {p['wave']}" if p.get("wave") else ""
        st.markdown(f"**{where}**{wave}")
        st.markdown("\n".join("> " + line for line in str(p.get("text", "")).splitlines()))
        st.caption(f"source: {p.get('source', '')}")


def _tests_tab(a: Answer) -> None:
    rows = [{"test": t.get("label"), "method": t.get("test"), "statistic": t.get("statistic"),
             "p_value": t.get("p_value"), "significant": t.get("significant"),
             "difference": t.get("difference"),
             "note": fmt((t.get("detail") or {}).get("reason"))} for t in a.evidence_of("test")]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def _tabs(a: Answer, key: str) -> list[tuple[str, Callable[[], None]]]:
    tabs: list[tuple[str, Callable[[], None]]] = []
    if a.values or a.evidence_of("table"):
        tabs.append(("Numbers", lambda: _numbers_tab(a, key)))
    if a.evidence_of("chart"):
        tabs.append(("Chart", lambda: _chart_tab(a)))
    if a.evidence_of("definition") or a.evidence_of("note"):
        tabs.append(("Definition", lambda: _definition_tab(a)))
    if a.evidence_of("sql"):
        tabs.append(("SQL", lambda: _sql_tab(a)))
    if a.evidence_of("passage"):
        tabs.append(("Sources", lambda: _sources_tab(a)))
    if a.evidence_of("test"):
        tabs.append(("Tests", lambda: _tests_tab(a)))
    if a.warnings:
        tabs.append(("Warnings", lambda: [st.warning(w) for w in a.warnings]))
    return tabs


def answer_markdown(text: str) -> str:
    """The answer text as shown. Its lines are separate statements (numbers, quotes,
    assumptions): a Markdown hard break keeps each on its own line instead of one run-on
    paragraph."""
    return re.sub(r"(?<!\n)\n(?!\n)", "  \n", text or "_(no answer text)_")


def render_answer(a: Answer, key: str, ask: Ask) -> None:
    """Answer text, evidence tabs, then clarification options and suggestions as buttons.

    `key` must be stable across reruns (the turn number) so buttons keep their identity.
    Each part is guarded on its own: one bad evidence item must not hide the answer.
    """
    st.markdown(answer_markdown(a.text))
    if a.warnings and a.route != "clarify":
        st.caption("⚠ " + " · ".join(a.warnings[:2]) + (" …" if len(a.warnings) > 2 else ""))
    tabs = _tabs(a, key)
    if tabs:
        for (label, draw), tab in zip(tabs, st.tabs([t[0] for t in tabs]), strict=True):
            with tab:
                try:
                    draw()
                except Exception as exc:  # noqa: BLE001 - a broken tab must not break the page
                    st.info(f"This {label.lower()} evidence could not be shown "
                            f"({type(exc).__name__}).")
    _buttons(a.options, f"{key}-opt", ask, primary=True)
    if a.suggestions:
        st.caption("You could also ask:")
        _buttons(a.suggestions, f"{key}-sug", ask, primary=False)


def _buttons(labels: list[str], key: str, ask: Ask, *, primary: bool) -> None:
    if not labels:
        return
    cols = st.columns(min(len(labels), 3))
    for j, label in enumerate(labels):
        with cols[j % len(cols)]:
            st.button(label, key=f"{key}-{j}", on_click=ask, args=(label,),
                      type="primary" if primary else "secondary", width="stretch")


# ------------------------------------------------------------------ sidebar


def starter_buttons(starters: dict[str, list[str]], ask: Ask) -> None:
    for group, questions in starters.items():
        with st.expander(group, expanded=False):
            for j, q in enumerate(questions):
                st.button(q, key=f"starter-{_slug(group)}-{j}", on_click=ask, args=(q,),
                          width="stretch")


def pack_downloads(turns: list[tuple[str, Answer]], dataset_version: str) -> None:
    """The whole conversation to take into a workshop, as Markdown and as HTML."""
    from assistant.workshop_pack import to_html, to_markdown

    st.download_button("Workshop pack (Markdown)",
                       to_markdown(turns, dataset_version=dataset_version),
                       "cx_workshop_pack.md", "text/markdown", key="pack-md",
                       on_click="ignore", width="stretch")
    st.download_button("Workshop pack (HTML)", to_html(turns, dataset_version=dataset_version),
                       "cx_workshop_pack.html", "text/html", key="pack-html",
                       on_click="ignore", width="stretch")
