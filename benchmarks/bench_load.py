"""Throughput and latency of ONE shared Assistant under 1, 4 and 16 concurrent users, and the
same for the document questions through a Chroma server (`chroma run` on 127.0.0.1).

Prints one JSON object. The question mix is the one tests/test_load.py uses (gold questions of
every category, follow-up chains in their own conversation). Each series first asks every
distinct question once, sequentially: that warms the model, the retriever and the engine's
caches (so figures are steady-state), and gives the answers each concurrent run must repeat
exactly (`identical_to_sequential`). The machine's load average is recorded with each run
because the cores may be shared.

    .venv/bin/python benchmarks/bench_load.py [--threads 1,4,16] [--asks-per-thread 50]
                                              [--server-asks-per-thread 16] [--no-server]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the question mix and the Chroma server helper
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.conversation import Conversation  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from cxengine.engine import Engine  # noqa: E402
from tests.load_plan import (  # noqa: E402
    MIX,
    RETRIEVAL_MIX,
    Unit,
    gold_units,
    mismatches,
    percentile,
    reference,
    run_concurrently,
    server_index,
    thread_plan,
)
from tests.servers import ChromaServer  # noqa: E402


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(assistant: Assistant, units: list[Unit], threads: int, asks_per_thread: int,
            expected: dict[tuple[str, ...], list[str]]) -> dict[str, Any]:
    plans = [thread_plan(units, t, asks_per_thread) for t in range(threads)]
    load_avg = os.getloadavg()[0]
    run = run_concurrently(assistant, plans, Conversation)
    asked = run.all
    seconds = [a.seconds for a in asked]
    by_category: dict[str, list[float]] = defaultdict(list)
    for a in asked:
        by_category[a.category].append(a.seconds)
    return {
        "threads": threads,
        "asks": len(asked),
        "wall_s": round(run.wall_s, 2),
        "throughput_qps": round(len(asked) / run.wall_s, 1),
        "p50_ms": _ms(percentile(seconds, 50)),
        "p95_ms": _ms(percentile(seconds, 95)),
        "max_ms": _ms(max(seconds)),
        "p95_ms_by_category": {c: _ms(percentile(s, 95)) for c, s in sorted(by_category.items())},
        "errors": len(run.errors) + sum(a.failed for a in asked),
        "identical_to_sequential": not run.errors and not mismatches(run, expected, plans),
        "load_avg_1m_before": round(load_avg, 2),
    }


def series(assistant: Assistant, mix: dict[str, int], thread_counts: list[int],
           asks_per_thread: int) -> dict[str, Any]:
    units = gold_units(mix)
    started = time.perf_counter()
    expected = reference(assistant, units, Conversation)
    return {
        "mix": mix,
        "distinct_questions": sum(len(u.turns) for u in units),
        "sequential_warm_up_s": round(time.perf_counter() - started, 2),
        "asks_per_thread": asks_per_thread,
        "runs": [measure(assistant, units, t, asks_per_thread, expected) for t in thread_counts],
    }


def server_series(engine: Engine, thread_counts: list[int], asks_per_thread: int
                  ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cx-bench-chroma-") as tmp:
        chroma = ChromaServer(Path(tmp))
        host, port = chroma.start()
        try:
            started = time.perf_counter()
            factory = server_index(Path(tmp) / "index", host, port)
            build_s = time.perf_counter() - started
            out = series(Assistant(engine, factory), RETRIEVAL_MIX, thread_counts,
                         asks_per_thread)
        finally:
            chroma.stop()
    return {"server": "chroma run on 127.0.0.1 (HttpClient)",
            "index_build_s": round(build_s, 1), **out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(ROOT / "data" / "cx.duckdb"))
    ap.add_argument("--index-dir", default=str(ROOT / "data" / "index"))
    ap.add_argument("--threads", default="1,4,16")
    ap.add_argument("--asks-per-thread", type=int, default=50)
    ap.add_argument("--server-asks-per-thread", type=int, default=16)
    ap.add_argument("--no-server", action="store_true", help="skip the Chroma server series")
    args = ap.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]

    def local_retriever() -> Any:
        from index.retrieval import Retriever

        return Retriever(args.index_dir)

    engine = Engine(args.db)
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "shared_assistant": series(Assistant(engine, local_retriever), MIX, thread_counts,
                                   args.asks_per_thread),
    }
    if not args.no_server:
        result["chroma_server_retrieval"] = server_series(engine, thread_counts,
                                                          args.server_asks_per_thread)
    print(json.dumps(result, indent=2))
    runs = [r for s in ("shared_assistant", "chroma_server_retrieval") if s in result
            for r in result[s]["runs"]]
    return 0 if all(r["errors"] == 0 and r["identical_to_sequential"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
