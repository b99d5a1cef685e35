"""Warm latency of every analysis at scale 1 and scale 100; prints JSON.

Targets (issue 3): kpi_value, ranking, trend p95 <= 50 ms at scale 1 and <= 500 ms at
scale 100; key_drivers and explain_change p95 <= 300 ms at scale 1; for kpi_value and
ranking, engine time / raw DuckDB time of the same aggregation <= 2 at scale 100.
The scale-100 database is built under data/bench/ when missing (several minutes).

    python benchmarks/bench_engine.py [--scales 1,100] [--calls 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from cxengine.engine import Engine
from cxengine.store import Store, StoreError

CALLS = {
    "kpi_value": lambda e: e.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4"),
    "kpi_value_by_segment": lambda e: e.kpi_value("nps", brand="cardiovex", market="DE",
                                                  wave="2025-Q4", by=["specialty"]),
    "ranking": lambda e: e.ranking("nps", ta="CARD", market="DE", wave="2025-Q4"),
    "trend": lambda e: e.trend("nps", brand="cardiovex", market="DE"),
    "compare": lambda e: e.compare("nps", dimension="brand", a="cardiovex", b="ventrisol",
                                   market="DE", wave="2025-Q4"),
    "key_drivers": lambda e: e.key_drivers(ta="CARD", market="DE"),
    "explain_change": lambda e: e.explain_change(brand="cardiovex", market="DE",
                                                 from_wave="2025-Q2", to_wave="2025-Q4"),
    "channel_mix": lambda e: e.channel_mix(brand="oncelis", market="FR", wave="2025-Q4"),
    "perception_gap": lambda e: e.perception_gap("nps", company="Helixa"),
    "correlations": lambda e: e.correlations(ta="CARD"),
}
RAW_RATIO = ("kpi_value", "ranking")


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def time_calls(fn, n: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def raw_ms(db: Path, result, n: int) -> float:
    """The same aggregation straight through DuckDB: every statement the analysis ran,
    executed bare (no Python around it), medians summed."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sum(statistics.median(time_calls(
            lambda s=s: con.execute(s["sql"], s["params"]).fetchall(), n))
            for s in result.evidence_of("sql"))
    finally:
        con.close()


def ensure_db(scale: int) -> Path:
    if scale == 1:
        return Path("data/cx.duckdb")
    db = Path(f"data/bench/scale{scale}/cx.duckdb")
    if db.exists():
        try:
            Store(db).close()
            return db
        except StoreError:
            pass  # built by an older version: build it again
    subprocess.run([sys.executable, "benchmarks/bench_generate.py", "--scales", str(scale)],
                   check=True, stdout=subprocess.DEVNULL)
    return db


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,100")
    ap.add_argument("--calls", type=int, default=50)
    args = ap.parse_args()
    report: dict[str, dict] = {}
    for scale in [int(s) for s in args.scales.split(",")]:
        db = ensure_db(scale)
        engine = Engine(db)
        ratings = engine.store.rows("SELECT count(*) AS n FROM brand_ratings")[0]["n"]
        per = {"brand_ratings": ratings}
        for name, fn in CALLS.items():
            ms = time_calls(lambda fn=fn, e=engine: fn(e), args.calls)
            entry = {"p50_ms": round(statistics.median(ms), 2),
                     "p95_ms": round(percentile(ms, 0.95), 2)}
            if name in RAW_RATIO:
                raw = raw_ms(db, fn(engine), args.calls)
                entry["raw_duckdb_ms"] = round(raw, 2)
                entry["overhead_ratio"] = round(entry["p50_ms"] / raw, 2)
            per[name] = entry
        engine.close()
        report[f"scale_{scale}"] = per
        print(json.dumps({f"scale_{scale}": per}), file=sys.stderr)
    report["targets"] = {"kpi_value_ranking_trend_p95_ms": {"scale_1": 50, "scale_100": 500},
                         "key_drivers_explain_change_p95_ms_scale_1": 300,
                         "overhead_ratio_scale_100": 2}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
