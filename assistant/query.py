"""`Query`: what a question asks, as typed slots (JSON-serialisable).

The parser fills it from the words of one turn, the conversation completes it
from earlier turns, the router fills the remaining defaults and records them in
`defaults` so the answer can say which were assumed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

INTENTS = ("kpi_value", "ranking", "trend", "compare", "key_drivers", "explain_change",
           "channel_mix", "perception_gap", "correlation", "definition", "methodology",
           "catalogue", "help", "out_of_scope")

# Slots a follow-up turn inherits from the previous one when it leaves them out.
CONTEXT_SLOTS = ("kpi", "brands", "company", "ta", "markets", "waves", "prescriber",
                 "specialty", "setting", "channel")


@dataclass
class Compare:
    """The two sides of a comparison. `b` may be "leader" (resolved by a ranking)."""

    dimension: str  # brand | market | wave | channel | company | prescriber | setting | specialty
    a: Any = None
    b: Any = None
    # What `b` was asked as before it was resolved ("leader" | "competitors"): a follow-up
    # in another market resolves it again there instead of keeping this market's leader.
    target: str | None = None


@dataclass
class Clarify:
    """Why the question cannot be answered as asked, and the valid choices."""

    slot: str
    reason: str
    options: list[str] = field(default_factory=list)  # display names, as offered
    values: list[Any] = field(default_factory=list)  # the ids behind `options`, same order
    note: str | None = None  # a plain sentence said before the question ("X is not a brand")


@dataclass
class Query:
    intent: str = "help"
    kpi: str | None = None  # the KPI answered: the first one named (see `kpis`)
    # Every KPI the question names, in the order typed (one analysis answers `kpi`; the
    # answer says how to ask for the others).
    kpis: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    company: str | None = None
    ta: str | None = None
    markets: list[str] = field(default_factory=list)
    waves: list[str] = field(default_factory=list)
    # Unresolved relative wave phrase, resolved into `waves` once the KPI and the reference
    # wave are known: "latest" | "previous" | "all" | "since:<year>" | "since:<wave id>" |
    # "last:<n>" (the last n waves) | "previous_pair" (a wave comparison moved one wave back) |
    # "before:<year or wave id>" (every wave before it) | "first" (the first wave carrying the
    # KPI in which the brand is rated in the market).
    wave_ref: str | None = None
    prescriber: bool | None = None
    specialty: str | None = None
    setting: str | None = None
    channel: str | None = None
    by: list[str] = field(default_factory=list)
    # The order the question asks for, by value: "ascending" (the lowest first: "lowest",
    # "worst" on a KPI where higher is better), "descending" ("worst" on a KPI where lower is
    # better, e.g. detractors); None: the analysis's own order (a ranking: best first).
    order: str | None = None
    compare: Compare | None = None
    self_ref: bool = False  # "we/our": the default brand of the conversation
    followup: bool = False
    cued: bool = False  # the intent came from a cue phrase, not from a fallback
    unknown_markets: list[str] = field(default_factory=list)
    unknown_waves: list[str] = field(default_factory=list)
    did_you_mean: list[str] = field(default_factory=list)
    clarify: Clarify | None = None
    # Why the question is refused (a key of `refusals` in lexicon.yaml): answered "none".
    refusal: str | None = None
    # Documents a retrieval question is about: None (methodology notes) | "wave_report".
    documents: str | None = None
    # Slots (names of fields above) this turn took from the conversation, not from its words.
    inherited: list[str] = field(default_factory=list)
    # Words that look like a brand name but name nothing in the benchmark ("Zentravax").
    unknown_names: list[str] = field(default_factory=list)
    # What a negation excluded, by slot ("excluding GPs" -> {"specialty": ["gp"]}); the
    # slots hold the complement that was asked ("specialty": "cardiologist").
    excluded: dict[str, list[Any]] = field(default_factory=dict)
    # Phrases of the question no rule could read and that would change the answer ("HCPs who
    # rate its product highly", "without MSL contact"): the question is refused, not answered
    # without them.
    unread: list[str] = field(default_factory=list)
    # An event the wave reports describe but the data does not date ("the field force cut").
    event: str | None = None
    defaults: list[str] = field(default_factory=list)  # assumptions, said in the answer
    text: str = ""

    @property
    def brand(self) -> str | None:
        return self.brands[0] if self.brands else None

    @property
    def market(self) -> str | None:
        return self.markets[0] if self.markets else None

    @property
    def wave(self) -> str | None:
        return self.waves[-1] if self.waves else None

    def segment(self) -> dict[str, Any]:
        return {k: v for k in ("prescriber", "specialty", "setting")
                if (v := getattr(self, k)) is not None}

    def copy(self, **changes: Any) -> Query:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Query:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if isinstance(kw.get("compare"), dict):
            kw["compare"] = Compare(**kw["compare"])
        if isinstance(kw.get("clarify"), dict):
            kw["clarify"] = Clarify(**kw["clarify"])
        return cls(**kw)
