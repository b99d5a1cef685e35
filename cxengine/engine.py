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

Segment = str | list[str] | tuple[str, ...] | None  # a specialty or setting: one id or several


def _segments(prescriber: bool | None, specialty: Segment, setting: Segment) -> Filters:
    """The segment filters of an analysis, with the same meaning as in kpi_value."""
    return Filters.of(prescriber=prescriber, specialty=specialty, setting=setting)


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
                    wave: str | None = None, brand: str | None = None,
                    prescriber: bool | None = None, specialty: Segment = None,
                    setting: Segment = None) -> Result:
        return drivers.key_drivers(self.ctx, ta=ta, market=market, wave=wave, brand=brand,
                                   segments=_segments(prescriber, specialty, setting))

    def explain_change(self, kpi: str = "nps", *, brand: str, market: str, from_wave: str,
                       to_wave: str, segment: str = "prescriber",
                       prescriber: bool | None = None, specialty: Segment = None,
                       setting: Segment = None) -> Result:
        return change.explain_change(self.ctx, kpi, brand=brand, market=market,
                                     from_wave=from_wave, to_wave=to_wave, segment=segment,
                                     segments=_segments(prescriber, specialty, setting))

    def channel_mix(self, *, brand: str, market: str, wave: str,
                    prescriber: bool | None = None, specialty: Segment = None,
                    setting: Segment = None) -> Result:
        return channels.channel_mix(self.ctx, brand=brand, market=market, wave=wave,
                                    segments=_segments(prescriber, specialty, setting))

    def perception_gap(self, kpi: str = "nps", *, company: str | None = None,
                       brand: str | None = None, market: str | None = None,
                       wave: str | None = None, prescriber: bool | None = None,
                       specialty: Segment = None, setting: Segment = None) -> Result:
        """A segment raises Unanswerable: internal estimates cover all HCPs."""
        return gaps.perception_gap(self.ctx, kpi, company=company, brand=brand, market=market,
                                   wave=wave, segments=_segments(prescriber, specialty, setting))

    def correlations(self, *, ta: str | None = None, wave: str | None = None) -> Result:
        return omnichannel.correlations(self.ctx, ta=ta, wave=wave)

    def waves(self, *, full_only: bool = False) -> list[str]:
        """Wave ids in chronological order."""
        w = self.ctx.waves
        return [i for i in w.index if not full_only or w.loc[i, "wave_type"] == "full"]

    def close(self) -> None:
        self.store.close()
