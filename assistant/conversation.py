"""`Conversation`: the context a follow-up leans on.

A turn inherits every slot group it leaves empty from the last answered query
("and in France?" keeps brand, KPI and wave; "what about the previous wave?"
keeps brand and market and moves the wave). A turn whose intent came only from
a fallback keeps the previous intent. A new subject (another brand, company or
therapy area) does not inherit the segment or channel of the old one. Every
inherited slot is listed in `query.inherited` (the router says them in the
answer). A turn that answers a clarifying question ("Germany", "yes") is filled
into the question that was asked back, whatever its intent. "we/our" is the
default brand; a default market, therapy area and wave (the app's "my context")
fill what is still empty after that, and the answer says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from assistant.query import Compare, Query

# Slot groups inherited together: naming any slot of a group replaces the whole group.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("brands", "company", "ta"),
    ("markets",),
    ("kpi",),
    ("prescriber", "specialty", "setting"),
    ("channel",),
)
# Groups that belong to the subject: a new brand, company or TA starts without them
# (specialties are TA-specific: an oncologist filter never applies to cardiology).
_SUBJECT_BOUND = (("prescriber", "specialty", "setting"), ("channel",))
# Intents that make sense to carry over to a bare follow-up.
_CARRY_INTENTS = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix",
                  "key_drivers", "perception_gap")
# A new (not follow-up) question only borrows the market, and only when it cannot do without.
_NEEDS_MARKET = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix")
# The slots a clarifying question can ask for -> the query fields an answer fills.
_CLARIFY_FIELDS: dict[str, tuple[str, ...]] = {
    "brand": ("brands", "company"), "company": ("company",), "market": ("markets",),
    "ta": ("ta",), "wave": ("waves",), "kpi": ("kpi",), "channel": ("channel",),
}
# Every slot an answer to a clarifying question may add to the pending question.
_FILLABLE = ("brands", "company", "ta", "markets", "waves", "kpi", "kpis", "prescriber",
             "specialty", "setting", "channel")


def _empty(q: Query, slot: str) -> bool:
    v = getattr(q, slot)
    return v is None or v == []


def _copy_value(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


# Intents a default wave applies to: a series or a pooled analysis has no single wave.
_ONE_WAVE = ("kpi_value", "ranking", "compare", "explain_change", "channel_mix")


@dataclass
class Conversation:
    default_brand: str | None = None
    default_market: str | None = None
    default_ta: str | None = None
    default_wave: str | None = None
    history: list[Query] = field(default_factory=list)
    # The question asked back (a clarify), as merged before completion: the next turn that
    # answers it is filled into it.
    pending: Query | None = None
    _merged: Query | None = field(default=None, repr=False, compare=False)
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
        with self._lock:
            pending, self.pending = self.pending, None
        if pending is not None and pending.clarify is not None and _answers(q, pending):
            merged = _fill(pending, q)
        else:
            merged = self._with_defaults(self._merge_context(q))
        with self._lock:
            self._merged = merged
        return merged

    def _with_defaults(self, q: Query) -> Query:
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
                   by=list(q.by), defaults=list(q.defaults), inherited=list(q.inherited))
        if q.self_ref and not q.brands and not q.company:
            if default_brand:
                q.brands = [default_brand]
                q.defaults.append(f"brand {default_brand} (your default brand)")
            elif last is not None and last.brands:
                q.brands = list(last.brands[:1])
                q.inherited.append("brands")
        if last is None or q.intent in ("help", "out_of_scope", "catalogue", "methodology"):
            return self._subject_first(q)
        if not q.followup:
            if q.intent in _NEEDS_MARKET and not q.markets and last.markets \
                    and "market" not in q.by:
                q.markets = list(last.markets)
                q.inherited.append("markets")
            return self._subject_first(q)
        new_subject = _new_subject(q, last)
        self._carry_intent(q, last)
        for group in _GROUPS:
            if new_subject and group in _SUBJECT_BOUND:
                continue
            if all(_empty(q, s) for s in group):
                for s in group:
                    setattr(q, s, _copy_value(getattr(last, s)))
                    if not _empty(q, s):
                        q.inherited.append(s)
        self._inherit_waves(q, last)
        if q.intent == "kpi_value" and not q.by and last.by and not q.cued:
            q.by = list(last.by)
        return self._subject_first(q)

    def _carry_intent(self, q: Query, last: Query) -> None:
        """A turn cued only by a fallback keeps the previous intent (and its comparison)."""
        if not q.cued and q.by:
            q.intent = "kpi_value"  # "split by specialty": the last value, broken down
            if _every_brand(last) and not q.brands and "brand" not in q.by:
                q.by.insert(0, "brand")  # a ranking split: each brand's value per group
        elif not q.cued and last.intent in _CARRY_INTENTS:
            q.intent = last.intent
            if last.intent == "compare" and q.compare is None and last.compare is not None:
                q.compare = _unresolved(last.compare)
            if q.order is None and last.intent in ("ranking", "kpi_value"):
                q.order = last.order  # "and in France?" after "lowest NPS ...": lowest again
        if q.intent == "compare" and q.compare is None:
            self._versus(q, last)
        if q.intent == "compare" and q.compare is None and not q.brands:
            self._the_two(q)

    @staticmethod
    def _subject_first(q: Query) -> Query:
        """"we vs the leader": our brand is side a."""
        if q.compare is not None and q.compare.dimension == "brand" and q.compare.a is None:
            q.compare = Compare("brand", q.brand, q.compare.b, q.compare.target)
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

    def _the_two(self, q: Query) -> None:
        """"compare the two" after one brand, then another: those two brands."""
        with self._lock:
            earlier = [t.brands[0] for t in self.history[-2:] if len(t.brands) == 1]
        if len(earlier) == 2 and earlier[0] != earlier[1]:
            q.brands = list(earlier)
            q.compare = Compare("brand", earlier[0], earlier[1])
            q.inherited.append("brands")

    @staticmethod
    def _inherit_waves(q: Query, last: Query) -> None:
        last_pair = last.compare if (last.compare is not None and last.compare.dimension
                                     == "wave" and len(last.waves) == 2) else None
        if q.compare is not None and q.compare.dimension == "wave" and last_pair is not None \
                and not q.waves and q.wave_ref in (None, "previous"):
            # "is that drop significant?" -> the same two waves; "and the one before?" ->
            # both moved one wave back (the router knows which waves carry the KPI).
            if q.wave_ref == "previous" or q.compare.a == "previous":
                q.compare = Compare("wave", last_pair.a, last_pair.b)
            q.waves = list(last.waves)
            q.inherited.append("waves")
            if q.wave_ref == "previous":
                q.wave_ref = "previous_pair"
            return
        if q.waves or q.wave_ref in ("latest", "all") or (q.wave_ref or "").startswith(
                ("since", "last:")):
            return
        if last.intent == "trend" and q.intent == "trend" and last.wave_ref:
            q.wave_ref = q.wave_ref or last.wave_ref
            return
        if last.intent == "trend" or last.intent == "key_drivers":
            return  # a series or a pooled analysis has no single reference wave
        # The reference for "previous": the wave the last answer was about.
        q.waves = [last.wave] if last.wave else []
        if q.waves and q.wave_ref is None:
            q.inherited.append("waves")

    def remember(self, q: Query) -> None:
        with self._lock:
            self.history.append(q)
            if self.default_brand is None and q.brands and q.self_ref:
                self.default_brand = q.brands[0]
            del self.history[:-20]  # context only needs the recent turns
            merged = self._merged
            if q.clarify is not None:
                # The question as merged, before the router completed it: the answer is
                # filled in and the whole question completed again.
                self.pending = merged.copy(clarify=q.clarify) if (
                    merged is not None and merged.text == q.text) else q
            else:
                self.pending = None


def _new_subject(q: Query, last: Query) -> bool:
    """Whether the turn names another brand, company or therapy area than the last one."""
    if q.company and q.company != last.company:
        return True
    if q.brands and last.brands and set(q.brands) != set(last.brands):
        return True
    return bool(q.ta and last.ta and q.ta != last.ta)


def _every_brand(q: Query) -> bool:
    """Whether the answer was about every brand of a TA (a ranking, or its split)."""
    return q.intent == "ranking" or (q.intent == "kpi_value" and "brand" in q.by
                                     and not q.brands)


def _unresolved(c: Compare) -> Compare:
    """The last comparison as it was asked: "the leader" is found again in the new market,
    side a again from the new subject."""
    if c.target is not None:
        return Compare(c.dimension, None, c.target, c.target)
    return Compare(c.dimension, c.a, c.b)


def _answers(q: Query, pending: Query) -> bool:
    """Whether the turn answers the question asked back: a "yes" to a single "did you
    mean", or a reply naming the slot asked for without a question of its own."""
    c = pending.clarify
    assert c is not None
    if q.cued or _full(q):
        return False  # a question of its own
    if q.intent == "help" and c.values and len(c.values) == 1 and c.reason == "did_you_mean":
        return True  # "yes"
    return any(not _empty(q, f) for f in _CLARIFY_FIELDS.get(c.slot, ()))


def _full(q: Query) -> bool:
    """A turn naming its subject, KPI and market (and not leaning on context) is a new
    question, not a reply."""
    return not q.followup and bool(q.kpi and (q.brands or q.company or q.ta) and q.markets)


def _fill(pending: Query, q: Query) -> Query:
    """The pending question with the reply's slots filled in; asked back no more."""
    c = pending.clarify
    assert c is not None
    filled = pending.copy(clarify=None, brands=list(pending.brands),
                          markets=list(pending.markets), waves=list(pending.waves),
                          defaults=list(pending.defaults), by=list(pending.by),
                          inherited=list(pending.inherited), did_you_mean=[],
                          unknown_names=[])
    if q.intent == "help" and c.reason == "did_you_mean":
        field_name = _CLARIFY_FIELDS[c.slot][0]
        value = c.values[0]
        setattr(filled, field_name, [value] if field_name.endswith("s") else value)
        return filled
    for slot in _FILLABLE:
        if not _empty(q, slot):
            setattr(filled, slot, _copy_value(getattr(q, slot)))
    if q.brands and not q.company:
        filled.company = None
    if q.waves:
        # the wave asked back is named now: no wave phrase or undated event to resolve
        filled.wave_ref, filled.event = None, None
    if q.kpi and not q.kpis:
        filled.kpis = [q.kpi]
    filled.defaults += [d for d in q.defaults if d not in filled.defaults]
    return filled
