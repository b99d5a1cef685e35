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
from assistant.charts import chart_spec, table_frame, values_frame
from assistant.config import Settings
from assistant.conversation import Conversation
from assistant.presentation import (
    answer_markdown,
    chart_table,
    display_rows,
    fmt,
    page_warnings,
    table_csv,
    tests_table,
)
from assistant.starters import dataset_lines, llm_status, starter_questions
from assistant.workshop_pack import to_html, to_markdown

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
        return (f"The benchmark database is missing or damaged: delete {Settings().db} and "
                "run `make data` (or run `.venv/bin/cxassist data build`), then reload.")
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


# What each first-start build makes, and what is lost while it is missing.
BUILDS = {"data": ("the benchmark database", ""),
          "index": ("the document index", " Numbers still work; document passages do not.")}


@st.cache_resource(show_spinner=False)
def build_failures() -> dict[str, str]:
    """What failed to build in this server process ("data"/"index" -> message): remembered
    so that a rerun does not rebuild; retried only from the Retry button."""
    return {}


def prepare(settings: Settings) -> dict[str, str]:
    """First start: build the database and the index when they are missing, visibly.

    Returns the problems that still allow serving (a missing index only loses passages);
    a database that could not be built raises StartupError."""
    missing = [what for what, absent in (
        ("data", not Path(settings.db).exists()),
        ("index", not os.environ.get(RETRIEVER_FACTORY_ENV) and not _index_ready(settings)),
    ) if absent]
    failed = build_failures()
    _raise_if_no_data(missing, failed)  # nothing else is built beside a failed database
    if any(what not in failed for what in missing):
        _build_visibly([what for what in missing if what not in failed], failed)
        _raise_if_no_data(missing, failed)
    return {what: failed[what] for what in missing if what in failed}


def _raise_if_no_data(missing: list[str], failed: dict[str, str]) -> None:
    if "data" in missing and "data" in failed:
        raise StartupError(failed["data"])


def _build_visibly(steps: list[str], failed: dict[str, str]) -> None:
    """Run the builds under one `st.status`, recording each failure in `failed`."""
    with st.status("Preparing the assistant (first start)…", expanded=True) as status:
        for what in steps:
            label = f"Building {BUILDS[what][0]}"
            st.write(f"{label}…")
            failure = _build(what)
            if failure is None:
                st.write(f"{label}: done.")
                continue
            failed[what] = (f"`cxassist {what} build` failed ({failure}): run `make {what}` in "
                            f"a terminal to see why.{BUILDS[what][1]}")
            if what == "data":
                status.update(label="The benchmark database could not be built", state="error")
                return
        status.update(label="Ready" if "index" not in failed else
                      "Ready, without the document index", state="complete", expanded=False)


def retry_button(what: str) -> None:
    """Forget a remembered build failure, so that the next run builds again."""
    st.button(f"Retry building {BUILDS[what][0]}", key=f"retry-{what}",
              on_click=build_failures().pop, args=(what, None))


@st.cache_data(ttl=300, show_spinner=False)
def server_index_problem(host: str, port: int) -> str | None:
    """Whether the Chroma server holds a usable index: a cheap look (no model, no search),
    repeated every few minutes; the page never builds anything on a server."""
    from index.store import IndexLocation, open_index

    try:
        open_index(IndexLocation(Path("."), host=host, port=port)).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no passages from there
        return (f"No usable document index on the Chroma server {host}:{port} ({exc}). "
                "Build it there with `cxassist index build` (CXASSIST_CHROMA_HOST set). "
                "Numbers still work; document passages do not.")
    return None


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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "table"


def _numbers_tab(a: Answer, key: str) -> None:
    if a.values:
        st.dataframe(values_frame(a), hide_index=True)
        st.download_button("Numbers as CSV (full precision)",
                           values_frame(a, exact=True).to_csv(index=False),
                           f"{a.intent}_values.csv", "text/csv", key=f"{key}-values-csv",
                           on_click="ignore")
    for i, t in enumerate(a.evidence_of("table")):
        st.markdown(f"**{t.get('title', 'Table')}**")
        st.dataframe(table_frame({**t, "rows": display_rows(t.get("rows", []))}),
                     hide_index=True)
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
    columns, rows = tests_table(a.evidence_of("test"))
    st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True)


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
    if page_warnings(a):
        tabs.append(("Warnings", lambda: [st.warning(w) for w in page_warnings(a)]))
    return tabs


def render_answer(a: Answer, key: str, ask: Ask) -> None:
    """Answer text, evidence tabs, then clarification options and suggestions as buttons.

    `key` must be stable across reruns (the turn number) so buttons keep their identity.
    Each part is guarded on its own: one bad evidence item must not hide the answer.
    """
    st.markdown(answer_markdown(a.text))
    warnings = page_warnings(a)
    if warnings and a.route != "clarify":
        st.caption("⚠ " + " · ".join(warnings[:2]) + (" …" if len(warnings) > 2 else ""))
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


def sidebar(catalogue: Any, settings: Settings, llm: Any) -> tuple[dict[str, str | None], Any]:
    """The sidebar; returns the default context and the slot the workshop pack goes in
    (filled by `main` once this run's question is answered, so the pack holds it too)."""
    with st.sidebar:
        st.header("CX Benchmark Assistant")
        with st.expander(f"Dataset {catalogue.dataset_version}", expanded=False):
            for line in dataset_lines(catalogue):
                st.markdown(line)
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
        starter_buttons(starter_questions(catalogue), queue)
        st.divider()
        st.caption(llm_status(llm, settings.llm))
        if settings.chroma_host and not os.environ.get(RETRIEVER_FACTORY_ENV):
            problem = server_index_problem(settings.chroma_host, settings.chroma_port)
            if problem:
                st.warning(problem)
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
    prompt = st.chat_input("Ask about the benchmark: a number, a definition, why it moved…")

    settings = Settings()
    problems = prepare(settings)
    engine = load_engine(str(settings.db))
    assistant = load_assistant(str(settings.db), str(settings.index_dir), _index_ready(settings))
    catalogue = engine.catalogue()
    context, pack = sidebar(catalogue, settings, getattr(assistant, "llm", None))
    for what, problem in problems.items():
        st.warning(problem)
        retry_button(what)
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
    if isinstance(exc, StartupError):
        retry_button("data")
