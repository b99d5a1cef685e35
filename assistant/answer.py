"""The Answer contract between the assistant and every front end (UI, CLI, JSON).

{"question", "route": engine|retrieval|both|clarify|none, "intent", "query",
 "text", "values": [...], "evidence": [{"kind": definition|sql|table|test|chart|
 passage|note, ...}], "warnings": [...], "suggestions": [...]}

Each value has the keys of VALUE_KEYS: {"kpi", "brand", "company", "market", "ta", "wave",
"segment", "channel", "value", "base", "effective_base", "ci_low", "ci_high", "flags"}.
A label is None when the value spans all of that dimension. `company` (optional, added
after the issue's contract) names the company of a company-level value: a KPI asked for a
company ("NPS of Helixa"), a breakdown or comparison by company, a company's perception
gap; it is None for brand-level values (the brand names its company) and for values over
several companies. Key-driver importance values (`importance:<predictor>`) belong to the
regression pooled over the selection's brands: their `brand` is None even when the question
names a brand (that brand's performance and quadrant are in the evidence table).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

ROUTES = ("engine", "retrieval", "both", "clarify", "none")
EVIDENCE_KINDS = ("definition", "sql", "table", "test", "chart", "passage", "note")
VALUE_KEYS = ("kpi", "brand", "company", "market", "ta", "wave", "segment", "channel", "value",
              "base", "effective_base", "ci_low", "ci_high", "flags")


@dataclass
class Answer:
    question: str
    route: str
    intent: str
    query: dict[str, Any]
    text: str
    values: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    # Clickable choices when route == "clarify" (the UI shows them as buttons).
    options: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, not {self.route!r}")
        for e in self.evidence:
            if e.get("kind") not in EVIDENCE_KINDS:
                raise ValueError(f"evidence kind must be one of {EVIDENCE_KINDS}: {e!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def evidence_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.evidence if e.get("kind") == kind]
