"""The document corpus: enough of it, well-formed, and every KPI defined."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cxengine.kpis import catalogue
from tests.conftest import ROOT

METHODOLOGY = sorted((ROOT / "data/sample/docs/methodology").glob("*.md"))
REPORTS = sorted((ROOT / "data/sample/reports").glob("*.md"))


def _front(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path.name}: no front matter"
    return yaml.safe_load(text.split("---\n")[1])


def test_at_least_eight_methodology_notes_with_front_matter() -> None:
    assert len(METHODOLOGY) >= 8
    for p in METHODOLOGY:
        front = _front(p)
        assert front["doc_type"] == "methodology" and front["title"], p.name


def test_corpus_has_at_least_25000_words() -> None:
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in METHODOLOGY + REPORTS)
    assert words >= 25_000, words


def test_every_kpi_in_the_catalogue_has_its_section() -> None:
    headings = [line for p in METHODOLOGY for line in p.read_text(encoding="utf-8").splitlines()
                if re.match(r"^#{2,4} ", line)]
    missing = [k for k in catalogue() if not any(f"(`{k}`)" in h for h in headings)]
    assert not missing, f"KPIs without a methodology section: {missing}"


def test_wave_reports_name_brands_and_markets_that_exist(engine) -> None:
    cat = engine.catalogue()
    brands = {b["brand_id"] for b in cat.brands}
    markets = {m["market_id"] for m in cat.markets}
    for p in REPORTS:
        front = _front(p)
        assert set(front["brands"]) <= brands and set(front["markets"]) <= markets, p.name
