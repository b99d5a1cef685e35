"""`Conversation`: the context a follow-up leans on.

A turn inherits every slot group it leaves empty from the last answered query
("and in France?" keeps brand, KPI and wave; "what about the previous wave?"
keeps brand and market and moves the wave). A turn whose intent came only from
a fallback keeps the previous intent. "we/our" is the default brand; a default
market, therapy area and wave (the app's "my context") fill what is still empty
after that, and the answer says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from assistant.query import Compare, Query

# Slot groups inherited together: naming any slot of a group replaces the whole group.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("brands", "company", "ta"),
    ("markets",),
    ("kpi",),
    ("prescriber", "specialty", "setting"),
    ("channel",),
)
# Intents that make sense to carry over to a bare follow-up.
_CARRY_INTENTS = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix",
                  "key_drivers", "perception_gap")
# A new (not follow-up) question only borrows the market, and only when it cannot do without.
_NEEDS_MARKET = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix")


def _empty(q: Query, slot: str) -> bool:
    v = getattr(q, slot)
    return v is None or v == []


# Intents a default wave applies to: a series or a pooled analysis has no single wave.
_ONE_WAVE = ("kpi_value", "ranking", "compare", "explain_change", "channel_mix")


@dataclass
class Conversation:
    default_brand: str | None = None
    default_market: str | None = None
    default_ta: str | None = None
    default_wave: str | None = None
    history: list[Query] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def last(self) -> Query | None:
        return self.history[-1] if self.history else None

    def set_defaults(self, brand: str | None = None, market: str | None = None,
                     ta: str | None = None, wave: str | None = None) -> None:
        """The user's default context (ids as in the data); None clears a default."""
        with self._lock:
            self.default_brand, self.default_market = brand, market
            self.default_ta, self.default_wave = ta, wave

    def merge(self, q: Query) -> Query:
        """The turn completed from context, then from the defaults (the parsed query is not
        changed)."""
        q = self._merge_context(q)
        with self._lock:
            market, ta, wave = self.default_market, self.default_ta, self.default_wave
        if q.intent not in _CARRY_INTENTS:
            return q
        if market and not q.markets and "market" not in q.by:
            q.markets = [market]
            q.defaults.append(f"market {market} (your default context)")
        if ta and not q.ta and not q.brands and not q.company:
            q.ta = ta
            q.defaults.append(f"therapy area {ta} (your default context)")
        if wave and q.intent in _ONE_WAVE and not q.waves and q.wave_ref is None \
                and not (q.compare and q.compare.dimension == "wave"):
            q.waves = [wave]
            q.defaults.append(f"wave {wave} (your default context)")
        return q

    def _merge_context(self, q: Query) -> Query:
        with self._lock:
            last = self.last
            default_brand = self.default_brand
        q = q.copy(brands=list(q.brands), markets=list(q.markets), waves=list(q.waves),
                   by=list(q.by), defaults=list(q.defaults))
        if q.self_ref and not q.brands and not q.company:
            if default_brand:
                q.brands = [default_brand]
            elif last is not None and last.brands:
                q.brands = list(last.brands[:1])
        if last is None or q.intent in ("help", "out_of_scope", "catalogue", "methodology"):
            return self._subject_first(q)
        if not q.followup:
            if q.intent in _NEEDS_MARKET and not q.markets and last.markets:
                q.markets = list(last.markets)
            return self._subject_first(q)
        if not q.cued and q.by:
            q.intent = "kpi_value"  # "split by specialty": the last value, broken down
        elif not q.cued and last.intent in _CARRY_INTENTS:
            q.intent = last.intent
            if last.intent == "compare" and q.compare is None:
                q.compare = last.compare
        if q.intent == "compare" and q.compare is None:
            self._versus(q, last)
        for group in _GROUPS:
            if all(_empty(q, s) for s in group):
                for s in group:
                    v = getattr(last, s)
                    setattr(q, s, list(v) if isinstance(v, list) else v)
        if q.brands and q.ta and last.ta == q.ta and last.brands != q.brands:
            q.ta = None  # a new brand brings its own therapy area
        self._inherit_waves(q, last)
        if q.intent == "kpi_value" and not q.by and q.followup and last.by and not q.cued:
            q.by = list(last.by)
        return self._subject_first(q)

    @staticmethod
    def _subject_first(q: Query) -> Query:
        """"we vs the leader": our brand is side a."""
        if q.compare is not None and q.compare.dimension == "brand" and q.compare.a is None:
            q.compare = Compare("brand", q.brand, q.compare.b)
        return q

    @staticmethod
    def _versus(q: Query, last: Query) -> None:
        """"vs Psorilex" / "vs France": the other side is what the last answer was about."""
        for dim, attr in (("brand", "brands"), ("market", "markets")):
            mine, theirs = getattr(q, attr), getattr(last, attr)
            if len(mine) == 1 and theirs and theirs[0] != mine[0]:
                setattr(q, attr, [theirs[0], mine[0]])
                q.compare = Compare(dim, theirs[0], mine[0])
                return

    @staticmethod
    def _inherit_waves(q: Query, last: Query) -> None:
        if q.waves or q.wave_ref in ("latest", "all") or (q.wave_ref or "").startswith("since"):
            return
        if last.intent == "trend" and q.intent == "trend" and last.wave_ref:
            q.wave_ref = q.wave_ref or last.wave_ref
            return
        if last.intent == "trend" or last.intent == "key_drivers":
            return  # a series or a pooled analysis has no single reference wave
        # The reference for "previous": the wave the last answer was about.
        q.waves = [last.wave] if last.wave else []

    def remember(self, q: Query) -> None:
        with self._lock:
            self.history.append(q)
            if self.default_brand is None and q.brands and q.self_ref:
                self.default_brand = q.brands[0]
            del self.history[:-20]  # context only needs the recent turns
