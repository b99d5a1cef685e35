"""`Engine`: the public face of cxengine. One object per database, shared by threads.

Each method returns a `Result` (values + aggregate table + evidence + warnings);
filters are keyword arguments taking one id or a list of ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cxengine import analyses, catalogue, change, channels, drivers, gaps, omnichannel
from cxengine.kpi_sql import Filters
from cxengine.measure import Context
from cxengine.results import Result
from cxengine.stats import DEFAULT_THRESHOLDS, Thresholds
from cxengine.store import DEFAULT_DB, DEFAULT_TIMEOUT_S, Store


class Engine:
    def __init__(self, db: Path | str = DEFAULT_DB, *, thresholds: Thresholds | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S):
        self.store = Store(db, timeout_s=timeout_s)
        self.ctx = Context(self.store, thresholds or DEFAULT_THRESHOLDS)

    @property
    def dataset_version(self) -> str:
        return self.store.dataset_version

    @property
    def thresholds(self) -> Thresholds:
        return self.ctx.thresholds

    def catalogue(self) -> catalogue.Catalogue:
        """What exists: waves, markets, TAs, brands, channels, segments, KPIs."""
        return catalogue.build(self.ctx)

    def kpi_value(self, kpi: str, *, by: tuple[str, ...] | list[str] = (), **filters: Any
                  ) -> Result:
        return analyses.kpi_value(self.ctx, kpi, Filters.of(**filters), tuple(by))

    def ranking(self, kpi: str, *, ta: str, market: str, wave: str, **filters: Any) -> Result:
        return analyses.ranking(self.ctx, kpi, ta, market, wave, Filters.of(**filters))

    def trend(self, kpi: str, *, waves: list[str] | None = None, **filters: Any) -> Result:
        return analyses.trend(self.ctx, kpi, Filters.of(**filters), waves)

    def compare(self, kpi: str, *, dimension: str, a: Any, b: Any, **filters: Any) -> Result:
        return analyses.compare(self.ctx, kpi, Filters.of(**filters), dimension, a, b)

    def key_drivers(self, *, ta: str | None = None, market: str | None = None,
                    wave: str | None = None,
                    brand: str | None = None) -> Result:
        return drivers.key_drivers(self.ctx, ta=ta, market=market, wave=wave, brand=brand)

    def explain_change(self, kpi: str = "nps", *, brand: str, market: str, from_wave: str,
                       to_wave: str, segment: str = "prescriber") -> Result:
        return change.explain_change(self.ctx, kpi, brand=brand, market=market,
                                     from_wave=from_wave, to_wave=to_wave, segment=segment)

    def channel_mix(self, *, brand: str, market: str, wave: str) -> Result:
        return channels.channel_mix(self.ctx, brand=brand, market=market, wave=wave)

    def perception_gap(self, kpi: str = "nps", *, company: str | None = None,
                       brand: str | None = None, market: str | None = None,
                       wave: str | None = None) -> Result:
        return gaps.perception_gap(self.ctx, kpi, company=company, brand=brand, market=market,
                                   wave=wave)

    def correlations(self, *, ta: str | None = None, wave: str | None = None) -> Result:
        return omnichannel.correlations(self.ctx, ta=ta, wave=wave)

    def waves(self, *, full_only: bool = False) -> list[str]:
        """Wave ids in chronological order."""
        w = self.ctx.waves
        return [i for i in w.index if not full_only or w.loc[i, "wave_type"] == "full"]

    def close(self) -> None:
        self.store.close()
