"""The sample scenario file: catalogue of the fictional benchmark and its planted effects.

`data/sample/scenario.yaml` is the single source of names, model parameters and
planted effects; this module reads it and answers the questions the generator
asks ("how strong is effect E for brand B in market M at wave W?").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SCENARIO = Path("data/sample/scenario.yaml")


@dataclass(frozen=True)
class Effect:
    id: str
    brand: str
    markets: tuple[str, ...]
    ramp: dict[str, float]
    reach: dict[str, float] = field(default_factory=dict)
    drivers: dict[str, float] = field(default_factory=dict)
    product: float = 0.0
    intent: float = 0.0
    awareness: float = 0.0
    story: str = ""


@dataclass(frozen=True)
class Scenario:
    raw: dict[str, Any]
    effects: tuple[Effect, ...]

    @classmethod
    def load(cls, path: Path | str = DEFAULT_SCENARIO) -> Scenario:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        effects = tuple(
            Effect(
                id=e["id"], brand=e["brand"], markets=tuple(e["markets"]),
                ramp={str(k): float(v) for k, v in (e.get("ramp") or {}).items()},
                reach=e.get("reach", {}), drivers=e.get("drivers", {}),
                product=float(e.get("product", 0.0)), intent=float(e.get("intent", 0.0)),
                awareness=float(e.get("awareness", 0.0)), story=e.get("story", ""),
            )
            for e in raw.get("effects", [])
        )
        return cls(raw=raw, effects=effects)

    # --- catalogue -------------------------------------------------------
    @property
    def waves(self) -> list[dict[str, Any]]:
        return sorted(self.raw["waves"], key=lambda w: w["sequence"])

    @property
    def markets(self) -> list[dict[str, Any]]:
        return self.raw["markets"]

    @property
    def therapy_areas(self) -> list[dict[str, Any]]:
        return self.raw["therapy_areas"]

    @property
    def brands(self) -> list[dict[str, Any]]:
        return self.raw["brands"]

    @property
    def channels(self) -> list[dict[str, Any]]:
        return self.raw["channels"]

    @property
    def drivers(self) -> list[str]:
        return list(self.raw["drivers"])

    @property
    def model(self) -> dict[str, Any]:
        return self.raw["model"]

    def wave_sequence(self, wave_id: str) -> int:
        return next(w["sequence"] for w in self.waves if str(w["wave_id"]) == wave_id)

    def launch_wave(self, brand: dict[str, Any], market_id: str) -> str | None:
        launch = brand.get("launch") or {}
        return str(launch[market_id]) if market_id in launch else None

    def is_launched(self, brand: dict[str, Any], market_id: str, wave_id: str) -> bool:
        launch = self.launch_wave(brand, market_id)
        return launch is None or self.wave_sequence(wave_id) >= self.wave_sequence(launch)

    def stage(self, brand: dict[str, Any], market_id: str, wave_id: str) -> str:
        """Life-cycle stage: prelaunch before launch, then `launch_stages` per full wave."""
        launch = self.launch_wave(brand, market_id)
        if launch is None:
            overrides = {o["brand"]: o["stage"] for o in self.raw.get("stage_overrides", [])}
            return overrides.get(brand["brand_id"], self.raw.get("default_stage", "mature"))
        seq, launch_seq = self.wave_sequence(wave_id), self.wave_sequence(launch)
        if seq < launch_seq:
            return "prelaunch"
        full_waves_since = sum(
            1 for w in self.waves
            if launch_seq < w["sequence"] <= seq and w["wave_type"] == "full"
        )
        stages = self.raw["launch_stages"]
        return stages[full_waves_since] if full_waves_since < len(stages) else "mature"

    def sample_boost(self, market_id: str, ta_id: str, wave_id: str) -> float:
        """Quota multiplier of a client-funded boost sample for one market x TA cell
        (1.0 without a boost). A boost applies from its `from` wave on."""
        factor = 1.0
        seq = self.wave_sequence(wave_id)
        for b in self.raw.get("sample_boosts") or []:
            if (b["market"] == market_id and b["ta"] == ta_id
                    and seq >= self.wave_sequence(str(b["from"]))):
                factor *= float(b["factor"])
        return factor

    # --- effects ---------------------------------------------------------
    def ramp(self, effect: Effect, wave_id: str) -> float:
        """Strength of an effect at a wave: 0 before its first ramp wave, then as listed,
        holding the last listed value afterwards."""
        seq = self.wave_sequence(wave_id)
        points = sorted((self.wave_sequence(w), v) for w, v in effect.ramp.items())
        if not points or seq < points[0][0]:
            return 0.0
        return [v for s, v in points if s <= seq][-1]

    def active_effects(self, brand_id: str, market_id: str, wave_id: str
                       ) -> list[tuple[Effect, float]]:
        return [
            (e, r) for e in self.effects
            if e.brand == brand_id and market_id in e.markets
            and (r := self.ramp(e, wave_id)) != 0.0
        ]
