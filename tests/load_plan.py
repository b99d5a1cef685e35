"""Many users at once: a deterministic mix of gold questions and a runner that asks them from
threads through one shared Assistant. Used by tests/test_load.py and benchmarks/bench_load.py.

A *unit* is what one user asks in a row: a single question, or a gold follow-up chain asked in
one conversation. Every category of question the assistant routes is in the mix, so engine,
retrieval and both run side by side under load.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

GOLD = Path(__file__).with_name("gold") / "questions.yaml"
# How many distinct gold items of each category the mix holds: roughly the gold set's own
# proportions (most questions ask for a number), with at least four of every kind.
MIX: dict[str, int] = {"numeric": 24, "ranking": 5, "trend": 5, "key_drivers": 4,
                       "retrieval": 5, "why": 4, "clarify": 4, "out_of_scope": 4,
                       "follow_up": 4}
# The questions that search the documents: definitions and methodology, and "why".
RETRIEVAL_MIX: dict[str, int] = {"retrieval": 8, "why": 8}
SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "data" / "sample" / "docs"
# A slice of the sample documents for a Chroma server's index: every question of
# RETRIEVAL_MIX finds its passages there (the wave reports of each "why"), and it embeds in
# seconds rather than the minutes of the whole corpus.
SERVER_CORPUS = ("methodology/kpi_definitions.md", "methodology/significance_and_bases.md",
                 "wave_reports/2025-Q3.md", "wave_reports/2025-Q4.md", "wave_reports/2026-Q2.md")


@dataclass(frozen=True)
class Unit:
    category: str
    turns: tuple[str, ...]


def category(item: dict[str, Any]) -> str:
    if "chain" in item:
        return "follow_up"
    route, intent = item["route"], (item.get("expect") or {}).get("intent")
    if route == "both":
        return "why"
    if route in ("retrieval", "clarify"):
        return route
    if route == "none":
        return "out_of_scope"
    return intent if intent in ("ranking", "trend", "key_drivers") else "numeric"


def gold_units(mix: Mapping[str, int] = MIX) -> list[Unit]:
    """`mix[category]` gold items of each category, spread evenly over the file, then
    interleaved so that the mix is spread over the list instead of in blocks."""
    raw = yaml.safe_load(GOLD.read_text(encoding="utf-8"))
    by_cat: dict[str, list[Unit]] = {c: [] for c in mix}
    for item in raw:
        cat = category(item)
        if cat in by_cat:
            turns = [t["q"] for t in item["chain"]] if "chain" in item else [item["q"]]
            by_cat[cat].append(Unit(cat, tuple(turns)))
    # Each category's items at evenly spaced positions (i + 0.5) / n along the list.
    placed: list[tuple[float, int, Unit]] = []
    for order, (cat, units) in enumerate(by_cat.items()):
        picked = _spread(units, mix[cat])
        placed += [((i + 0.5) / len(picked), order, u) for i, u in enumerate(picked)]
    placed.sort(key=lambda p: p[:2])
    return [u for *_, u in placed]


def _spread(units: list[Unit], n: int) -> list[Unit]:
    if len(units) <= n:
        return units
    return [units[i * len(units) // n] for i in range(n)]


def thread_plan(units: list[Unit], thread: int, asks: int) -> list[Unit]:
    """`asks` questions for one thread: the mix rotated by thread (so threads ask different
    questions at the same moment, and the same ones at other moments), cycled as needed; the
    last follow-up chain is cut short if it would overshoot."""
    start = (thread * 7) % len(units)
    plan: list[Unit] = []
    left, i = asks, start
    while left > 0:
        unit = units[i % len(units)]
        turns = unit.turns[:left]
        plan.append(Unit(unit.category, turns))
        left -= len(turns)
        i += 1
    return plan


def comparable(answer: Any) -> str:
    """The answer as canonical JSON without timings (each SQL statement's `ms`), which are the
    only part allowed to differ between two runs of the same question."""
    d = answer.to_dict()
    d["evidence"] = [{k: v for k, v in e.items() if not (e.get("kind") == "sql" and k == "ms")}
                     for e in d["evidence"]]
    return json.dumps(d, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class Asked:
    category: str
    question: str
    answer: str  # comparable(answer)
    seconds: float
    failed: bool  # the assistant caught an exception (its "internal error" answer)


def ask_unit(assistant: Any, unit: Unit, conversation_factory: Callable[[], Any]) -> list[Asked]:
    """The unit's turns in one fresh conversation, as one user would ask them."""
    conversation = conversation_factory() if unit.category == "follow_up" else None
    out = []
    for question in unit.turns:
        started = time.perf_counter()
        answer = assistant.ask(question, conversation)
        seconds = time.perf_counter() - started
        failed = any(w.startswith("internal error") for w in answer.warnings)
        out.append(Asked(unit.category, question, comparable(answer), seconds, failed))
    return out


def reference(assistant: Any, units: list[Unit], conversation_factory: Callable[[], Any]
              ) -> dict[tuple[str, ...], list[str]]:
    """Each distinct unit asked once, sequentially: the answers every concurrent run of that
    unit (or of a prefix of its turns) must reproduce."""
    return {u.turns: [a.answer for a in ask_unit(assistant, u, conversation_factory)]
            for u in units}


@dataclass
class LoadRun:
    asked: list[list[Asked]]  # per thread, in order
    errors: list[BaseException] = field(default_factory=list)
    peak_in_flight: int = 0
    wall_s: float = 0.0

    @property
    def all(self) -> list[Asked]:
        return [a for thread in self.asked for a in thread]


def run_concurrently(assistant: Any, plans: list[list[Unit]],
                     conversation_factory: Callable[[], Any]) -> LoadRun:
    """One thread per plan, released together by a barrier, all on the same `assistant`."""
    run = LoadRun(asked=[[] for _ in plans])
    barrier = threading.Barrier(len(plans))
    lock = threading.Lock()
    in_flight = 0

    def user(i: int) -> None:
        nonlocal in_flight
        try:
            barrier.wait()
            for unit in plans[i]:
                with lock:
                    in_flight += 1
                    run.peak_in_flight = max(run.peak_in_flight, in_flight)
                try:
                    run.asked[i].extend(ask_unit(assistant, unit, conversation_factory))
                finally:
                    with lock:
                        in_flight -= 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller, not lost
            with lock:
                run.errors.append(exc)

    threads = [threading.Thread(target=user, args=(i,), name=f"user-{i}")
               for i in range(len(plans))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall_s = time.perf_counter() - started
    return run


def mismatches(run: LoadRun, expected: dict[tuple[str, ...], list[str]], plans: list[list[Unit]]
               ) -> list[str]:
    """Questions whose concurrent answer differs from the sequential one."""
    out = []
    for thread, (plan, asked) in enumerate(zip(plans, run.asked, strict=True)):
        got = iter(asked)
        for unit in plan:
            want = expected[_full(unit, expected)]
            for turn, question in enumerate(unit.turns):
                a = next(got, None)
                if a is None or a.answer != want[turn]:
                    out.append(f"thread {thread}: {question!r}")
    return out


def _full(unit: Unit, expected: dict[tuple[str, ...], list[str]]) -> tuple[str, ...]:
    """The reference unit a (possibly shortened) unit is a prefix of."""
    if unit.turns in expected:
        return unit.turns
    return next(k for k in expected if k[: len(unit.turns)] == unit.turns)


def server_index(work: Path, host: str, port: int) -> Callable[[], Any]:
    """Build SERVER_CORPUS into the Chroma server at host:port (the build lock lives under
    `work`); returns a factory of retrievers reading it through an HttpClient."""
    from index.build import build_index
    from index.retrieval import Retriever

    docs, lock_dir = work / "docs", work / "lock"
    for name in SERVER_CORPUS:
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE_DOCS / name, docs / name)
    lock_dir.mkdir(parents=True, exist_ok=True)
    build_index([docs], lock_dir, host=host, port=port, progress=False)
    return lambda: Retriever(lock_dir, host=host, port=port)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
