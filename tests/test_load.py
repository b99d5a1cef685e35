"""Many users at once (issue 7 §4): 16 threads x 200 mixed gold questions through ONE shared
Assistant (one engine, one retriever) give exactly the answers of a sequential run, with no
error; and the same retrieval load through a Chroma server (`chroma run`).

The shared assistant under load is a fresh one, so its lazy parts (the retriever built on the
first document question, the engine's cached catalogue tables) are first touched by sixteen
threads at once; the sequential reference comes from a separate assistant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.conversation import Conversation
from assistant.service import Assistant
from cxengine.engine import Engine
from tests.conftest import ROOT
from tests.load_plan import (
    RETRIEVAL_MIX,
    LoadRun,
    Unit,
    gold_units,
    mismatches,
    reference,
    run_concurrently,
    server_index,
    thread_plan,
)

INDEX = ROOT / "data" / "index"
THREADS = 16
ASKS_PER_THREAD = 200
# The retrieval share of the mixed load above (431 of its 3,200 asks search the
# documents), asked through the Chroma server instead: 16 x 28 = 448 retrieval asks.
SERVER_ASKS_PER_THREAD = 28

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (INDEX / ".complete").exists(),
                       reason="data/index/.complete missing: run `make index`"),
]


class CountingFactory:
    """A retriever factory that counts its calls: the shared retriever must be built once,
    however many threads need it first at the same moment."""

    def __init__(self, build: Callable[[], Any]):
        self._build, self.calls, self._lock = build, 0, threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
        return self._build()


def local_retriever() -> Any:
    from index.retrieval import Retriever

    return Retriever(INDEX)


def assert_same_as_sequential(run: LoadRun, expected: dict[tuple[str, ...], list[str]],
                              plans: list[list[Unit]]) -> None:
    assert not run.errors, run.errors[:3]
    assert run.peak_in_flight > 1, "the threads never overlapped: not a load test"
    failed = [a.question for a in run.all if a.failed]
    assert not failed, f"{len(failed)} answers are internal errors, e.g. {failed[:3]}"
    assert sum(len(t) for t in run.asked) == sum(len(u.turns) for p in plans for u in p)
    wrong = mismatches(run, expected, plans)
    assert not wrong, f"{len(wrong)} answers differ from the sequential run, e.g. {wrong[:5]}"


def test_sixteen_users_get_the_sequential_answers(sample_db: Path, engine: Engine) -> None:
    units = gold_units()
    plans = [thread_plan(units, t, ASKS_PER_THREAD) for t in range(THREADS)]
    expected = reference(Assistant(engine, local_retriever), units, Conversation)

    factory = CountingFactory(local_retriever)
    shared = Assistant(Engine(sample_db), factory)
    run = run_concurrently(shared, plans, Conversation)

    assert_same_as_sequential(run, expected, plans)
    assert factory.calls == 1
    asked = {a.category for a in run.all}
    assert {"numeric", "retrieval", "why", "clarify", "out_of_scope", "follow_up"} <= asked


@pytest.fixture(scope="module")
def server_retrievers(server: tuple[str, int], tmp_path_factory: pytest.TempPathFactory
                      ) -> Callable[[], Any]:
    """A retriever factory over the sample-document slice built into the Chroma server."""
    return server_index(tmp_path_factory.mktemp("server-index"), *server)


def test_retrieval_load_through_chroma_server(engine: Engine,
                                              server_retrievers: Callable[[], Any]) -> None:
    units = gold_units(RETRIEVAL_MIX)
    plans = [thread_plan(units, t, SERVER_ASKS_PER_THREAD) for t in range(THREADS)]
    expected = reference(Assistant(engine, server_retrievers), units, Conversation)
    unquoted = [turns for turns, answers in expected.items()
                if not all('"kind": "passage"' in a for a in answers)]
    assert not unquoted, f"no passage from the server's index in the answers to {unquoted}"

    factory = CountingFactory(server_retrievers)
    run = run_concurrently(Assistant(engine, factory), plans, Conversation)

    assert_same_as_sequential(run, expected, plans)
    assert factory.calls == 1
