"""What the benchmark holds, for the question parser, the UI and catalogue questions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cxengine.kpis import catalogue as kpi_catalogue
from cxengine.measure import Context


@dataclass(frozen=True)
class Catalogue:
    dataset_version: str
    waves: list[dict[str, Any]]  # wave_id, label, wave_type, sequence (chronological)
    markets: list[dict[str, Any]]  # market_id, name, region
    therapy_areas: list[dict[str, Any]]  # ta_id, name
    # brand_id, name, company, ta_id, lifecycle {market: {wave: stage}}
    brands: list[dict[str, Any]]
    companies: list[str]
    channels: list[dict[str, Any]]  # channel_id, name, channel_type, role
    segments: dict[str, list[Any]]  # prescriber, specialty, setting -> values
    specialties_by_ta: dict[str, list[str]]
    kpis: list[dict[str, Any]]  # id, label, synonyms, unit, light, requires, kind

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def wave_ids(self, full_only: bool = False) -> list[str]:
        return [w["wave_id"] for w in self.waves if not full_only or w["wave_type"] == "full"]


def build(ctx: Context) -> Catalogue:
    q = ctx.store.query
    waves = q("SELECT wave_id, label, wave_type, sequence FROM waves ORDER BY sequence")
    lifecycle: dict[str, dict[str, dict[str, str]]] = {}
    for (b, m, w), stage in ctx.lifecycle.items():
        lifecycle.setdefault(b, {}).setdefault(m, {})[w] = stage
    brands = q("SELECT brand_id, name, company, ta_id FROM brands ORDER BY ta_id, brand_id")
    spec = q("SELECT DISTINCT ta_id, specialty FROM respondents ORDER BY ta_id, specialty")
    by_ta: dict[str, list[str]] = {}
    for ta, s in spec.itertuples(index=False):
        by_ta.setdefault(ta, []).append(s)
    return Catalogue(
        dataset_version=ctx.store.dataset_version,
        waves=[{**r, "sequence": int(r["sequence"])} for r in waves.to_dict("records")],
        markets=q("SELECT market_id, name, region FROM markets ORDER BY market_id")
        .to_dict("records"),
        therapy_areas=q("SELECT ta_id, name FROM therapy_areas ORDER BY ta_id").to_dict("records"),
        brands=[{**r, "lifecycle": lifecycle.get(r["brand_id"], {})}
                for r in brands.to_dict("records")],
        companies=sorted(brands["company"].unique().tolist()),
        channels=q("SELECT channel_id, name, channel_type, role FROM channels ORDER BY channel_id")
        .to_dict("records"),
        segments={"prescriber": [True, False],
                  "specialty": sorted(spec["specialty"].unique().tolist()),
                  "setting": q("SELECT DISTINCT setting FROM respondents ORDER BY setting")
                  ["setting"].tolist()},
        specialties_by_ta=by_ta,
        kpis=[{"id": k.id, "label": k.label, "synonyms": list(k.synonyms), "unit": k.unit,
               "light": k.light, "requires": k.requires, "kind": k.kind,
               "definition": k.definition}
              for k in kpi_catalogue().values()],
    )
