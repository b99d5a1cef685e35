"""SQL generated from the KPI catalogue: row sets, filters, breakdowns, moments.

Only catalogue text and fixed fragments from this module ever become SQL;
every user-supplied value (brand, wave, ...) travels as a `?` parameter.
A KPI query returns, per group, the sufficient statistics (n, sum w, sum w^2,
sum w x, sum w x^2) from which `cxengine.stats` derives value, SE and CI.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from cxengine.kpis import Kpi

# rating_facts = brand_ratings joined with respondents, brands and waves at ingest, sorted by
# TA, market, wave and brand so scans of one cell skip most of the table (zone maps).
_RATERS = "rating_facts r"
_EXPOSURE = ("content_exposure e JOIN rating_facts r ON r.respondent_id = e.respondent_id "
             "AND r.brand_id = e.brand_id")

# Row set of each KPI base: FROM clause and the conditions every row must meet.
ROW_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "raters": (_RATERS, ()),
    "channel_raters": (
        _RATERS + " CROSS JOIN channels c LEFT JOIN channel_interactions ci "
        "ON ci.respondent_id = r.respondent_id AND ci.brand_id = r.brand_id "
        "AND ci.channel_id = c.channel_id",
        ("r.wave_type = 'full'",)),
    "channel_reached": (
        "channel_interactions ci JOIN rating_facts r ON ci.respondent_id = r.respondent_id "
        "AND ci.brand_id = r.brand_id JOIN channels c ON c.channel_id = ci.channel_id", ()),
    # r.n_channels = distinct channels in channel_interactions for (rater, brand), 0 if none.
    "raters_breadth": (_RATERS, ("r.wave_type = 'full'",)),
    "exposure": (_EXPOSURE, ()),
    "exposure_seen": (_EXPOSURE, ("e.seen",)),
}
ROW_SETS["assets"] = ROW_SETS["exposure"]

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
CHANNEL_ROW_SETS = ("channel_raters", "channel_reached")


@dataclass(frozen=True)
class Filters:
    """Which rows count. Tuples mean "any of"; None means no restriction."""

    brand: tuple[str, ...] | None = None
    company: tuple[str, ...] | None = None
    ta: tuple[str, ...] | None = None
    market: tuple[str, ...] | None = None
    wave: tuple[str, ...] | None = None
    prescriber: bool | None = None
    specialty: tuple[str, ...] | None = None
    setting: tuple[str, ...] | None = None
    channel: tuple[str, ...] | None = None

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

    def conditions(self, row_set: str) -> tuple[list[str], list[Any]]:
        conds, params = [], []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "channel" and row_set not in CHANNEL_ROW_SETS:
                continue  # a channel filter does not restrict rater-level KPIs
            col = DIMENSIONS[f.name]
            if f.name == "prescriber":
                conds.append(f"{col} = ?")
                params.append(bool(value))
            else:
                conds.append(f"{col} IN ({', '.join('?' for _ in value)})")
                params.extend(value)
        return conds, params


MOMENT_COLUMNS = ("n", "sum_w", "sum_w2", "sum_wx", "sum_wx2")


def moments_sql(kpi: Kpi, filters: Filters, by: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    """The statement computing a KPI's moments per group of `by` dimensions."""
    if kpi.kind != "row" or kpi.score is None:
        raise ValueError(f"{kpi.id} is derived; it is computed by its own analysis")
    for d in by:
        if d not in DIMENSIONS:
            raise ValueError(f"cannot break down by {d!r}; choose from {', '.join(DIMENSIONS)}")
        if d == "channel" and kpi.rows not in CHANNEL_ROW_SETS:
            raise ValueError(f"{kpi.id} is not a channel KPI; it cannot be split by channel")
    source, fixed = ROW_SETS[kpi.rows]
    conds, params = filters.conditions(kpi.rows)
    where = " AND ".join([*fixed, *conds]) or "TRUE"
    dims = [f"{DIMENSIONS[d]} AS {d}" for d in by]
    group = ", ".join(by)
    if kpi.rows == "assets":
        # Per asset: weighted share of raters who saw it; then the share of assets below 10%.
        # Base flags use the raters' effective base (rater_n_eff), not the asset count.
        names = ", ".join([*by, "asset_id"])
        score = kpi.score.replace("a.seen_share", "seen_share")
        sql = (f"SELECT {group + ', ' if by else ''}count(*) AS n, count(*) * 1.0 AS sum_w, "
               "count(*) * 1.0 AS sum_w2, sum(x) AS sum_wx, sum(x * x) AS sum_wx2, "
               "min(rater_n) AS rater_n, min(rater_sw * rater_sw / rater_sw2) AS rater_n_eff "
               f"FROM (SELECT {names}, {score} AS x, rater_n, rater_sw, rater_sw2 "
               f"FROM (SELECT {', '.join([*dims, 'e.asset_id AS asset_id'])}, "
               "100.0 * sum(r.weight * CASE WHEN e.seen THEN 1 ELSE 0 END) / sum(r.weight) "
               "AS seen_share, count(*) AS rater_n, sum(r.weight) AS rater_sw, "
               f"sum(r.weight * r.weight) AS rater_sw2 FROM {source} WHERE {where} "
               f"GROUP BY {names}))"
               f"{' GROUP BY ' + group + ' ORDER BY ' + group if by else ''}")
        return sql, params
    select_dims = ", ".join(dims) + (", " if dims else "")
    sql = (f"SELECT {group + ', ' if by else ''}count(*) AS n, sum(w) AS sum_w, "
           "sum(w * w) AS sum_w2, sum(w * x) AS sum_wx, sum(w * x * x) AS sum_wx2 "
           f"FROM (SELECT {select_dims}r.weight AS w, ({kpi.score}) AS x FROM {source} "
           f"WHERE {where}) WHERE x IS NOT NULL"
           f"{' GROUP BY ' + group + ' ORDER BY ' + group if by else ''}")
    return sql, params
