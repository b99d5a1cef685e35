"""`cxassist ask` / `cxassist chat`: JSON contract, context, and no torch for numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main

DB = Path("data/cx.duckdb")
pytestmark = pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")
NUMERIC_Q = "what is the nps of cardiovex in germany in 2025-Q4"


def test_ask_json_is_an_answer() -> None:
    result = CliRunner().invoke(main, ["ask", NUMERIC_Q, "--json", "--db", str(DB)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["route"] == "engine" and data["intent"] == "kpi_value"
    assert data["values"][0]["brand"] == "cardiovex" and data["values"][0]["wave"] == "2025-Q4"


def test_ask_text_and_clarify_options() -> None:
    result = CliRunner().invoke(main, ["ask", "nps of cardiovex", "--db", str(DB)])
    assert result.exit_code == 0
    assert "Which market?" in result.output and "Options: Germany" in result.output


def test_chat_json_keeps_context_one_answer_per_line() -> None:
    lines = "nps of oncelis in france 2025-Q4\nand in germany?\n\nsplit by specialty\n"
    result = CliRunner().invoke(main, ["chat", "--json", "--db", str(DB)], input=lines)
    assert result.exit_code == 0, result.output
    answers = [json.loads(x) for x in result.output.splitlines()]
    assert len(answers) == 3
    assert answers[1]["query"]["markets"] == ["DE"] and answers[1]["query"]["brands"] == [
        "oncelis"]
    assert answers[2]["query"]["by"] == ["specialty"]


def test_chat_brand_option_sets_we() -> None:
    result = CliRunner().invoke(main, ["chat", "--json", "--brand", "corastin", "--db", str(DB)],
                                input="how are we doing in the uk?\n")
    assert json.loads(result.output)["query"]["brands"] == ["corastin"]


def test_numeric_ask_in_a_fresh_process_does_not_import_torch() -> None:
    probe = (
        "import sys, json\n"
        "from assistant.cli import main\n"
        f"main(['ask', {NUMERIC_Q!r}, '--json'], standalone_mode=False)\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'index.retrieval', 'chromadb',"
        " 'langchain', 'langchain_core') if m in sys.modules]\n"
        "print('HEAVY=' + json.dumps(heavy))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, env={"PATH": "", "CXASSIST_DB": str(DB)})
    assert out.returncode == 0, out.stderr
    answer_line, heavy_line = out.stdout.strip().splitlines()[-2:]
    assert json.loads(answer_line)["route"] == "engine"
    assert heavy_line == "HEAVY=[]"
