"""Wave reports: every figure is the engine's, and the prose states its direction truly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cxengine.reports import PLACEHOLDER, Placeholder, render_placeholder, render_text
from tests.conftest import ROOT

TEMPLATES = sorted((ROOT / "data/sample/reports").glob("*.md"))
DOWN = re.compile(r"\b(fell|falls|fall|down|dropped|drops|drop|lost|loses|declined|decline|"
                  r"slipped|lower|dip|dipped|shed|cut)\b", re.I)
UP = re.compile(r"\b(rose|rises|rise|up|gained|gains|climbed|increased|improved|higher|grew|"
                r"added|lifted)\b", re.I)


def test_one_report_per_wave_with_front_matter(engine) -> None:
    waves = {p.stem for p in TEMPLATES}
    assert waves == set(engine.waves())
    for p in TEMPLATES:
        front = yaml.safe_load(p.read_text(encoding="utf-8").split("---")[1])
        assert front["doc_type"] == "wave_report" and front["wave"] == p.stem


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_every_placeholder_renders(engine, template: Path) -> None:
    text = render_text(engine, template.read_text(encoding="utf-8"), template.name)
    assert "{{" not in text, "a placeholder was not recognised"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_stated_direction_matches_the_computed_change(engine, template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    checked = 0
    for m in PLACEHOLDER.finditer(text):
        if m.group(1) != "abschange":
            continue
        before = text[max(0, m.start() - 70):m.start()]
        down, up = DOWN.findall(before), UP.findall(before)
        if bool(down) == bool(up):
            continue  # no single direction word right before the figure
        p = Placeholder.parse(m)
        signed = render_placeholder(engine, Placeholder("change", p.kpi, p.args))
        assert signed.startswith("-") == bool(down), f"{template.name}: {m.group(0)} after " \
                                                     f"{before!r} is {signed}"
        checked += 1
    assert checked or "abschange" not in text


def test_rendered_reports_quote_engine_values(engine) -> None:
    """The Cardiovex DE NPS quoted in 2025-Q4 is exactly the engine's rounded value."""
    value = engine.kpi_value("nps", brand="cardiovex", market="DE", wave="2025-Q4").values[0]
    line = "{{kpi:nps brand:cardiovex market:DE wave:2025-Q4}}"
    assert render_text(engine, line) == f"{round(value.value):+d}".replace("+0", "0")
