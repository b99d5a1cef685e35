"""SQL generated from the KPI catalogue: row sets, filters, breakdowns, moments.

Only catalogue text and fixed fragments from this module ever become SQL;
every user-supplied value (brand, wave, ...) travels as a `?` parameter.
A KPI query returns, per group, the sufficient statistics (n, sum w, sum w^2,
sum w x, sum w x^2) from which `cxengine.stats` derives value, SE and CI.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

import yaml

from cxengine.errors import Unanswerable
from cxengine.kpis import CATALOGUE_FILE, Kpi

# rating_facts = brand_ratings joined with respondents, brands and waves at ingest, sorted by
# TA, market, wave and brand so scans of one cell skip most of the table (zone maps).
_RATERS = "rating_facts r"
_FULL = ("r.wave_type = 'full'",)
# Content KPIs start from the raters (so a rater or an asset without any exposure record still
# counts, as "not seen"), then look their exposure records up: assets of the brand, from
# content_assets, are the denominator; seen assets, from content_exposure, the numerator.
# The raters are the small side of every join, which keeps the 64M-row exposure table a probe.
# (Ingest validation refuses an exposure record of another brand's asset, so every record of
# (rater, brand) is one of the brand's assets and n_seen <= n_assets.)
_ASSET_COUNTS = "(SELECT brand_id, count(*) AS n_assets FROM content_assets GROUP BY brand_id)"
# A rater-level KPI broken down by channel: one row per rater per channel that reached them
# (channel_interactions is keyed by respondent, brand and channel, so no rater counts twice
# within a channel).
_CHANNEL_JOIN = (" JOIN channel_interactions c ON c.respondent_id = r.respondent_id "
                 "AND c.brand_id = r.brand_id")


@dataclass(frozen=True)
class RowSet:
    """The rows a KPI is a weighted mean over."""

    source: str  # FROM clause; the rater is always aliased r
    fixed: tuple[str, ...] = ()  # conditions every row meets
    per_channel: bool = False  # rows are (rater, channel): c.channel_id is in the source
    # Content counted per rater (alias k: n_assets, n_seen, n_useful) before the KPI, so
    # bases and standard errors rest on raters, not on (rater, asset) pairs.
    content_per_rater: bool = False
    weight: str = "r.weight"
    rater_fixed: tuple[str, ...] = ()  # conditions on the per-rater counts


ROW_SETS: dict[str, RowSet] = {
    "raters": RowSet(_RATERS),
    "channel_raters": RowSet(
        _RATERS + " CROSS JOIN channels c LEFT JOIN channel_interactions ci "
        "ON ci.respondent_id = r.respondent_id AND ci.brand_id = r.brand_id "
        "AND ci.channel_id = c.channel_id", _FULL, per_channel=True),
    "channel_reached": RowSet(
        "channel_interactions ci JOIN rating_facts r ON ci.respondent_id = r.respondent_id "
        "AND ci.brand_id = r.brand_id JOIN channels c ON c.channel_id = ci.channel_id",
        per_channel=True),
    # r.n_channels = distinct channels in channel_interactions for (rater, brand), 0 if none.
    "raters_breadth": RowSet(_RATERS, _FULL),
    # Ratio estimators written as weighted means over raters: x = the rater's share, weight =
    # w x the rater's denominator, so the value is exactly sum(w num) / sum(w den).
    "content_raters": RowSet(_RATERS, _FULL, content_per_rater=True,
                             weight="k.weight * k.n_assets"),
    "content_seen_raters": RowSet(_RATERS, _FULL, content_per_rater=True,
                                  weight="k.weight * k.n_seen", rater_fixed=("k.n_seen > 0",)),
    "assets": RowSet(_RATERS, _FULL),
}
CHANNEL_ROW_SETS = tuple(k for k, v in ROW_SETS.items() if v.per_channel)
# One row per rater x brand with a score read from rating_facts: the paired brand-vs-brand
# test and the "why did it move" decomposition work on these.
RATER_ROW_SETS = ("raters", "raters_breadth")

# Dimensions a question can filter or break down by: name -> SQL column.
DIMENSIONS: dict[str, str] = {
    "brand": "r.brand_id",
    "company": "r.company",
    "ta": "r.ta_id",
    "market": "r.market_id",
    "wave": "r.wave_id",
    "prescriber": "r.prescriber",
    "specialty": "r.specialty",
    "setting": "r.setting",
    "channel": "c.channel_id",
}


@dataclass(frozen=True)
class Filters:
    """Which rows count. Tuples mean "any of"; None means no restriction.

    A channel filter on a rater-level KPI keeps the raters the channel reached (at least one
    interaction with the brand in it); on a channel KPI it picks the channel."""

    brand: tuple[str, ...] | None = None
    company: tuple[str, ...] | None = None
    ta: tuple[str, ...] | None = None
    market: tuple[str, ...] | None = None
    wave: tuple[str, ...] | None = None
    prescriber: bool | None = None
    specialty: tuple[str, ...] | None = None
    setting: tuple[str, ...] | None = None
    channel: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # bool("false") is True: anything but a real bool would silently pick the wrong side.
        if self.prescriber is not None and not isinstance(self.prescriber, bool):
            raise ValueError(f"prescriber must be True, False or None, got "
                             f"{self.prescriber!r}")

    @classmethod
    def of(cls, **kw: Any) -> Filters:
        """Accept single values or sequences: Filters.of(brand="cardiovex", wave=[...])."""
        norm: dict[str, Any] = {}
        for k, v in kw.items():
            if v is None or k == "prescriber":
                norm[k] = v
            elif isinstance(v, str):
                norm[k] = (v,)
            else:
                norm[k] = tuple(v)
        return cls(**norm)

    def with_(self, **kw: Any) -> Filters:
        """A copy with the named filters replaced (others kept)."""
        given = Filters.of(**kw)
        return replace(self, **{k: getattr(given, k) for k in kw})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def segments(self) -> dict[str, Any]:
        """The segment filters that are set (prescriber, specialty, setting)."""
        return {d: v for d in ("prescriber", "specialty", "setting")
                if (v := getattr(self, d)) is not None}

    def conditions(self, row_set: str, *, channel_joined: bool = False
                   ) -> tuple[list[str], list[Any]]:
        """WHERE conditions and parameters. `channel_joined`: the source already has one row
        per (rater, channel) as alias c, so a channel filter picks rows instead of raters."""
        conds, params = [], []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            marks = ", ".join("?" for _ in range(len(value) if isinstance(value, tuple) else 1))
            if f.name == "channel" and not (ROW_SETS[row_set].per_channel or channel_joined):
                conds.append("EXISTS (SELECT 1 FROM channel_interactions cf WHERE "
                             "cf.respondent_id = r.respondent_id AND cf.brand_id = r.brand_id "
                             f"AND cf.channel_id IN ({marks}))")
                params.extend(value)
            elif f.name == "prescriber":
                conds.append(f"{DIMENSIONS[f.name]} = ?")
                params.append(value)
            else:
                conds.append(f"{DIMENSIONS[f.name]} IN ({marks})")
                params.extend(value)
        return conds, params


@cache
def _catalogue_entries() -> dict[str, dict[str, Any]]:
    # `ask_instead` is catalogue data that kpis.Kpi does not carry (yet): read it from the
    # same file rather than keep KPI-specific text in code.
    return yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))


def ask_instead(kpi: Kpi) -> str:
    """What to ask for a derived KPI that the row analyses cannot compute."""
    return (_catalogue_entries().get(kpi.id, {}).get("ask_instead")
            or f"{kpi.label} is computed by its own analysis, not as a KPI value")


def pools_channels(kpi: Kpi, filters: Filters, by: tuple[str, ...]) -> bool:
    """A channel KPI with neither one channel named nor a channel breakdown would average
    over channels: a value that means nothing, on a base counted once per channel."""
    return (kpi.rows in CHANNEL_ROW_SETS and "channel" not in by
            and len(filters.channel or ()) != 1)


MOMENT_COLUMNS = ("n", "sum_w", "sum_w2", "sum_wx", "sum_wx2")


def moments_sql(kpi: Kpi, filters: Filters, by: tuple[str, ...] = (), *,
                pool_channels: bool = False) -> tuple[str, list[Any]]:
    """The statement computing a KPI's moments per group of `by` dimensions.

    `pool_channels` opts in to pooling a channel KPI over all (rater, channel) rows, for an
    analysis that means exactly that (the mean channel impact of a brand)."""
    if kpi.kind != "row" or kpi.score is None:
        raise Unanswerable(ask_instead(kpi))
    for d in by:
        if d not in DIMENSIONS:
            raise ValueError(f"cannot break down by {d!r}; choose from {', '.join(DIMENSIONS)}")
    if pools_channels(kpi, filters, by) and not pool_channels:
        raise Unanswerable(f"{kpi.label} is measured per channel: name one channel or break "
                           "it down by channel")
    rows = ROW_SETS[kpi.rows]
    joined = "channel" in by and not rows.per_channel
    source = rows.source + (_CHANNEL_JOIN if joined else "")
    conds, params = filters.conditions(kpi.rows, channel_joined=joined)
    where = " AND ".join([*rows.fixed, *conds]) or "TRUE"
    dims = [f"{DIMENSIONS[d]} AS {d}" for d in by]
    if kpi.rows == "assets":
        return _assets_sql(kpi, source, where, by, dims), params
    if rows.content_per_rater:
        return _content_raters_sql(kpi, rows, source, where, by, dims), params
    group = ", ".join(by)
    select_dims = ", ".join(dims) + (", " if dims else "")
    sql = (f"SELECT {group + ', ' if by else ''}{_MOMENTS} "
           f"FROM (SELECT {select_dims}{rows.weight} AS w, ({kpi.score}) AS x FROM {source} "
           f"WHERE {where}) WHERE x IS NOT NULL{_group_order(by)}")
    return sql, params


_MOMENTS = ("count(*) AS n, sum(w) AS sum_w, sum(w * w) AS sum_w2, sum(w * x) AS sum_wx, "
            "sum(w * x * x) AS sum_wx2")


def _group_order(by: tuple[str, ...]) -> str:
    group = ", ".join(by)
    return f" GROUP BY {group} ORDER BY {group}" if by else ""


def _raters_cte(source: str, where: str, dims: list[str]) -> str:
    """The selected raters (one row per rater, or per rater and channel when broken down by
    channel) with their groups and weight: every content query reads them once."""
    return (f"WITH raters AS (SELECT {''.join(d + ', ' for d in dims)}r.respondent_id, "
            f"r.brand_id, r.weight FROM {source} WHERE {where}) ")


def _content_raters_sql(kpi: Kpi, rows: RowSet, source: str, where: str,
                        by: tuple[str, ...], dims: list[str]) -> str:
    """Per rater: assets of the brand, assets seen, seen and rated useful; then the weighted
    mean of the KPI's per-rater score over raters."""
    names = "".join(f"k.{d}, " for d in by)
    per_rater = (f"SELECT {names}k.weight, ac.n_assets, "
                 "count(*) FILTER (WHERE e.seen) AS n_seen, "
                 "count(*) FILTER (WHERE e.seen AND e.useful >= 4) AS n_useful "
                 f"FROM raters k JOIN {_ASSET_COUNTS} ac ON ac.brand_id = k.brand_id "
                 "LEFT JOIN content_exposure e ON e.respondent_id = k.respondent_id "
                 "AND e.brand_id = k.brand_id "
                 f"GROUP BY {names}k.respondent_id, k.brand_id, k.weight, ac.n_assets")
    return (f"{_raters_cte(source, where, dims)}SELECT {''.join(d + ', ' for d in by)}"
            f"{_MOMENTS} FROM (SELECT {names}{rows.weight} AS w, ({kpi.score}) AS x "
            f"FROM ({per_rater}) k "
            f"WHERE {' AND '.join(rows.rater_fixed) or 'TRUE'}) WHERE x IS NOT NULL"
            f"{_group_order(by)}")


def _assets_sql(kpi: Kpi, source: str, where: str, by: tuple[str, ...], dims: list[str]) -> str:
    """Per asset of the rated brands: weighted share of the brand's raters who saw it (none
    when it has no exposure record); then the share of assets below 10%. Base flags use the
    raters' effective base (rater_n_eff), not the asset count."""
    names = "".join(f"{d}, " for d in by)
    same = "".join(f" AND s.{d} IS NOT DISTINCT FROM t.{d}" for d in by)
    totals = (f"SELECT {names}brand_id, count(*) AS rater_n, sum(weight) AS rater_sw, "
              f"sum(weight * weight) AS rater_sw2 FROM raters GROUP BY {names}brand_id")
    keys = "".join(f"k.{d}, " for d in by) + "k.brand_id, e.asset_id"
    seen = (f"SELECT {keys}, sum(k.weight) AS seen_w FROM raters k JOIN content_exposure e "
            "ON e.respondent_id = k.respondent_id AND e.brand_id = k.brand_id WHERE e.seen "
            f"GROUP BY {keys}")
    per_asset = (f"SELECT {''.join(f't.{d}, ' for d in by)}a.asset_id, "
                 "100.0 * coalesce(s.seen_w, 0) / t.rater_sw AS seen_share, t.rater_n, "
                 f"t.rater_sw, t.rater_sw2 FROM ({totals}) t JOIN content_assets a "
                 f"ON a.brand_id = t.brand_id LEFT JOIN ({seen}) s ON s.asset_id = a.asset_id "
                 f"AND s.brand_id = t.brand_id{same}")
    score = (kpi.score or "").replace("a.seen_share", "seen_share")
    return (f"{_raters_cte(source, where, dims)}SELECT {names}count(*) AS n, "
            "count(*) * 1.0 AS sum_w, count(*) * 1.0 AS sum_w2, sum(x) AS sum_wx, "
            "sum(x * x) AS sum_wx2, min(rater_n) AS rater_n, "
            "min(rater_sw * rater_sw / rater_sw2) AS rater_n_eff "
            f"FROM (SELECT {names}{score} AS x, rater_n, rater_sw, rater_sw2 "
            f"FROM ({per_asset})){_group_order(by)}")
