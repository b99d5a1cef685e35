"""Renders the sample wave-report templates with figures computed by the engine.

Templates carry placeholders instead of numbers, so every figure quoted in a
report is by construction what the engine computes on the same database:

  {{kpi:nps brand:cardiovex market:DE wave:2025-Q4 [channel:f2f_rep]}}  value ("+23", "41%", "7.2")
  {{change:nps brand:... market:... from:2025-Q2 to:2025-Q4 [channel:...]}}  signed change ("-10")
  {{abschange:...}}   unsigned change ("10"), for changes whose direction the prose states
  {{sig:...}}         "significant at 95%" / "not significant at 95%"
  {{leader:nps ta:IMM market:DE wave:2026-Q2}}  the leading brand's name
  {{rank:nps brand:dermavance ta:IMM market:DE wave:2025-Q2 [channel:...] [expect:last]}}
                      the brand's position among the ranked brands ("4th of 4")

Changes are computed from unrounded values. A change is shown at the KPI's display precision
when that equals the difference of its two levels as displayed, else with one more decimal
(61.2% -> 36.7% is "down 24.5 points", not "25" next to "61%" and "37%"): the same rule as the
assistant's answers, so a stated change never contradicts the levels beside it.

`expect:` states the position the prose around a `rank` claims (`first`, `last` or a
number); rendering fails when the data disagree, so a report never ships a ranking
claim the engine contradicts. `leader` takes the same `expect:` (a brand id).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from cxengine.engine import Engine
from cxengine.kpis import Kpi, get_kpi

PLACEHOLDER = re.compile(
    r"\{\{(kpi|change|abschange|sig|leader|rank):(\S+?)((?: [a-z_]+:\S+?)*)\}\}")


class ReportError(Exception):
    """A placeholder cannot be rendered (unknown id, or no value with enough base)."""


@dataclass(frozen=True)
class Placeholder:
    verb: str
    kpi: str
    args: dict[str, str]

    @classmethod
    def parse(cls, m: re.Match[str]) -> Placeholder:
        args = dict(a.split(":", 1) for a in m.group(3).split())
        return cls(m.group(1), m.group(2), args)


def render_placeholder(engine: Engine, p: Placeholder) -> str:
    kpi = get_kpi(p.kpi)
    a = p.args
    filters = {k: a[k] for k in ("brand", "market", "channel") if k in a}
    if p.verb == "kpi":
        r = engine.kpi_value(kpi.id, wave=a["wave"], **filters)
        if len(r.values) != 1 or r.values[0].value is None:
            raise ReportError(f"no reportable {kpi.id} for {a}")
        return kpi.format(r.values[0].value)
    if p.verb in ("leader", "rank"):
        return _render_position(engine, p)
    r = engine.compare(kpi.id, dimension="wave", a=a["from"], b=a["to"], **filters)
    diff = r.summary.get("difference")
    if diff is None:
        raise ReportError(f"no reportable change of {kpi.id} for {a}")
    if p.verb == "sig":
        return "significant at 95%" if r.summary["significant"] else "not significant at 95%"
    levels = {row["wave"]: row["value"] for row in r.table}
    shown = change_precision(kpi, diff, (levels[a["from"]], levels[a["to"]]))
    if p.verb == "abschange":
        return f"{abs(diff):.{shown.decimals}f}"
    return shown.format(diff, signed=True)


def change_precision(kpi: Kpi, diff: float, levels: tuple[float, float]) -> Kpi:
    """The KPI at the precision a change between two displayed levels is shown with: the
    display precision when it equals the difference of the levels as displayed, else one
    more decimal."""
    a, b = (float(f"{x:.{kpi.decimals}f}") for x in levels)  # as kpi.format displays them
    if f"{abs(diff):.{kpi.decimals}f}" == f"{abs(b - a):.{kpi.decimals}f}":
        return kpi
    return replace(kpi, decimals=kpi.decimals + 1)


def ranked_order(engine: Engine, p: Placeholder) -> list[str]:
    """Brand ids of the placeholder's TA, market and wave, best first (engine ranking)."""
    a = p.args
    channel = {"channel": a["channel"]} if "channel" in a else {}
    r = engine.ranking(p.kpi, ta=a["ta"], market=a["market"], wave=a["wave"], **channel)
    return list(r.summary.get("order") or [])


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _render_position(engine: Engine, p: Placeholder) -> str:
    order = ranked_order(engine, p)
    a, expect = p.args, p.args.get("expect")
    if not order:
        raise ReportError(f"no ranking of {p.kpi} for {a}")
    if p.verb == "leader":
        if expect is not None and order[0] != expect:
            raise ReportError(f"the text expects {expect} to lead, the engine ranks {order}")
        return engine.ctx.brand_name(order[0])
    if a["brand"] not in order:
        raise ReportError(f"{a['brand']} is not ranked (no value with enough base) for {a}")
    position = order.index(a["brand"]) + 1
    wanted = {"first": 1, "last": len(order)}.get(expect or "", expect)
    if wanted is not None and not str(wanted).isdigit():
        raise ReportError(f"expect: takes first, last or a position, not {expect!r}")
    if wanted is not None and position != int(wanted):
        raise ReportError(f"the text expects {a['brand']} {expect}, the engine ranks "
                          f"it {ordinal(position)} of {len(order)}: {order}")
    return f"{ordinal(position)} of {len(order)}"


def render_text(engine: Engine, text: str, source: str = "") -> str:
    def sub(m: re.Match[str]) -> str:
        try:
            return render_placeholder(engine, Placeholder.parse(m))
        except (KeyError, ReportError) as exc:
            raise ReportError(f"{source}: {m.group(0)}: {exc}") from exc

    return PLACEHOLDER.sub(sub, text)


def render_reports(templates: Path | str, out_dir: Path | str, db: Path | str) -> list[Path]:
    """Render every template into out_dir, replacing the folder atomically."""
    templates, out_dir = Path(templates), Path(out_dir)
    engine = Engine(db)
    try:
        tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        written = []
        for path in sorted(templates.glob("*.md")):
            text = render_text(engine, path.read_text(encoding="utf-8"), path.name)
            (tmp / path.name).write_text(text, encoding="utf-8")
            written.append(out_dir / path.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # the reports in place stay as they were
        raise
    finally:
        engine.close()
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return written
