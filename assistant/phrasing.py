"""Display rules every answer text follows (DOMAIN §4).

Names instead of ids, a value with its interval and bases, a change and its
significance in words, the assumptions made, and a plain statement when the
data cannot carry the question (light wave, brand not yet launched). The
writers of each intent (analysis_text.py, compose.py) build on these.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.lexicon import Lexicon
from assistant.query import Query
from cxengine.kpis import get_kpi

_PASSAGE_CHARS = 420
_SEGMENT_DIMS = ("prescriber", "specialty", "setting")


class Phrasing:
    def __init__(self, lexicon: Lexicon, confidence: float = 0.95):
        self.lex = lexicon
        self.conf_pct = round(confidence * 100)
        # Longest list an answer states; longer results are cut (the table keeps them all).
        self.max_listed: int = lexicon.rules["limits"]["max_listed"]

    def _name(self, slot: str, id_: Any) -> str:
        return self.lex.name(slot, id_) if id_ is not None else ""

    def _where(self, q: Query) -> str:
        subject = (", ".join(self._name("brand", b) for b in q.brands)
                   or q.company or self._name("ta", q.ta))
        parts = [subject, " and ".join(self._name("market", m) for m in q.markets)]
        seg = q.segment()
        if seg.get("prescriber") is not None:
            parts.append("prescribers" if seg["prescriber"] else "non-prescribers")
        parts += [seg.get("specialty"), seg.get("setting"), self._name("channel", q.channel)]
        return ", ".join(p for p in parts if p)

    def _value(self, v: dict[str, Any]) -> str:
        kpi = get_kpi(v["kpi"])
        if v["value"] is None:
            if "empty" in v["flags"]:
                return "no ratings"
            # One decimal: 29.6 shown as "30" would contradict "below 30".
            return f"not shown, base too low (effective base {v['effective_base']:.1f})"
        text = kpi.format(v["value"])
        if v["ci_low"] is not None:
            text += (f" ({self.conf_pct}% CI {kpi.format(v['ci_low'])} to "
                     f"{kpi.format(v['ci_high'])}; base {v['base']}, effective base "
                     f"{v['effective_base']:.0f}")
            text += ", small base)" if "small_base" in v["flags"] else ")"
        return text

    def _significance(self, significant: bool | None, test: str | None) -> str:
        word = "significant" if significant else "not significant"
        return f"{word} at {self.conf_pct}%" + (f"; test: {test}" if test else "")

    def _change(self, kpi_id: str, delta: float | None) -> str:
        if delta is None:
            return "change not available"
        kpi = get_kpi(kpi_id)
        if round(abs(delta), kpi.decimals) == 0:
            return "unchanged"
        return f"{'up' if delta > 0 else 'down'} {kpi.format_change(abs(delta)).lstrip('+')}"

    def _defaults(self, q: Query) -> str:
        return f"\nAssumed: {'; '.join(q.defaults)}." if q.defaults else ""

    def _coverage(self, q: Query) -> str | None:
        """A plain statement when the data cannot carry the question."""
        kpi = q.kpi
        for w in q.waves:
            if kpi and not self.lex.carries(w, kpi):
                return (f"{w} is a light wave: it asks headline KPIs only, so there is no "
                        f"{get_kpi(kpi).label} for it.")
        for b in q.brands:
            for m in q.markets:
                for w in q.waves:
                    if self.lex.brand_launch.get(b, {}).get(m, {}).get(w) == "prelaunch":
                        return (f"{self._name('brand', b)} was not yet launched in "
                                f"{self._name('market', m)} in {w}: there are no HCP ratings.")
        return None

    def _label(self, dims: list[str], v: dict[str, Any]) -> str:
        """The group a broken-down value belongs to. The engine names the segment dimensions
        together in one `segment` label, so it is said once, not once per dimension."""
        parts: list[str] = []
        for d in dims:
            part = (v.get("segment") or "all") if d in _SEGMENT_DIMS else self._name(d, v.get(d))
            if part not in parts:
                parts.append(str(part))
        return " / ".join(parts) or "all"

    def _names(self, slot: str, ids: list[str]) -> list[str]:
        return [self.lex.name(slot, i) for i in ids]


def singular(text: str) -> str:
    """'1 points' -> '1 point' (the KPI formatter always says points)."""
    return re.sub(r"(?<![0-9.])([+-]?1) points", r"\1 point", text)


def excerpt(text: str) -> str:
    """A passage cut to a quotable length at a word boundary."""
    text = " ".join(text.split())
    return text if len(text) <= _PASSAGE_CHARS else text[:_PASSAGE_CHARS].rsplit(" ", 1)[0] + "..."
