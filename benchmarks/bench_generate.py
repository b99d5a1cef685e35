"""Generate + ingest speed and memory at several scales; prints JSON.

Targets (issue 2): scale 1 under 20 s, scale 100 under 10 min, peak memory under 4 GB.
Each step runs in its own process so its peak RSS is measured alone.

    python benchmarks/bench_generate.py [--scales 1,10] [--out data/bench]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

STEP = {
    "generate": "from cxengine.sample import generate_sample as g; "
                "r = g({out!r}, scale={scale}); print(sum(r.rows.values()))",
    "ingest": "from cxengine.ingest import ingest; "
              "r = ingest({out!r}, {db!r}); print(sum(r.rows.values()))",
}
# Each step reports its own peak resident memory (KiB on Linux) as its last line.
PEAK = "; import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def run_step(name: str, **kw: object) -> dict[str, float]:
    code = STEP[name].format(**kw) + PEAK
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()
    seconds = time.perf_counter() - started
    rows, peak_kib = int(out[-2]), int(out[-1])
    return {"seconds": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds),
            "peak_rss_mb": round(peak_kib / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--out", default="data/bench")
    args = ap.parse_args()
    report = {}
    for scale in [int(s) for s in args.scales.split(",")]:
        folder = Path(args.out) / f"scale{scale}"
        files, db = folder / "files", folder / "cx.duckdb"
        gen = run_step("generate", out=str(files), scale=scale)
        ing = run_step("ingest", out=str(files), db=str(db))
        report[f"scale_{scale}"] = {"generate": gen, "ingest": ing,
                                    "total_seconds": round(gen["seconds"] + ing["seconds"], 2)}
        print(json.dumps({f"scale_{scale}": report[f"scale_{scale}"]}), file=sys.stderr)
    report["targets"] = {"scale_1_s": 20, "scale_100_s": 600, "peak_rss_mb": 4096}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
