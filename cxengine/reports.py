"""Renders the sample wave-report templates with figures computed by the engine.

Templates carry placeholders instead of numbers, so every figure quoted in a
report is by construction what the engine computes on the same database:

  {{kpi:nps brand:cardiovex market:DE wave:2025-Q4 [channel:f2f_rep]}}  value ("+23", "41%", "7.2")
  {{change:nps brand:... market:... from:2025-Q2 to:2025-Q4 [channel:...]}}  signed change ("-10")
  {{abschange:...}}   unsigned change ("10"), for changes whose direction the prose states
  {{sig:...}}         "significant at 95%" / "not significant at 95%"
  {{leader:nps ta:IMM market:DE wave:2026-Q2}}  the leading brand's name
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from cxengine.engine import Engine
from cxengine.kpis import get_kpi

PLACEHOLDER = re.compile(r"\{\{(kpi|change|abschange|sig|leader):(\S+?)((?: [a-z_]+:\S+?)*)\}\}")


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
    if p.verb == "leader":
        r = engine.ranking(kpi.id, ta=a["ta"], market=a["market"], wave=a["wave"])
        if not r.summary.get("leader"):
            raise ReportError(f"no leader for {a}")
        return engine.ctx.brand_name(r.summary["leader"])
    r = engine.compare(kpi.id, dimension="wave", a=a["from"], b=a["to"], **filters)
    diff = r.summary.get("difference")
    if diff is None:
        raise ReportError(f"no reportable change of {kpi.id} for {a}")
    if p.verb == "sig":
        return "significant at 95%" if r.summary["significant"] else "not significant at 95%"
    if p.verb == "abschange":
        return f"{abs(diff):.{kpi.decimals}f}"
    return kpi.format(diff, signed=True)


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
    finally:
        engine.close()
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return written
