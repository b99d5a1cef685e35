"""Wave reports: every figure is the engine's, and the prose states its direction, its
significance and its rankings truly."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from cxengine.engine import Engine
from cxengine.reports import (
    PLACEHOLDER,
    Placeholder,
    ReportError,
    render_placeholder,
    render_text,
)
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


def _shown_change(a: float, b: float, decimals: int) -> str:
    """A change as the note on significance and bases states it: from unrounded values, at
    the display precision unless that contradicts the two levels as displayed."""
    diff = b - a
    shown = float(f"{b:.{decimals}f}") - float(f"{a:.{decimals}f}")
    if f"{abs(diff):.{decimals}f}" != f"{abs(shown):.{decimals}f}":
        decimals += 1
    return f"{abs(diff):.{decimals}f}"


def test_a_stated_change_never_contradicts_the_levels_shown(engine, raw) -> None:
    from tests.conftest import weighted_nps

    r = raw.ratings
    cell = r[(r.brand_id == "cardiovex") & (r.market_id == "DE")]
    reached = set(raw["channel_interactions"].query(
        "brand_id == 'cardiovex' and channel_id == 'f2f_rep'")["respondent_id"])
    nps, reach = {}, {}
    for w in ("2025-Q2", "2025-Q4"):
        d = cell[cell.wave_id == w]
        nps[w] = weighted_nps(d)
        reach[w] = 100 * float((d["weight"] * d["respondent_id"].isin(reached)).sum()
                               / d["weight"].sum())
    args = "brand:cardiovex market:DE from:2025-Q2 to:2025-Q4"
    for kpi, levels, extra in (("nps", nps, ""), ("channel_reach", reach, " channel:f2f_rep")):
        stated = render_text(engine, f"{{{{abschange:{kpi} {args}{extra}}}}}")
        assert stated == _shown_change(levels["2025-Q2"], levels["2025-Q4"], 0), kpi
    assert _shown_change(22.4, 31.6, 0) == "9.2"  # the note's example: +22 -> +32
    assert _shown_change(55.46, 29.94, 0) == "25.5" and _shown_change(13.8, -1.3, 0) == "15"
    for template in TEMPLATES:
        assert "computed from unrounded figures" in template.read_text(encoding="utf-8"), \
            f"{template.name} lacks the rounding note"


# --- ranking placeholders ----------------------------------------------------------------


def test_rank_placeholder_renders_the_position(engine, raw) -> None:
    from tests.conftest import weighted_nps

    r = raw.ratings
    cell = r[(r.ta_id == "IMM") & (r.market_id == "DE") & (r.wave_id == "2026-Q2")]
    order = list(cell.groupby("brand_id").apply(weighted_nps).sort_values(ascending=False).index)
    for i, brand in enumerate(order, start=1):
        line = f"{{{{rank:nps brand:{brand} ta:IMM market:DE wave:2026-Q2}}}}"
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(i, "th")
        assert render_text(engine, line) == f"{i}{suffix} of {len(order)}"
    last = order[-1]
    assert render_text(engine, f"{{{{rank:nps brand:{last} ta:IMM market:DE wave:2026-Q2 "
                               f"expect:last}}}}") == f"{len(order)}th of {len(order)}"


@pytest.mark.parametrize("line", [
    "{{rank:nps brand:BRAND ta:IMM market:DE wave:2026-Q2 expect:first}}",
    "{{rank:nps brand:BRAND ta:IMM market:DE wave:2026-Q2 expect:2}}",
    "{{leader:nps ta:IMM market:DE wave:2026-Q2 expect:BRAND}}",
])
def test_a_ranking_claim_the_engine_contradicts_is_refused(engine, line: str) -> None:
    order = engine.ranking("nps", ta="IMM", market="DE", wave="2026-Q2").summary["order"]
    with pytest.raises(ReportError, match="expects"):
        render_text(engine, line.replace("BRAND", order[-1]), "x.md")


def test_rank_expectation_must_be_a_position(engine) -> None:
    with pytest.raises(ReportError, match="first, last or a position"):
        render_text(engine, "{{rank:nps brand:psorilex ta:IMM market:DE wave:2026-Q2 "
                            "expect:top}}")


# --- qualitative claims about order and leadership ------------------------------------------
#
# Every sentence of a template that uses ranking words must be covered: by `leader` placeholders
# (when "leader" is its only ranking word), by a `rank`/`leader` placeholder with `expect:`, by
# a claim below that checks it against the engine, or by NOT_CLAIMS (ranking words that state
# no benchmark figure, with the reason).

MARKETS = ("DE", "FR", "UK", "ES", "IT")
FULL_WAVES = ("2024-Q2", "2024-Q4", "2025-Q2", "2025-Q4", "2026-Q2")
RANKING = re.compile(
    r"\b(leads?|leading|leaders?|leadership|below|above|ahead|behind|trails?|trailing|"
    r"outperforms?|beats?|better|worse|higher|highest|lower|lowest|larger|largest|smaller|"
    r"smallest|best|worst|weakest|strongest|widest|broadest|narrowest|narrower|broader|wider|"
    r"closest|clearest|most|least|top|bottom|second place|first place|last place|"
    r"more than any|stands? out)\b", re.I)


def order(e, kpi: str, ta: str, market: str, wave: str, **f) -> list[str]:
    return list(e.ranking(kpi, ta=ta, market=market, wave=wave, **f).summary["order"])


def first_in(e, brand: str, kpi: str, ta: str, wave: str, markets=MARKETS, **f) -> bool:
    return all(order(e, kpi, ta, m, wave, **f)[0] == brand for m in markets)


def last_in(e, brand: str, kpi: str, ta: str, wave: str, markets=MARKETS, **f) -> bool:
    return all(order(e, kpi, ta, m, wave, **f)[-1] == brand for m in markets)


def value(e, kpi: str, wave: str, **f) -> float:
    (v,) = e.kpi_value(kpi, wave=wave, **f).values
    return v.value


def cells(e, kpi: str, wave: str, by=("brand", "market"), **f) -> dict[tuple, float]:
    return {tuple(getattr(v, b) for b in by): v.value
            for v in e.kpi_value(kpi, by=list(by), wave=wave, **f).values if v.value is not None}


def top(values: dict[tuple, float], n: int) -> list[tuple]:
    return sorted(values, key=values.__getitem__, reverse=True)[:n]


def change(e, kpi: str, a: str, b: str, **f) -> tuple[float, bool]:
    s = e.compare(kpi, dimension="wave", a=a, b=b, **f).summary
    return s["difference"], s["significant"]


def impact(e, wave: str, **f) -> dict[str, float]:
    return {c: v for (c,), v in cells(e, "channel_impact", wave, by=("channel",), **f).items()}


def top_channel(values: dict[str, float], n: int) -> list[str]:
    return sorted(values, key=values.__getitem__, reverse=True)[:n]


def role_pattern(e, wave: str) -> bool:
    """MSL video clearly above rep video, face-to-face parity between the roles."""
    i = impact(e, wave)
    return i["msl_video"] - i["remote_rep"] >= 0.5 and abs(i["msl_f2f"] - i["f2f_rep"]) < 0.3


def lowest_channel(e, wave: str) -> str:
    i = impact(e, wave)
    return min(i, key=i.__getitem__)


def unused_by_brand(e, wave: str) -> list[float]:
    return sorted(cells(e, "content_unused_pct", wave, by=("brand",)).values())


def base_ratio(e, a: str, b: str) -> float:
    """Total brand-rating base of wave a over that of wave b."""
    def total(w: str) -> float:
        return sum(v.base for v in e.kpi_value("nps", by=["brand", "market"], wave=w).values)
    return total(a) / total(b)


def mean_nps_se(e, wave: str) -> float:
    vals = e.kpi_value("nps", by=["brand", "market"], wave=wave).values
    return float(np.mean([(v.ci_high - v.ci_low) / 2 for v in vals if v.ci_high is not None]))


def cx_share(e, **kw) -> float:
    return e.key_drivers(**kw).summary["cx_share"]


def corr(e, key: str, wave: str | None = None) -> float:
    return e.correlations(wave=wave).summary[key]


def share_not_significant(e, a: str, b: str) -> float:
    pairs = [k for k in cells(e, "nps", b) if k in cells(e, "nps", a)]
    flags = [change(e, "nps", a, b, brand=br, market=m)[1] for br, m in pairs]
    return 1 - sum(flags) / len(flags)


def gap(e, wave: str, **kw) -> dict:
    return e.perception_gap("nps", wave=wave, **kw).summary


def leaders_kept(e, a: str, b: str) -> int:
    return sum(order(e, "nps", ta, m, a)[0] == order(e, "nps", ta, m, b)[0]
               for ta in ("ONC", "CARD", "IMM") for m in MARKETS)


def breadth_driver_order(e, wave: str) -> list[str]:
    breadth = cells(e, "omnichannel_breadth", wave)
    r = {}
    for d in ("knowledge", "ease", "responsiveness", "respect_time", "personalisation",
              "content_relevance", "seamless"):
        drv = cells(e, f"driver:{d}", wave)
        keys = [k for k in breadth if k in drv]
        r[d] = float(np.corrcoef([breadth[k] for k in keys], [drv[k] for k in keys])[0, 1])
    return sorted(r, key=r.__getitem__, reverse=True)


def relative_gap_near_zero_is_widest(e, wave: str) -> bool:
    rows = e.perception_gap("nps", wave=wave).table
    near = [r["relative_gap"] for r in rows if abs(r["hcp_value"]) < 5]
    far = [r["relative_gap"] for r in rows if abs(r["hcp_value"]) >= 20]
    return bool(near) and np.mean(near) > 2 * np.mean(far)


def lead(e, brand: str, kpi: str, ta: str, market: str, wave: str) -> float:
    ranked = e.ranking(kpi, ta=ta, market=market, wave=wave).table
    mine = next(r["value"] for r in ranked if r["brand"] == brand)
    return mine - max(r["value"] for r in ranked if r["brand"] != brand and r.get("rank"))


def cx_change_extremes(e) -> tuple[tuple, tuple]:
    a, b = cells(e, "cx_index", "2025-Q2"), cells(e, "cx_index", "2026-Q2")
    delta = {k: b[k] - a[k] for k in a if k in b}
    return max(delta, key=delta.__getitem__), min(delta, key=delta.__getitem__)


def estimate_vs_hcp(e, brand: str, market: str, wave: str) -> tuple[float, float]:
    (row,) = e.perception_gap("nps", brand=brand, market=market, wave=wave).table
    return row["internal_estimate"], row["hcp_value"]


def cardiovex_estimate_allowed_for_part_of_the_fall(e) -> bool:
    est2, hcp2 = estimate_vs_hcp(e, "cardiovex", "DE", "2025-Q2")
    est4, hcp4 = estimate_vs_hcp(e, "cardiovex", "DE", "2025-Q4")
    return est4 < est2 and est2 - est4 < hcp2 - hcp4 and est4 > hcp4


CLAIMS: list[tuple[str, str, Callable[[Engine], bool]]] = [
    # 2024-Q2
    ("2024-Q2", "Growth-stage brands (Lunavia, Hemavel) sit well below",
     lambda e: last_in(e, "lunavia", "nps", "ONC", "2024-Q2")
     and last_in(e, "hemavel", "nps", "CARD", "2024-Q2")),
    ("2024-Q2", "Face-to-face rep contact is the most widely reached channel for every brand, "
                "and it is also among the best rated",
     lambda e: all(top(cells(e, "channel_reach", "2024-Q2", by=("channel",), brand=b), 1)
                   == [("f2f_rep",)] for b in {b for b, _ in cells(e, "nps", "2024-Q2")})
     and "f2f_rep" in top_channel(impact(e, "2024-Q2"), 3)),
    ("2024-Q2", "MSL video calls are rated clearly higher than video calls with reps",
     lambda e: role_pattern(e, "2024-Q2")),
    ("2024-Q2", "Medical beats sales in remote channels, not in person",
     lambda e: role_pattern(e, "2024-Q2")),
    ("2024-Q2", "Most content is never seen",
     lambda e: np.median(unused_by_brand(e, "2024-Q2")) > 50),
    ("2024-Q2", "the large majority of content assets reach fewer than one rater in ten",
     lambda e: float(np.median(unused_by_brand(e, "2024-Q2"))) >= 200 / 3),
    ("2024-Q2", "The larger part of what explains an HCP's willingness to recommend comes from "
                "the experience drivers",
     lambda e: cx_share(e, wave="2024-Q2") > 50),
    ("2024-Q2", "brands that reach HCPs through more channels tend to have a higher CX index",
     lambda e: corr(e, "omnichannel_breadth~cx_index", "2024-Q2") > 0.5),
    ("2024-Q2", "Spain and Italy rate more generously than the other three markets",
     lambda e: set(top(cells(e, "nps", "2024-Q2", by=("market",)), 2)) == {("ES",), ("IT",)}),
    ("2024-Q2", "sits in the lower half of the ranking in every market",
     lambda e: all(order(e, "nps", "ONC", m, "2024-Q2").index("tumorin") >= 2 for m in MARKETS)),
    ("2024-Q2", "is narrower than that of the incumbents",
     lambda e: last_in(e, "lunavia", "omnichannel_breadth", "ONC", "2024-Q2", markets=("DE",))),
    ("2024-Q2", "is among the highest of any brand in the benchmark",
     lambda e: ("cardiovex", "DE")
     in top(cells(e, "channel_reach", "2024-Q2", channel="f2f_rep"), 5)),
    ("2024-Q2", "hold second and third place in every market, Corastin ahead in all five and the "
                "two close only in Spain and Italy",
     lambda e: all(order(e, "nps", "CARD", m, "2024-Q2")[1:3] == ["corastin", "ventrisol"]
                   for m in MARKETS)
     and all((abs(value(e, "nps", "2024-Q2", brand="corastin", market=m)
                  - value(e, "nps", "2024-Q2", brand="ventrisol", market=m)) < 5)
             == (m in ("ES", "IT")) for m in MARKETS)),
    ("2024-Q2", "trails in every market",
     lambda e: last_in(e, "hemavel", "nps", "CARD", "2024-Q2")),
    ("2024-Q2", "Psorilex has the broadest engagement footprint of the three incumbents",
     lambda e: first_in(e, "psorilex", "omnichannel_breadth", "IMM", "2024-Q2")),
    ("2024-Q2", "large enough to be visible in almost every market",
     lambda e: sum(impact(e, "2024-Q2", market=m)["msl_video"]
                   > impact(e, "2024-Q2", market=m)["remote_rep"] for m in MARKETS) >= 4),
    ("2024-Q2", "most of the explained variance in recommendation comes from the seven CX drivers",
     lambda e: cx_share(e, wave="2024-Q2") > 50),
    ("2024-Q2", "Without exception the internal figures were higher, and in most cases much higher",
     lambda e: gap(e, "2024-Q2")["share_overshooting"] == 1.0
     and np.mean([r["gap"] >= 5 for r in e.perception_gap("nps", wave="2024-Q2").table]) > 0.5),
    ("2024-Q2", "with smaller bases this shows up as volatility between waves",
     lambda e: all(min(e.ranking("nps", ta="ONC", market=m, wave="2024-Q2").table,
                       key=lambda r: r["base"])["brand"] == "lunavia" for m in MARKETS)),
    ("2024-Q2", "also tend to have higher CX index scores, and the relationship holds across "
                "markets and therapy areas",
     lambda e: corr(e, "omnichannel_breadth~cx_index", "2024-Q2") > 0.5
     and all(e.correlations(ta=ta, wave="2024-Q2").summary["omnichannel_breadth~cx_index"] > 0
             for ta in ("ONC", "CARD", "IMM"))),
    # 2024-Q4
    ("2024-Q4", "most brand scores moved within the range that sampling noise alone would produce",
     lambda e: share_not_significant(e, "2024-Q2", "2024-Q4") > 0.5),
    ("2024-Q4", "the leaders of the baseline wave are largely still in place",
     lambda e: leaders_kept(e, "2024-Q2", "2024-Q4") >= 12),
    ("2024-Q4", "Rep-triggered emails remain the lowest-rated channel in the benchmark",
     lambda e: lowest_channel(e, "2024-Q2") == lowest_channel(e, "2024-Q4") == "rep_email"),
    ("2024-Q4", "MSL video calls remain among the best-rated channels of all, consistently above "
                "rep video calls, while face-to-face visits show no real difference",
     lambda e: "msl_video" in top_channel(impact(e, "2024-Q4"), 3)
     and role_pattern(e, "2024-Q2") and role_pattern(e, "2024-Q4")),
    ("2024-Q4", "score better on every driver, seamlessness and personalisation included",
     lambda e: breadth_driver_order(e, "2024-Q4")[:2] == ["knowledge", "seamless"]),
    ("2024-Q4", "The drivers taken together continue to explain most of the modelled variance",
     lambda e: cx_share(e, wave="2024-Q4") > 50),
    ("2024-Q4", "companies continue to expect a clearly better NPS than HCPs give them",
     lambda e: gap(e, "2024-Q4")["mean_gap"] > gap(e, "2024-Q2")["mean_gap"] - 1
     and gap(e, "2024-Q4")["relative_gap"] >= 0.5),
    ("2024-Q4", "the relative gap is widest where the HCP score is close to zero",
     lambda e: relative_gap_near_zero_is_widest(e, "2024-Q4")),
    ("2024-Q4", "Most changes between the two waves are within sampling noise",
     lambda e: share_not_significant(e, "2024-Q2", "2024-Q4") > 0.5),
    # 2025-Q2
    ("2025-Q2", "it starts below all three established biologics in both markets",
     lambda e: last_in(e, "dermavance", "nps", "IMM", "2025-Q2", markets=("DE", "UK"))
     and all(order(e, "nps", "IMM", m, "2025-Q2")[-2] == "immunel" for m in ("DE", "UK"))),
    ("2025-Q2", "is the highest of the four brands in both markets",
     lambda e: first_in(e, "dermavance", "product_score", "IMM", "2025-Q2", markets=("DE", "UK"))),
    ("2025-Q2", "medical information requests take longer than HCPs are used to",
     lambda e: last_in(e, "dermavance", "driver:responsiveness", "IMM", "2025-Q2",
                       markets=("DE", "UK"))),
    ("2025-Q2", "MSL video calls outperform rep video calls while face-to-face contact shows "
                "parity between roles, most content assets go unseen, and experience drivers "
                "explain the larger part of recommendation",
     lambda e: role_pattern(e, "2025-Q2") and np.median(unused_by_brand(e, "2025-Q2")) > 50
     and cx_share(e, wave="2025-Q2") > 50),
    ("2025-Q2", "rests on the rep relationship more than any other brand's",
     lambda e: max(cells(e, "channel_reach", "2025-Q2", by=("brand",), market="DE",
                         channel="f2f_rep").items(), key=lambda kv: kv[1])[0] == ("cardiovex",)),
    ("2025-Q2", "where the seven drivers share the CX part of recommendation fairly evenly",
     lambda e: (lambda s: min(s.values()) >= 0.6 * max(s.values())
                and min(s["knowledge"], s["respect_time"]) >= 5)(
         {r["predictor"]: r["importance_pct"]
          for r in e.key_drivers(ta="CARD", wave="2025-Q2").table if r["kind"] == "cx_driver"})),
    ("2025-Q2", "remotely, MSL video calls score clearly above rep video calls",
     lambda e: role_pattern(e, "2025-Q2")),
    ("2025-Q2", "rep emails remain the weakest channel",
     lambda e: lowest_channel(e, "2025-Q2") == "rep_email"),
    ("2025-Q2", "the typical brand has most of its assets seen by fewer than one in ten raters, "
                "and this has not changed in three waves",
     lambda e: all(np.median(unused_by_brand(e, w)) > 50
                   for w in ("2024-Q2", "2024-Q4", "2025-Q2"))),
    ("2025-Q2", "The correlation between omnichannel performance and the CX index remains strong",
     lambda e: corr(e, "omnichannel_performance~cx_index", "2025-Q2") >= 0.6),
    ("2025-Q2", "account for the larger part of the explained variance",
     lambda e: cx_share(e, wave="2025-Q2") > 50),
    ("2025-Q2", "on bases smaller than those of the incumbents",
     lambda e: all(min(e.ranking("nps", ta="IMM", market=m, wave="2025-Q2").table,
                       key=lambda r: r["base"])["brand"] == "dermavance" for m in ("DE", "UK"))),
    ("2025-Q2", "Its bases are smaller than the incumbents' in this wave",
     lambda e: all(min(e.ranking("nps", ta="IMM", market=m, wave="2025-Q2").table,
                       key=lambda r: r["base"])["brand"] == "dermavance" for m in ("DE", "UK"))),
    ("2025-Q2", "every company's internal NPS estimates are above what HCPs report on average",
     lambda e: len(gap(e, "2025-Q2")["by_company"]) == 6
     and all(c["mean_gap"] > 0 for c in gap(e, "2025-Q2")["by_company"].values())),
    ("2025-Q2", "most movements are within the range expected from two independent samples",
     lambda e: share_not_significant(e, "2024-Q4", "2025-Q2") > 0.5),
    ("2025-Q2", "a smaller and self-selected group",
     lambda e: all(min(e.ranking("nps", ta="IMM", market=m, wave="2025-Q2").table,
                       key=lambda r: r["base"])["brand"] == "dermavance" for m in ("DE", "UK"))),
    ("2025-Q2", "for Immunel, the lowest-rated incumbent",
     lambda e: all(order(e, "nps", "IMM", m, "2025-Q2")[-2:] == ["immunel", "dermavance"]
                   for m in ("DE", "UK"))),
    # 2025-Q3
    ("2025-Q3", "most brand scores are within the range expected from a smaller sample",
     lambda e: share_not_significant(e, "2025-Q2", "2025-Q3") > 0.5),
    ("2025-Q3", "company estimates sit well above HCP results across the board",
     lambda e: gap(e, "2025-Q3")["share_overshooting"] >= 0.9),
    ("2025-Q3", "in a light wave most brand values carry the flag",
     lambda e: np.mean(["small_base" in v.flags for v in e.kpi_value(
         "nps", by=["brand", "market"], wave="2025-Q3").values]) > 0.5),
    ("2025-Q3", "on a smaller sample",
     lambda e: 0.4 <= base_ratio(e, "2025-Q3", "2025-Q2") <= 0.65),
    ("2025-Q3", "Light-wave bases are roughly half those of a full wave",
     lambda e: 0.4 <= base_ratio(e, "2025-Q3", "2025-Q2") <= 0.65),
    ("2025-Q3", "so confidence intervals are wider",
     lambda e: mean_nps_se(e, "2025-Q3") > mean_nps_se(e, "2025-Q2")),
    ("2025-Q3", "Smaller bases and significance in the light wave",
     lambda e: base_ratio(e, "2025-Q3", "2025-Q2") < 0.65),
    # 2025-Q4
    ("2025-Q4", "Lunavia remains the smallest brand and the one with the narrowest channel mix",
     lambda e: last_in(e, "lunavia", "patient_share", "ONC", "2025-Q4")
     and last_in(e, "lunavia", "omnichannel_breadth", "ONC", "2025-Q4")),
    ("2025-Q4", "with a lighter programme than in Germany and the UK",
     lambda e: value(e, "omnichannel_breadth", "2025-Q4", brand="dermavance", market="FR")
     < min(value(e, "omnichannel_breadth", "2025-Q4", brand="dermavance", market=m)
           for m in ("DE", "UK"))),
    ("2025-Q4", "MSL video calls are rated well above rep video calls, while face-to-face visits "
                "show parity",
     lambda e: role_pattern(e, "2025-Q4")),
    ("2025-Q4", "rep emails are still the lowest-rated channel",
     lambda e: lowest_channel(e, "2025-Q4") == "rep_email"),
    ("2025-Q4", "Across brands, most of each library is effectively invisible to HCPs",
     lambda e: min(unused_by_brand(e, "2025-Q4")) > 50),
    ("2025-Q4", "moves closely with the CX index, and the CX index in turn with NPS",
     lambda e: corr(e, "omnichannel_performance~cx_index", "2025-Q4") >= 0.6
     and corr(e, "cx_index~nps", "2025-Q4") >= 0.6),
    ("2025-Q4", "Cardiovex in Germany lost much of its face-to-face channel and its CX index fell "
                "with it, while Oncelis in France and Dermavance in Germany and the UK added "
                "channels and gained on the drivers those channels feed",
     lambda e: change(e, "cx_index", "2025-Q2", "2025-Q4", brand="cardiovex", market="DE")[0] < 0
     and change(e, "omnichannel_breadth", "2025-Q2", "2025-Q4", brand="oncelis", market="FR")[0]
     > 0 and change(e, "driver:ease", "2025-Q2", "2025-Q4", brand="oncelis", market="FR")[0] > 0
     and all(change(e, k, "2025-Q2", "2025-Q4", brand="dermavance", market=m)[0] > 0
             for k in ("omnichannel_breadth", "driver:seamless") for m in ("DE", "UK"))),
    ("2025-Q4", "attributes most of the explained variance in recommendation to the CX drivers",
     lambda e: cx_share(e, wave="2025-Q4") > 50),
    ("2025-Q4", "Internal NPS estimates remain well above HCP scores",
     lambda e: gap(e, "2025-Q4")["relative_gap"] >= 0.5),
    ("2025-Q4", "allowed for part of the fall but still sat above what HCPs reported",
     cardiovex_estimate_allowed_for_part_of_the_fall),
    ("2025-Q4", "Corastin is back at its pre-shortage level in the UK",
     lambda e: (lambda d: abs(d[0]) < 5 and not d[1])(
         change(e, "nps", "2025-Q2", "2025-Q4", brand="corastin", market="UK"))),
    ("2025-Q4", "Content: most assets still go unseen",
     lambda e: np.median(unused_by_brand(e, "2025-Q4")) > 50),
    # 2026-Q2
    ("2026-Q2", "Dermavance now leads immunology in Germany and the UK",
     lambda e: first_in(e, "dermavance", "nps", "IMM", "2026-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "A year after launching below every incumbent",
     lambda e: last_in(e, "dermavance", "nps", "IMM", "2025-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "It has the broadest omnichannel footprint in the therapy area",
     lambda e: max(cells(e, "omnichannel_breadth", "2026-Q2", ta="IMM").items(),
                   key=lambda kv: kv[1])[0] == ("dermavance", "DE")),
    ("2026-Q2", "Cardiovex has not recovered in Germany",
     lambda e: (lambda d: d[0] < 0 and d[1])(
         change(e, "nps", "2025-Q2", "2026-Q2", brand="cardiovex", market="DE"))),
    ("2026-Q2", "Corastin is back to normal in the UK",
     lambda e: not change(e, "nps", "2025-Q2", "2026-Q2", brand="corastin", market="UK")[1]),
    ("2026-Q2", "For the first time in the programme Cardiovex is not the cardiology leader",
     lambda e: all(order(e, "nps", "CARD", "DE", w)[0] == "cardiovex"
                   for w in ("2024-Q2", "2024-Q4", "2025-Q2", "2025-Q3", "2025-Q4"))
     and not e.compare("nps", dimension="brand", a="cardiovex", b="corastin", market="DE",
                       wave="2026-Q2").summary["significant"]),
    ("2026-Q2", "it still leads cardiology in the other four markets",
     lambda e: first_in(e, "cardiovex", "nps", "CARD", "2026-Q2",
                        markets=("FR", "UK", "ES", "IT"))),
    ("2026-Q2", "Dermavance becomes the immunology leader in Germany and the UK",
     lambda e: first_in(e, "dermavance", "nps", "IMM", "2026-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "Dermavance entered the benchmark in 2025-Q2 below all three incumbents",
     lambda e: last_in(e, "dermavance", "nps", "IMM", "2025-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "The product was well regarded from the start",
     lambda e: first_in(e, "dermavance", "product_score", "IMM", "2025-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "Meridia built the broadest channel programme in immunology and has kept "
                "widening it",
     lambda e: all(first_in(e, "dermavance", "omnichannel_breadth", "IMM", w, markets=("DE", "UK"))
                   for w in ("2025-Q4", "2026-Q2"))
     and all(value(e, "omnichannel_breadth", a, brand="dermavance", market=m)
             < value(e, "omnichannel_breadth", b, brand="dermavance", market=m)
             for m in ("DE", "UK") for a, b in (("2025-Q2", "2025-Q4"), ("2025-Q4", "2026-Q2")))),
    ("2026-Q2", "the closest incumbent on this measure",
     lambda e: order(e, "omnichannel_breadth", "IMM", "UK", "2026-Q2")[:2]
     == ["dermavance", "psorilex"]),
    ("2026-Q2", "are the highest in German immunology",
     lambda e: first_in(e, "dermavance", "driver:seamless", "IMM", "2026-Q2", markets=("DE",))
     and first_in(e, "dermavance", "driver:personalisation", "IMM", "2026-Q2", markets=("DE",))
     and abs(value(e, "cx_index", "2026-Q2", brand="dermavance", market="DE")
             - value(e, "cx_index", "2026-Q2", brand="psorilex", market="DE")) < 2),
    ("2026-Q2", "is solid but not the differentiator",
     lambda e: lead(e, "dermavance", "product_score", "IMM", "DE", "2026-Q2")
     < lead(e, "dermavance", "driver:seamless", "IMM", "DE", "2026-Q2")),
    ("2026-Q2", "Now the IMM leader in both markets",
     lambda e: first_in(e, "dermavance", "nps", "IMM", "2026-Q2", markets=("DE", "UK"))),
    ("2026-Q2", "still well below its pre-cut level",
     lambda e: (lambda d: d[0] <= -5 and d[1])(
         change(e, "nps", "2025-Q2", "2026-Q2", brand="cardiovex", market="DE"))),
    ("2026-Q2", "After five full waves the role pattern is one of the most stable findings",
     lambda e: all(role_pattern(e, w) for w in FULL_WAVES)),
    ("2026-Q2", "Remotely, MSL video calls are rated clearly higher than rep video calls",
     lambda e: role_pattern(e, "2026-Q2")),
    ("2026-Q2", "Even the brands with the broadest channel programmes have most of their library "
                "unseen",
     lambda e: all(value(e, "content_unused_pct", "2026-Q2", brand="dermavance", market=m) > 50
                   for m in ("DE", "UK"))),
    ("2026-Q2", "The remote contacts HCPs rate highest are the medical ones, MSL video calls and "
                "medical information requests",
     lambda e: set(top_channel({c: v for c, v in impact(e, "2026-Q2").items()
                                if c not in ("f2f_rep", "msl_f2f", "congress")}, 2))
     == {"msl_video", "med_info"}),
    ("2026-Q2", "Dermavance is the clearest demonstration, and Cardiovex in Germany the clearest "
                "counter-example",
     lambda e: (lambda up, down: up[0] == "dermavance" and down == ("cardiovex", "DE"))(
         *cx_change_extremes(e))),
    ("2026-Q2", "omnichannel performance correlates strongly with the CX index, and the CX index "
                "with NPS and patient share",
     lambda e: min(corr(e, k) for k in ("omnichannel_performance~cx_index", "cx_index~nps",
                                        "cx_index~patient_share")) >= 0.6),
    ("2026-Q2", "assigns most of the explained variance in recommendation to the CX drivers",
     lambda e: cx_share(e, wave="2026-Q2") > 50),
    ("2026-Q2", "it is the larger lever on recommendation that they actually control",
     lambda e: cx_share(e, wave="2026-Q2") > 50),
    ("2026-Q2", "The perception gap persists across all six companies",
     lambda e: len(gap(e, "2026-Q2")["by_company"]) == 6
     and all(c["mean_gap"] > 0 for c in gap(e, "2026-Q2")["by_company"].values())),
    ("2026-Q2", "Internal NPS estimates still exceed HCP results by a wide margin on average",
     lambda e: gap(e, "2026-Q2")["relative_gap"] >= 0.5),
    ("2026-Q2", "Meridia asked how durable Dermavance's lead is",
     lambda e: first_in(e, "dermavance", "nps", "IMM", "2026-Q2", markets=("DE", "UK"))),
]

# Ranking words that state no benchmark figure (in any report), with the reason.
NOT_CLAIMS: dict[str, str] = {
    "effective base below 30": "the suppression rule, not a result",
    "stand out from the baseline": "introduces a list of findings",
    "Three findings stand out": "introduces a list of findings",
    "convert growing awareness into better scores": "a question to watch, not a result",
    "the pattern is best read across the whole benchmark": "reading advice",
    "at least one more wave": "what a label change needs, not a ranking",
    "at least temporarily": "what GPs did during the shortage",
    "ahead of launch": "timing, not a ranking",
    "looking ahead to": "timing, not a ranking",
    "take most of next year": "what oncologists expect",
    "new, larger territories": "Helixa's reorganisation",
    "satisfaction (top-two-box and mean)": "a KPI's name",
    "The mechanism behind": "not a ranking",
    "the effect may be smaller where ease was not the problem": "our caution to Norvaxa",
    "routine practice in most centres": "what oncologists said",
    "Leaders are determined among brands": "the leader rule",
    "falls below the small-base threshold": "the flagging rule, not a result",
    "single most useful output": "what clients said at the debrief",
    "That is the strongest argument": "the argument the findings make, not a ranking",
    "focused on the largest centres": "Meridia's account of its medical team",
    "the therapy area with the broadest prescriber base": "questionnaire design: two specialties",
    "switching decisions taken above their heads": "what dermatologists described",
    "which role is ahead": "a caution against reading one brand's values",
    "skip most generic webinars": "what HCPs said, not a measured KPI",
    "overrate themselves most": "the debrief lesson, not a measured ranking",
    "the highest-value accounts": "Helixa's option, not a result",
    "cardiology leadership": "Helixa's management team",
    "IMM leadership workshop": "Meridia's workshop",
    "leadership built on experience": "our view on durability, not a result",
}


def _sentences(template: Path) -> list[str]:
    """The template's prose sentences: front matter, tables and verbatims left out."""
    body = template.read_text(encoding="utf-8").split("---", 2)[2]
    out = []
    for line in body.splitlines():
        line = line.strip().lstrip("#-* ").replace("**", "").strip()
        if not line or line.startswith(("|", ">")):
            continue
        out += [s for s in re.split(r"(?<=[.!?:;])\s+(?=[A-Z*])", line) if s]
    return out


def _covered(report: str, sentence: str) -> bool:
    if any(q in sentence for r, q, _ in CLAIMS if r == report):
        return True
    if any(q in sentence for q in NOT_CLAIMS):
        return True
    placeholders = [Placeholder.parse(m) for m in PLACEHOLDER.finditer(sentence)]
    if any(p.verb in ("rank", "leader") and "expect" in p.args for p in placeholders):
        return True
    words = {w.lower() for w in RANKING.findall(PLACEHOLDER.sub("", sentence))}
    return words <= {"leader", "leaders"} and any(p.verb == "leader" for p in placeholders)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_every_ranking_sentence_is_checked(template: Path) -> None:
    unchecked = [s for s in _sentences(template)
                 if RANKING.search(PLACEHOLDER.sub("", s)) and not _covered(template.stem, s)]
    assert not unchecked, f"{template.name}: ranking words with no check:\n" + "\n".join(unchecked)


def test_claims_and_exemptions_quote_the_templates() -> None:
    texts = {p.stem: " ".join(_sentences(p)) for p in TEMPLATES}
    for report, quote, _ in CLAIMS:
        assert quote in texts[report], f"{report}: no longer says {quote!r}"
    for quote in NOT_CLAIMS:
        assert any(quote in t for t in texts.values()), f"unused exemption {quote!r}"


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c[0]}: {c[1][:40]}")
def test_ranking_claim_holds_in_the_engine(engine, claim) -> None:
    report, quote, check = claim
    assert check(engine), f"{report} says {quote!r}, the engine does not"


DIRECTIONAL = re.compile(r"\bdirectional(ly)?\b|not yet confirmed", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_directional_wording_goes_with_non_significant_changes(engine, template: Path) -> None:
    """A paragraph that calls a change directional carries a non-significant NPS test, and a
    sentence that does so has no significant NPS change in it."""
    body = template.read_text(encoding="utf-8").split("---", 2)[2]

    def nps_tests(text: str) -> list[bool]:
        return [render_placeholder(engine, p).startswith("significant")
                for p in (Placeholder.parse(m) for m in PLACEHOLDER.finditer(text))
                if p.verb == "sig" and p.kpi == "nps"]

    for paragraph in body.splitlines():
        if DIRECTIONAL.search(PLACEHOLDER.sub("", paragraph)):
            assert False in nps_tests(paragraph), \
                f"{template.name}: {paragraph[:80]!r} calls a change directional without a " \
                "non-significant test next to it"
    for s in _sentences(template):
        if DIRECTIONAL.search(PLACEHOLDER.sub("", s)):
            assert True not in nps_tests(s), f"{template.name}: {s!r} is significant"
