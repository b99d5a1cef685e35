"""CX Benchmark Assistant: the Streamlit page. Layout, wiring and rendering only.

Answers come from `assistant.service.Assistant`; this page renders them (text, evidence tabs,
buttons) and never computes a number itself: tables, charts and texts all come from the
Answer. Everything runs inside one guard so that no traceback ever reaches the page: a
failure becomes a plain sentence saying what to do.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from assistant.answer import Answer
from assistant.charts import chart_spec, table_frame
from assistant.config import Settings
from assistant.conversation import Conversation
from assistant.workshop_pack import (
    answer_markdown,
    chart_table,
    fmt,
    table_csv,
    to_html,
    to_markdown,
    values_table,
)

STARTERS: dict[str, list[str]] = {
    "Brand leader": [
        "How is Cardiovex doing in Germany?",
        "Are we ahead of the leader on NPS?",
        "Which channel gives Cardiovex the best experience in Germany?",
    ],
    "Analyst": [
        "How exactly is NPS computed here?",
        "What is the base for Cardiovex prescribers in Germany in 2025-Q4?",
        "Is the drop in Cardiovex NPS in Germany in 2025-Q4 significant?",
    ],
    "Workshop team": [
        "Why did Cardiovex's NPS fall in Germany in 2025-Q4?",
        "Which drivers matter most for recommendation in oncology?",
        "What should we fix first?",
    ],
}
NONE = "(none)"
Ask = Callable[[str], None]
# Test seams: "module:callable". The assistant factory gets the Engine; the retriever factory
# is handed to the Assistant (used where the real index is not built).
ASSISTANT_FACTORY_ENV = "CXASSIST_APP_ASSISTANT"
RETRIEVER_FACTORY_ENV = "CXASSIST_APP_RETRIEVER"


class StartupError(RuntimeError):
    """A first-start build failed; the message already says what to do."""


def friendly(exc: BaseException) -> str:
    """What went wrong and what to do, in one sentence, without a traceback."""
    if isinstance(exc, StartupError):
        return str(exc)
    name = type(exc).__name__
    if name in ("StoreError", "QueryTimeout") or "duckdb" in type(exc).__module__:
        if name == "QueryTimeout":
            return "The query took too long and was stopped: narrow the question (one brand, " \
                   "market or wave) and ask again."
        return "The benchmark database is missing or damaged: run `make data`, then reload."
    if name in ("IndexNotBuiltError", "IndexCorruptError", "CxIndexError"):
        return "The document index is missing or damaged: run `make index`, then reload. " \
               "Numbers still work; document passages do not."
    if isinstance(exc, ImportError):
        return "Part of the assistant is not installed or not finished: run `make setup`, " \
               "then reload."
    return f"Something went wrong while answering ({name}). Try rephrasing the question; " \
           "if it keeps happening, start a new conversation."


def _load(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _index_ready(settings: Settings) -> bool:
    return (settings.index_dir / ".complete").exists() or settings.chroma_host is not None


def prepare(settings: Settings) -> list[str]:
    """First start: build the database and the index when they are missing, visibly.

    Returns problems that still allow serving (a missing index only loses passages)."""
    problems: list[str] = []
    steps = []
    if not Path(settings.db).exists():
        steps.append(("data", "Building the sample benchmark database"))
    if not os.environ.get(RETRIEVER_FACTORY_ENV) and not _index_ready(settings):
        steps.append(("index", "Building the document index"))
    if not steps:
        return problems
    with st.status("Preparing the assistant (first start)…", expanded=True) as status:
        for what, label in steps:
            st.write(f"{label}…")
            failure = _build(what)
            if failure is not None:
                msg = (f"`cxassist {what} build` failed ({failure}): "
                       f"run `make {what}` in a terminal to see why.")
                if what == "data":
                    status.update(label="The benchmark database could not be built",
                                  state="error")
                    raise StartupError(msg)
                problems.append(msg)
            else:
                st.write(f"{label}: done.")
        status.update(label="Ready", state="complete", expanded=False)
    return problems


def _build(what: str) -> str | None:
    """Run `cxassist <what> build`; None when it worked, else the gist of why not."""
    try:
        done = subprocess.run([sys.executable, "-m", "assistant.cli", what, "build"],
                              capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return "no result after 30 minutes"
    if done.returncode == 0:
        return None
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return tail[0][:200]


@st.cache_resource(show_spinner="Opening the benchmark database…")
def load_engine(db: str) -> Any:
    return Settings().open_engine(db)


@st.cache_resource(show_spinner="Starting the assistant…")
def load_assistant(db: str, index_dir: str, use_index: bool) -> Any:
    engine = load_engine(db)
    if os.environ.get(ASSISTANT_FACTORY_ENV):
        return _load(os.environ[ASSISTANT_FACTORY_ENV])(engine)
    from assistant.service import Assistant, configured_llm

    settings = Settings()
    factory: Callable[[], Any] | None = None
    if os.environ.get(RETRIEVER_FACTORY_ENV):
        factory = _load(os.environ[RETRIEVER_FACTORY_ENV])
    elif use_index:
        def factory() -> Any:  # torch loads lazily, on the first question that needs documents
            from index.retrieval import Retriever

            return Retriever(index_dir, host=settings.chroma_host, port=settings.chroma_port)
    return Assistant(engine, retriever_factory=factory, llm=configured_llm())


def values_frame(answer: Answer) -> pd.DataFrame:
    columns, rows = values_table(answer)
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    if "flags" in frame:  # a list per row; a string reads better in a grid and in CSV
        frame["flags"] = frame["flags"].map(fmt)
    return frame


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


# Every rerun redraws the whole history, and building and validating an Altair chart costs
# ~0.2 s: cached, so that with several sessions at once a new answer does not wait seconds
# behind the redrawing of old ones.
cached_chart_spec = st.cache_data(show_spinner=False, max_entries=1000)(chart_spec)


def _chart_tab(a: Answer) -> None:
    tables = a.evidence_of("table")
    for c in a.evidence_of("chart"):
        spec = cached_chart_spec(c, tables)
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


def starter_buttons(starters: dict[str, list[str]], ask: Ask) -> None:
    for group, questions in starters.items():
        with st.expander(group, expanded=False):
            for j, q in enumerate(questions):
                st.button(q, key=f"starter-{_slug(group)}-{j}", on_click=ask, args=(q,),
                          width="stretch")


def pack_downloads(turns: list[tuple[str, Answer]], dataset_version: str) -> None:
    """The whole conversation to take into a workshop, as Markdown and as HTML."""
    st.download_button("Workshop pack (Markdown)",
                       to_markdown(turns, dataset_version=dataset_version),
                       "cx_workshop_pack.md", "text/markdown", key="pack-md",
                       on_click="ignore", width="stretch")
    st.download_button("Workshop pack (HTML)", to_html(turns, dataset_version=dataset_version),
                       "cx_workshop_pack.html", "text/html", key="pack-html",
                       on_click="ignore", width="stretch")


def new_conversation() -> Conversation:
    return Conversation()


def queue(question: str) -> None:
    """Button callback: the clicked text becomes the next user message."""
    st.session_state["pending"] = question


def reset() -> None:
    for k in ("turns", "conversation", "pending", "applied_context"):
        st.session_state.pop(k, None)


def set_defaults(conversation: Conversation, context: dict[str, str | None]) -> None:
    """Hand the sidebar's default context to the conversation (fills what a question omits).

    Applied only when the sidebar changed, so a brand the conversation learned from "we"
    is not overwritten on every rerun."""
    if st.session_state.get("applied_context") == context:
        return
    st.session_state["applied_context"] = dict(context)
    conversation.set_defaults(**context)


def ask(assistant: Any, question: str) -> Answer:
    try:
        return assistant.ask(question, st.session_state["conversation"])
    except Exception as exc:  # noqa: BLE001 - the page shows a sentence, never a traceback
        return Answer(question=question, route="none", intent="error", query={},
                      text=friendly(exc))


def sidebar(catalogue: Any, settings: Settings) -> tuple[dict[str, str | None], Any]:
    """The sidebar; returns the default context and the slot the workshop pack goes in
    (filled by `main` once this run's question is answered, so the pack holds it too)."""
    with st.sidebar:
        st.header("CX Benchmark Assistant")
        with st.expander(f"Dataset {catalogue.dataset_version}", expanded=False):
            st.markdown("**Waves:** " + ", ".join(f"{w['wave_id']} ({w['wave_type']})"
                                                  for w in catalogue.waves))
            st.markdown("**Markets:** " + ", ".join(f"{m['market_id']} {m['name']}"
                                                    for m in catalogue.markets))
            st.markdown("**Therapy areas:** " + ", ".join(f"{t['ta_id']} {t['name']}"
                                                          for t in catalogue.therapy_areas))
            st.markdown("**Brands:** " + ", ".join(f"{b['name']} ({b['company']}, {b['ta_id']})"
                                                   for b in catalogue.brands))
        st.subheader("My default context")
        st.caption("Fills what a question leaves out.")
        context = {
            "brand": _pick("My brand", [b["brand_id"] for b in catalogue.brands],
                           {b["brand_id"]: b["name"] for b in catalogue.brands}, "ctx_brand"),
            "market": _pick("Market", [m["market_id"] for m in catalogue.markets],
                            {m["market_id"]: m["name"] for m in catalogue.markets}, "ctx_market"),
            "ta": _pick("Therapy area", [t["ta_id"] for t in catalogue.therapy_areas],
                        {t["ta_id"]: t["name"] for t in catalogue.therapy_areas}, "ctx_ta"),
            "wave": _pick("Wave", [w["wave_id"] for w in catalogue.waves],
                          {w["wave_id"]: f"{w['wave_id']} ({w['wave_type']})"
                           for w in catalogue.waves}, "ctx_wave"),
        }
        st.subheader("Try asking")
        starter_buttons(STARTERS, queue)
        st.divider()
        llm = settings.llm
        st.caption(f"LLM: **on** ({llm})" if llm else
                   "LLM: **off** (set CXASSIST_LLM to enable); answers are deterministic.")
        st.button("New conversation", key="new_conversation", on_click=reset, width="stretch")
        pack = st.container()
    return context, pack


def _pick(label: str, ids: list[str], names: dict[str, str], key: str) -> str | None:
    choice = st.selectbox(label, [NONE, *ids], key=key,
                          format_func=lambda i: i if i == NONE else f"{names.get(i, i)}")
    return None if choice == NONE else choice


def main() -> None:
    st.title("CX Benchmark Assistant")
    st.caption("Exact numbers from the benchmark, with base, confidence and the query behind "
               "them; documents quoted with their source.")
    # The chat box comes first so people can type while the engine loads on a first visit.
    prompt = st.chat_input("Ask about the benchmark, e.g. How is Cardiovex doing in Germany?")

    settings = Settings()
    problems = prepare(settings)
    engine = load_engine(str(settings.db))
    assistant = load_assistant(str(settings.db), str(settings.index_dir), _index_ready(settings))
    catalogue = engine.catalogue()
    context, pack = sidebar(catalogue, settings)
    for p in problems:
        st.warning(p)
    if "conversation" not in st.session_state:
        st.session_state["conversation"] = new_conversation()
    set_defaults(st.session_state["conversation"], context)
    turns: list[tuple[str, Answer]] = st.session_state.setdefault("turns", [])
    for i, (question, answer) in enumerate(turns):
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            render_answer(answer, f"t{i}", queue)
    question = (prompt or st.session_state.pop("pending", None) or "").strip()
    if question:
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            with st.spinner("Working it out…"):
                answer = ask(assistant, question)
            turns.append((question, answer))
            render_answer(answer, f"t{len(turns) - 1}", queue)
    if turns:
        with pack:
            pack_downloads(turns, catalogue.dataset_version)


st.set_page_config(page_title="CX Benchmark Assistant", page_icon="📊", layout="wide")
try:
    st.set_option("client.showErrorDetails", "none")  # belt and braces: no tracebacks on page
    main()
except Exception as exc:  # noqa: BLE001 - last guard: a plain message instead of a traceback
    st.error(friendly(exc))
