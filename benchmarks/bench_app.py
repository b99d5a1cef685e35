"""Time from `streamlit run` to the first answer rendered in Chromium, and the server's peak RSS.

Prints one JSON object. Targets: first answer <= 8 s, peak RSS <= 1.5 GB. After the first
answer a document question ("why", by default) is asked as well, so the peak includes the
embedding model and the index, which load only when documents are first needed. Needs
/usr/bin/chromium and the Playwright Python package; the database and index should already be
built (`make index`), otherwise the first start also times the build.

    .venv/bin/python benchmarks/bench_app.py [--question "..."] [--expect "..."]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGET_FIRST_ANSWER_S = 8.0
TARGET_PEAK_RSS_MB = 1536.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size in MB: psutil when installed, else /proc (VmHWM is
    the kernel's own high-water mark, so no sample can miss a short peak)."""
    try:
        import psutil  # type: ignore[import-not-found]

        info = psutil.Process(pid).memory_info()
        peak = getattr(info, "peak_wset", None) or _proc_kb(pid, "VmHWM") * 1024 or info.rss
        return info.rss / 2**20, peak / 2**20
    except ImportError:
        return _proc_kb(pid, "VmRSS") / 1024, _proc_kb(pid, "VmHWM") / 1024


def _proc_kb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


class PeakSampler(threading.Thread):
    """Samples RSS as a fallback where VmHWM is not available."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            cur, peak = rss_mb(self.pid)
            self.peak = max(self.peak, cur, peak)
            time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--question", default="What is the NPS of Cardiovex in Germany in 2025-Q4?")
    ap.add_argument("--expect", default="Net Promoter Score for Cardiovex")
    ap.add_argument("--then", default="Why did Cardiovex's NPS fall in Germany in 2025-Q4?",
                    help="a document question asked after the first answer ('' to skip)")
    ap.add_argument("--then-expect", default="Cardiovex")
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False"}
    with sync_playwright() as p:
        # The browser starts first so its own start-up is not charged to the app.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
             "true", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        result: dict[str, object] = {"question": args.question}
        try:
            deadline = t0 + args.timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                                timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("streamlit did not start") from None
                    time.sleep(0.05)
            t_healthy = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
            box = page.locator('[data-testid="stChatInputTextArea"]')
            box.wait_for(timeout=args.timeout * 1000)
            t_ready = time.monotonic()
            box.fill(args.question)
            page.locator('[data-testid="stChatInputSubmitButton"]').click()
            answer = page.locator('[data-testid="stChatMessage"]').nth(1)
            answer.get_by_text(args.expect, exact=False).first.wait_for(
                timeout=args.timeout * 1000)
            t_answer = time.monotonic()
            _, first_peak = rss_mb(proc.pid)
            if args.then:
                box.fill(args.then)
                page.locator('[data-testid="stChatInputSubmitButton"]').click()
                then = page.locator('[data-testid="stChatMessage"]').nth(3)
                then.get_by_text(args.then_expect, exact=False).first.wait_for(
                    timeout=args.timeout * 1000)
                result.update(then=args.then,
                              then_answer_s=round(time.monotonic() - t_answer, 2),
                              rss_after_first_answer_mb=round(first_peak, 1))
            time.sleep(0.5)  # let the rerun settle so the peak includes rendering
            _, peak = rss_mb(proc.pid)
            sampler.stop.set()
            sampler.join()
            peak_mb = max(peak, sampler.peak)
            first = t_answer - t0
            result.update(
                server_healthy_s=round(t_healthy - t0, 2),
                page_ready_s=round(t_ready - t0, 2),
                first_answer_s=round(first, 2),
                question_to_answer_s=round(t_answer - t_ready, 2),
                peak_rss_mb=round(peak_mb, 1),
                target_first_answer_s=TARGET_FIRST_ANSWER_S,
                target_peak_rss_mb=TARGET_PEAK_RSS_MB,
                ok=first <= TARGET_FIRST_ANSWER_S and peak_mb <= TARGET_PEAK_RSS_MB,
            )
        finally:
            sampler.stop.set()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            browser.close()
    print(json.dumps(result, indent=2))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
