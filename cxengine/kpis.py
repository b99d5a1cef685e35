"""The KPI catalogue (semantic layer), loaded from `kpis.yaml`.

Everything the engine and the assistant know about a KPI comes from one entry
there: labels and synonyms for the parser, definition text for the evidence,
the SQL score and row set for computation, scale and decimals for display.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_FILE = Path(__file__).with_name("kpis.yaml")


@dataclass(frozen=True)
class Kpi:
    id: str
    label: str
    synonyms: tuple[str, ...]
    definition: str
    formula: str
    unit: str
    scale: tuple[float, float]
    higher_is_better: bool
    decimals: int
    columns: tuple[str, ...]
    rows: str
    test: str  # nps | share | mean: which standard error and test apply
    light: bool  # carried by light waves
    score: str | None = None
    requires: str | None = None  # a slot the KPI cannot do without (e.g. channel)
    kind: str = "row"  # row: weighted mean of a row score; derived: computed by an analysis
    driver: str | None = None
    bands: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def is_share(self) -> bool:
        return self.unit == "%"

    def format(self, value: float | None, signed: bool = False) -> str:
        """Display rule of DOMAIN §4: NPS whole points, shares whole %, means 1 decimal."""
        if value is None:
            return "n/a"
        text = f"{abs(value):.{self.decimals}f}"
        if float(text) == 0:
            sign = ""
        elif value < 0:
            sign = "-"
        else:
            sign = "+" if signed or self.id == "nps" else ""
        return f"{sign}{text}{'%' if self.is_share and not signed else ''}"

    def format_change(self, delta: float | None) -> str:
        unit = "points" if self.unit in ("points", "%") else ""
        return f"{self.format(delta, signed=True)} {unit}".strip()

    def band(self, value: float | None) -> str | None:
        if value is None:
            return None
        return next((name for name, (lo, hi) in self.bands.items()
                     if lo <= round(value) <= hi), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind_of_evidence"] = "definition"
        return d

    def definition_evidence(self) -> dict[str, Any]:
        return {"kind": "definition", "kpi": self.id, "label": self.label,
                "definition": self.definition, "formula": self.formula, "unit": self.unit,
                "scale": list(self.scale), "light_waves": self.light}


@cache
def catalogue() -> dict[str, Kpi]:
    raw = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    out = {}
    for kpi_id, e in raw.items():
        out[kpi_id] = Kpi(
            id=kpi_id, label=e["label"], synonyms=tuple(e.get("synonyms", [])),
            definition=e["definition"], formula=e["formula"], unit=e["unit"],
            scale=tuple(e["scale"]), higher_is_better=bool(e["higher_is_better"]),
            decimals=int(e["decimals"]), columns=tuple(e.get("columns", [])), rows=e["rows"],
            test=e["test"], light=bool(e["light"]), score=e.get("score"),
            requires=e.get("requires"), kind=e.get("kind", "row"), driver=e.get("driver"),
            bands={k: tuple(v) for k, v in (e.get("bands") or {}).items()},
        )
    return out


def get_kpi(kpi_id: str) -> Kpi:
    try:
        return catalogue()[kpi_id]
    except KeyError:
        raise KeyError(f"unknown KPI {kpi_id!r}; known: {', '.join(catalogue())}") from None


DRIVER_KPIS: tuple[str, ...] = tuple(k for k, v in catalogue().items() if v.driver)
