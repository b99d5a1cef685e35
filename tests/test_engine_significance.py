"""Tests and their warnings: "not significant" is said, "no test" is never read as "not
significant", the paired test pairs raters over any waves, and the base thresholds hold at
their exact boundaries on a real cell.

Expected values are recomputed with pandas / numpy from the sample files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cxengine.engine import Engine
from cxengine.stats import Thresholds
from tests.conftest import RawSample

CELL = {"brand": "cardiovex", "market": "DE", "wave": "2025-Q4"}


def _score(recommend) -> np.ndarray:
    return np.where(recommend >= 9, 100.0, np.where(recommend >= 7, 0.0, -100.0))


def _full_waves(engine: Engine) -> list[str]:
    return engine.waves(full_only=True)


# --- 5. not significant is a warning ---------------------------------------------------------


def test_compare_warns_exactly_when_not_significant(engine: Engine) -> None:
    seen = set()
    waves = _full_waves(engine)
    for a, b in zip(waves, waves[1:], strict=False):
        for brand in ("cardiovex", "ventrisol", "corastin"):
            r = engine.compare("nps", dimension="wave", a=a, b=b, brand=brand, market="DE")
            significant = r.summary["significant"]
            warned = any("not significant at 95%" in w for w in r.warnings)
            assert warned == (significant is False)
            seen.add(significant)
    assert {True, False} <= seen  # both outcomes exercised


def test_trend_lists_its_changes_that_are_not_significant(engine: Engine) -> None:
    trends = (engine.trend("nps", brand=b, market="FR") for b in ("ventrisol", "hemavel"))
    r = next(t for t in trends if any(x["significant"] is False for x in t.evidence_of("test")))
    flat = [t["label"] for t in r.evidence_of("test") if t["significant"] is False]
    warning = next(w for w in r.warnings if "not significant" in w)
    assert all(label in warning for label in flat)
    significant = [t["label"] for t in r.evidence_of("test") if t["significant"]]
    assert not any(f"{label} (" in warning for label in significant)


def test_explain_change_warns_when_the_headline_change_is_not_significant(engine: Engine
                                                                          ) -> None:
    outcomes = {}
    for brand in ("ventrisol", "hemavel", "corastin", "cardiovex"):
        r = engine.explain_change(brand=brand, market="FR", from_wave="2025-Q2",
                                  to_wave="2025-Q4")
        outcomes[brand] = r.summary["significant"]
        warned = any("not significant" in w for w in r.warnings)
        assert warned == (r.summary["significant"] is False)
    assert False in outcomes.values()


def test_trend_says_when_the_brand_launched(engine: Engine, raw: RawSample) -> None:
    life = raw["brand_lifecycle"].query("brand_id == 'dermavance' and market_id == 'FR'")
    order = raw["waves"].set_index("wave_id").sequence
    launched = min(life[life.stage != "prelaunch"].wave_id, key=lambda w: order[w])
    r = engine.trend("nps", brand="dermavance", market="FR")
    assert r.table[0]["wave"] == launched
    assert any("launched in FR" in w and f"starts at {launched}" in w for w in r.warnings)


# --- 6. the paired test over any waves; no common raters is no test ---------------------------


def test_brand_compare_over_all_waves_is_paired_on_common_raters(engine: Engine,
                                                                 raw: RawSample) -> None:
    d = raw.ratings.query("market_id == 'DE'")
    a = d[d.brand_id == "cardiovex"].set_index("respondent_id")
    b = d[d.brand_id == "ventrisol"].set_index("respondent_id")
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    diff, w = _score(both.recommend_b) - _score(both.recommend_a), both.weight_a
    mean = np.average(diff, weights=w)
    se = math.sqrt(np.average((diff - mean) ** 2, weights=w) / (w.sum() ** 2 / (w ** 2).sum()))
    r = engine.compare("nps", dimension="brand", a="cardiovex", b="ventrisol", market="DE")
    test = r.evidence_of("test")[0]
    assert test["test"] == "paired z-test on common raters"
    assert test["detail"]["n_common"] == len(both)
    assert test["statistic"] == pytest.approx(mean / se, rel=1e-9)


def test_brands_of_different_therapy_areas_get_no_test(engine: Engine) -> None:
    r = engine.compare("nps", dimension="brand", a="oncelis", b="cardiovex", market="DE",
                       wave="2025-Q4")
    test = r.evidence_of("test")[0]
    assert test["significant"] is None and test["detail"]["reason"] == "no common raters"
    assert r.summary["significant"] is None
    assert "Oncelis and Cardiovex belong to different therapy areas: no HCP rated both, " \
           "no test" in r.warnings
    assert not any("not significant" in w for w in r.warnings)


def test_company_and_channel_comparisons_say_the_test_is_approximate(engine: Engine) -> None:
    for dimension, a, b in (("company", "Helixa", "Norvaxa"), ("channel", "f2f_rep", "webinar")):
        r = engine.compare("nps", dimension=dimension, a=a, b=b, market="DE", wave="2025-Q4")
        notes = " ".join(e["text"] for e in r.evidence_of("note"))
        assert "approximate" in notes and r.summary["test"]


# --- 10 / 15. thresholds at their boundaries on a real cell ----------------------------------


@pytest.fixture(scope="module")
def cell_base(engine: Engine) -> float:
    return engine.kpi_value("nps", **CELL).values[0].effective_base


def _flags_at(db: Path, thresholds: Thresholds) -> tuple[list[str], list[str]]:
    e = Engine(db, thresholds=thresholds)
    try:
        r = e.kpi_value("nps", **CELL)
        return r.values[0].flags, r.warnings
    finally:
        e.close()


@pytest.mark.parametrize("suppress_at, small_at, flags", [
    (30 / 29.99, 200.0, ["suppressed"]),  # the cell is an effective base of "29.99"
    (1.0, 200.0, ["small_base"]),  # exactly "30": shown
    (0.1, 100 / 99.9, ["small_base"]),  # "99.9" of 100: small base
    (0.1, 1.0, []),  # exactly "100": no flag
])
def test_base_thresholds_at_the_boundary(sample_db: Path, cell_base: float, suppress_at: float,
                                         small_at: float, flags: list[str]) -> None:
    t = Thresholds(suppress_below=cell_base * suppress_at, small_below=cell_base * small_at)
    got, warnings = _flags_at(sample_db, t)
    assert got == flags
    if flags == ["suppressed"]:
        # one decimal, so 29.6 never reads "30 < 30"
        assert any(f"effective base {cell_base:.1f} < {t.suppress_below:g}" in w
                   for w in warnings)
