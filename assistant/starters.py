"""The sidebar's texts: starter questions per user group, what the data holds, LLM status.

Pure functions over the engine's catalogue and the loaded LLM, no Streamlit, so the page
stays layout and the texts can be tested without it.
"""

from __future__ import annotations

from typing import Any

# Starter questions per user group (DOMAIN §1); the slots come from the catalogue.
STARTER_TEMPLATES: dict[str, list[str]] = {
    "Brand leader": [
        "How is {brand} doing in {market}?",
        "Are we ahead of the leader on NPS?",
        "Which channel gives {brand} the best experience in {market}?",
    ],
    "Analyst": [
        "How exactly is NPS computed here?",
        "What is the base for {brand} prescribers in {market} in {wave}?",
        "Is the {movement} in {brand} NPS in {market} from {from_wave} to {wave} significant?",
    ],
    "Workshop team": [
        "Why did {brand}'s NPS {moved} in {market} in {wave}?",
        "Which drivers matter most for recommendation in {ta}?",
        "What should we fix first?",
    ],
}
# The sample benchmark's planted stories (DOMAIN §6), used when its brands are in the data.
SAMPLE_SLOTS = {"brand": "Cardiovex", "market": "Germany", "ta": "oncology", "wave": "2025-Q4",
                "from_wave": "2025-Q2", "moved": "fall", "movement": "drop"}


def starter_questions(catalogue: Any) -> dict[str, list[str]]:
    """The starters on the sample's stories when its brands are in the data; else on the
    catalogue's first brand, market and therapy area and its latest full wave."""
    brands = [b["name"] for b in catalogue.brands]
    slots = SAMPLE_SLOTS
    if SAMPLE_SLOTS["brand"] not in brands:
        waves = catalogue.wave_ids(full_only=True) or catalogue.wave_ids()
        slots = {"brand": brands[0] if brands else "our brand",
                 "market": catalogue.markets[0]["name"] if catalogue.markets else "our market",
                 "ta": catalogue.therapy_areas[0]["name"] if catalogue.therapy_areas else "",
                 "wave": waves[-1] if waves else "",
                 "from_wave": waves[-2] if len(waves) > 1 else "the previous wave",
                 "moved": "change", "movement": "change"}
    return {group: [q.format(**slots) for q in questions]
            for group, questions in STARTER_TEMPLATES.items()}


def dataset_lines(catalogue: Any) -> list[str]:
    """What the data holds, one Markdown line per dimension."""
    return ["**Waves:** " + ", ".join(f"{w['wave_id']} ({w['wave_type']})"
                                      for w in catalogue.waves),
            "**Markets:** " + ", ".join(f"{m['market_id']} {m['name']}"
                                        for m in catalogue.markets),
            "**Therapy areas:** " + ", ".join(f"{t['ta_id']} {t['name']}"
                                              for t in catalogue.therapy_areas),
            "**Brands:** " + ", ".join(f"{b['name']} ({b['company']}, {b['ta_id']})"
                                       for b in catalogue.brands)]


def llm_status(llm: Any, configured: str | None) -> str:
    """The assistant's real LLM state: the one it loaded, if any, not the variable's."""
    if llm is not None:
        return f"LLM: **on** ({getattr(llm, 'name', 'LLM')})."
    if configured:
        return (f"LLM: **configured but not usable** (CXASSIST_LLM={configured}; see the "
                "server log); answers are deterministic.")
    return "LLM: **off** (set CXASSIST_LLM to enable); answers are deterministic."
