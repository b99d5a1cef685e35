"""The real page in Debian's Chromium: `streamlit run` as a subprocess, three questions typed
into the chat box (a number, a definition, a "why"), answers and evidence tabs checked, and a
screenshot saved under tests/output/; then eight browser sessions asking ten questions each at
the same time against the same server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "tests" / "output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium is absent: `apt-get install -y chromium`"),
    pytest.mark.skipif(not (ROOT / "data/cx.duckdb").exists(),
                       reason="data/cx.duckdb missing: run `make data`"),
]


def start_server(port: int) -> subprocess.Popen[bytes]:
    """`streamlit run streamlit_app.py` headless on `port` (no telemetry, no browser)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
         "true", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("streamlit did not become healthy")


def submit(page, question: str) -> None:  # noqa: ANN001
    """Type `question` into the chat box and send it."""
    page.locator('[data-testid="stChatInputTextArea"]').fill(question)
    page.locator('[data-testid="stChatInputSubmitButton"]').click()


def answer_to(page, n: int, expect: str, timeout_ms: int = 90_000):  # noqa: ANN001
    """The n-th assistant message (from 1), once it shows `expect`."""
    answer = page.locator('[data-testid="stChatMessage"]').nth(2 * n - 1)
    answer.get_by_text(expect, exact=False).first.wait_for(timeout=timeout_ms)
    return answer


def ask(page, question: str, expect: str, n: int, timeout_ms: int = 90_000):  # noqa: ANN001
    """Type `question`, submit, wait for the n-th assistant message containing `expect`."""
    submit(page, question)
    return answer_to(page, n, expect, timeout_ms)


def open_chat(browser, url: str):  # noqa: ANN001
    """A new browser session (own context, so its own Streamlit session) on the chat page."""
    page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stChatInputTextArea"]').wait_for(timeout=120_000)
    return page


def check_sources(answer) -> None:  # noqa: ANN001
    """The Sources tab of the "why" answer: a quoted wave-report passage with its source
    (the answer text quotes inline; only this tab draws a blockquote and a `source:` line)."""
    answer.get_by_role("tab", name="Sources").click()
    answer.get_by_text("source: wave_reports/2025-Q4", exact=False).first.wait_for(
        timeout=10_000)
    quote = answer.locator("blockquote:visible").first
    quote.wait_for(timeout=10_000)
    assert len(quote.inner_text().strip()) > 20, quote.inner_text()


@pytest.fixture(scope="module")
def app_server() -> Iterator[str]:
    port = free_port()
    proc = start_server(port)
    try:
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_three_questions_in_chromium(app_server: str) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = open_chat(browser, app_server)

            number = ask(page, "What is the NPS of Cardiovex in Germany in 2025-Q4?",
                         "Net Promoter Score for Cardiovex, Germany, 2025-Q4", 1)
            for tab in ("Numbers", "Definition", "SQL"):
                assert number.get_by_role("tab", name=tab).count() == 1, tab
            number.get_by_role("tab", name="SQL").click()
            number.locator("code").filter(has_text="SELECT").first.wait_for(timeout=10_000)

            definition = ask(page, "How exactly is NPS computed here?", "promoters", 2)
            assert definition.get_by_role("tab", name="Definition").count() == 1

            why = ask(page, "Why did Cardiovex's NPS fall in Germany in 2025-Q4?",
                      "Cardiovex", 3)
            tabs = [t.inner_text().strip() for t in why.get_by_role("tab").all()]
            assert {"Numbers", "Chart", "Tests", "Sources"} <= set(tabs), tabs
            check_sources(why)
            why.get_by_role("tab", name="Chart").click()
            # Drawn, not just placed: vega-embed renders the chart into a canvas or an svg.
            why.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=20_000)
            page.wait_for_timeout(800)  # let Vega finish drawing before the screenshot
            why.scroll_into_view_if_needed()
            why.screenshot(path=str(OUTPUT / "why_answer.png"))
            page.screenshot(path=str(OUTPUT / "conversation.png"), full_page=True)
            assert "Traceback" not in page.content()
        finally:
            browser.close()


# Ten questions across the intents, each with words its rendered answer must show.
SESSION_QUESTIONS = [
    ("What is the NPS of Cardiovex in Germany in 2025-Q4?", "Net Promoter Score for Cardiovex"),
    ("How exactly is NPS computed here?", "promoters"),
    ("Why did Cardiovex's NPS fall in Germany in 2025-Q4?", "Cardiovex"),
    ("Rank cardiology brands by NPS in Germany in 2025-Q4", "ranking"),
    ("Show the NPS trend over time for Oncelis in France", "Oncelis"),
    ("Which drivers matter most for recommendation in oncology?", "Oncology"),
    ("Which channel gives Cardiovex the best experience in Germany in 2025-Q4?", "reach"),
    ("Compare Cardiovex NPS in Germany vs France in 2025-Q4", "France"),
    ("What does channel reach mean?", "reach"),
    ("What will the weather be in Paris tomorrow?", "benchmark"),
]
SESSIONS = 8


def test_eight_sessions_at_once(app_server: str) -> None:
    """Eight browser sessions, each asking the ten questions (rotated, so different questions
    run side by side); each turn, every session sends before any answer is awaited, so eight
    questions are in flight on the one server. The Playwright sync API is not thread-safe,
    hence one thread driving eight contexts rather than eight threads."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pages = [open_chat(browser, app_server) for _ in range(SESSIONS)]
            for turn in range(len(SESSION_QUESTIONS)):
                asked = [SESSION_QUESTIONS[(s + turn) % len(SESSION_QUESTIONS)]
                         for s in range(SESSIONS)]
                for page, (question, _) in zip(pages, asked, strict=True):
                    submit(page, question)
                for s, (page, (question, expect)) in enumerate(zip(pages, asked, strict=True)):
                    answer = answer_to(page, turn + 1, expect, timeout_ms=180_000)
                    assert "went wrong" not in answer.inner_text(), (s, question)
            for page in pages:  # each session holds its own ten turns, nobody else's
                assert page.locator('[data-testid="stChatMessage"]').count() == 20
                assert "Traceback" not in page.content()
        finally:
            browser.close()
