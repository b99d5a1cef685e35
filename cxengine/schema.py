"""The benchmark data model: tables, columns, scales, keys, as data.

Ingestion validates against it, the generator writes to it, the README's
schema section documents it. One place to change a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DRIVERS: tuple[str, ...] = (
    "knowledge",
    "ease",
    "responsiveness",
    "respect_time",
    "personalisation",
    "content_relevance",
    "seamless",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type: VARCHAR, INTEGER, DOUBLE, BOOLEAN, DATE
    description: str
    nullable: bool = False
    # Light waves leave these NULL (not asked); full waves must fill them.
    light_null: bool = False
    min: float | None = None
    max: float | None = None
    # The value must be strictly greater than `min` (e.g. a survey weight > 0).
    min_exclusive: bool = False
    allowed: tuple[str, ...] = ()
    # A scale of whole answer codes, marked "(integers)" in the schema reference (validation
    # takes whole numbers only in every INTEGER column).
    integer_scale: bool = False
    # A regular expression the whole value must match, and the rule to name when it does not.
    pattern: str | None = None
    pattern_rule: str = ""

    def scale_text(self) -> str:
        """The scale in brief, as the schema reference shows it: `0–10`, `≥ 1`, `> 0`."""
        if self.min is None and self.max is None:
            return ""
        lo = "" if self.min is None else f"{self.min:g}"
        hi = "" if self.max is None else f"{self.max:g}"
        if self.max is None:
            return f"{'>' if self.min_exclusive else '≥'} {lo}"
        if self.min is None:
            return f"≤ {hi}"
        return f"{'>' if self.min_exclusive else ''}{lo}–{hi}"


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default=())
    # Other column sets that must be unique too (alternate keys).
    unique: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _rating(name: str, lo: int, hi: int, what: str, light_null: bool = False) -> Column:
    return Column(
        name,
        "INTEGER",
        f"{what} ({lo}-{hi})",
        nullable=light_null,
        light_null=light_null,
        min=lo,
        max=hi,
        integer_scale=True,
    )


# Version of the derived serving tables (rating_facts) an ingest builds. Bump it when their
# layout changes, so a database from an older build is refused with "re-ingest" instead of
# failing later on a missing column.
SERVING_LAYOUT = 2

TABLES: tuple[Table, ...] = (
    Table(
        "waves",
        "One round of fieldwork.",
        (
            Column("wave_id", "VARCHAR", "wave id, YYYY-Qn (e.g. 2025-Q2)",
                   pattern=r"\d{4}-Q[1-4]", pattern_rule="wave id must look like 2025-Q2"),
            Column("label", "VARCHAR", "display label"),
            Column("fieldwork_start", "DATE", "first fieldwork day"),
            Column("fieldwork_end", "DATE", "last fieldwork day, not before the first"),
            Column("wave_type", "VARCHAR", "full asks everything; light asks headline KPIs only",
                   allowed=("full", "light")),
            Column("sequence", "INTEGER", "chronological order, 1 = first wave", min=1,
                   integer_scale=True),
        ),
        key=("wave_id",),
        unique=(("sequence",),),
    ),
    Table(
        "markets",
        "Countries.",
        (
            Column("market_id", "VARCHAR", "market code (e.g. DE)"),
            Column("name", "VARCHAR", "country name"),
            Column("region", "VARCHAR", "region", nullable=True),
        ),
        key=("market_id",),
    ),
    Table(
        "therapy_areas",
        "Therapy areas.",
        (
            Column("ta_id", "VARCHAR", "therapy area code (e.g. ONC)"),
            Column("name", "VARCHAR", "therapy area name"),
        ),
        key=("ta_id",),
    ),
    Table(
        "brands",
        "Brands, each of one company and one therapy area.",
        (
            Column("brand_id", "VARCHAR", "lowercase slug (e.g. cardiovex)",
                   pattern="[a-z0-9_-]+",
                   pattern_rule="brand id must be a lowercase slug (a-z, 0-9, _ and -)"),
            Column("name", "VARCHAR", "display name"),
            Column("company", "VARCHAR", "owning company"),
            Column("ta_id", "VARCHAR", "therapy area"),
        ),
        key=("brand_id",),
        foreign_keys=(ForeignKey(("ta_id",), "therapy_areas", ("ta_id",)),),
    ),
    Table(
        "brand_lifecycle",
        "Life-cycle stage of a brand per market and wave.",
        (
            Column("brand_id", "VARCHAR", "brand"),
            Column("market_id", "VARCHAR", "market"),
            Column("wave_id", "VARCHAR", "wave"),
            Column("stage", "VARCHAR", "life-cycle stage",
                   allowed=("prelaunch", "launch", "growth", "mature")),
        ),
        key=("brand_id", "market_id", "wave_id"),
        foreign_keys=(
            ForeignKey(("brand_id",), "brands", ("brand_id",)),
            ForeignKey(("market_id",), "markets", ("market_id",)),
            ForeignKey(("wave_id",), "waves", ("wave_id",)),
        ),
    ),
    Table(
        "channels",
        "Engagement channels.",
        (
            Column("channel_id", "VARCHAR", "channel id (e.g. f2f_rep)"),
            Column("name", "VARCHAR", "display name"),
            Column("channel_type", "VARCHAR", "rule-of-thirds type",
                   allowed=("in_person", "remote", "digital_self_service")),
            Column("role", "VARCHAR", "who runs it", allowed=("sales", "medical", "none")),
        ),
        key=("channel_id",),
    ),
    Table(
        "respondents",
        "One HCP in one wave (a new sample each wave).",
        (
            Column("respondent_id", "VARCHAR", "respondent id, unique across waves"),
            Column("wave_id", "VARCHAR", "wave"),
            Column("market_id", "VARCHAR", "market"),
            Column("ta_id", "VARCHAR", "therapy area the HCP was sampled in"),
            Column("specialty", "VARCHAR", "medical specialty (e.g. cardiologist)"),
            Column("setting", "VARCHAR", "practice setting", allowed=("hospital", "office")),
            Column("weight", "DOUBLE", "survey weight (1.0 when unweighted)", min=0,
                   min_exclusive=True),
        ),
        key=("respondent_id",),
        foreign_keys=(
            ForeignKey(("wave_id",), "waves", ("wave_id",)),
            ForeignKey(("market_id",), "markets", ("market_id",)),
            ForeignKey(("ta_id",), "therapy_areas", ("ta_id",)),
        ),
    ),
    Table(
        "brand_ratings",
        "One respondent's ratings of one brand they know.",
        (
            Column("respondent_id", "VARCHAR", "respondent"),
            Column("brand_id", "VARCHAR", "brand rated"),
            Column("prescriber", "BOOLEAN", "currently prescribes the brand"),
            _rating("recommend", 0, 10, "likelihood to recommend"),
            _rating("satisfaction", 1, 5, "overall satisfaction"),
            _rating("effort_ease", 1, 7, "'the brand made it easy for me'", light_null=True),
            _rating("intent_more", 1, 5, "intent to prescribe more"),
            _rating("product_rating", 0, 10, "perceived product performance"),
            *(_rating(d, 0, 10, f"CX driver {d}", light_null=True) for d in DRIVERS),
            Column("patient_share", "DOUBLE", "share of eligible patients treated with the brand",
                   min=0, max=100),
        ),
        key=("respondent_id", "brand_id"),
        foreign_keys=(
            ForeignKey(("respondent_id",), "respondents", ("respondent_id",)),
            ForeignKey(("brand_id",), "brands", ("brand_id",)),
        ),
    ),
    Table(
        "channel_interactions",
        "Channels through which a brand reached a respondent in the last 3 months (full waves).",
        (
            Column("respondent_id", "VARCHAR", "respondent"),
            Column("brand_id", "VARCHAR", "brand"),
            Column("channel_id", "VARCHAR", "channel"),
            Column("interactions", "INTEGER", "number of interactions (>= 1)", min=1,
                   integer_scale=True),
            _rating("rating", 0, 10, "experience rating of the channel"),
        ),
        key=("respondent_id", "brand_id", "channel_id"),
        foreign_keys=(
            ForeignKey(("respondent_id", "brand_id"), "brand_ratings",
                       ("respondent_id", "brand_id")),
            ForeignKey(("channel_id",), "channels", ("channel_id",)),
        ),
    ),
    Table(
        "content_assets",
        "Content assets of each brand.",
        (
            Column("asset_id", "VARCHAR", "asset id"),
            Column("brand_id", "VARCHAR", "brand"),
            Column("content_type", "VARCHAR", "kind of asset (e.g. dosing_guide)"),
            Column("title", "VARCHAR", "asset title"),
        ),
        key=("asset_id",),
        foreign_keys=(ForeignKey(("brand_id",), "brands", ("brand_id",)),),
    ),
    Table(
        "content_exposure",
        "Whether a rater saw each asset of the brand, and how useful it was (full waves).",
        (
            Column("respondent_id", "VARCHAR", "respondent"),
            Column("brand_id", "VARCHAR", "brand (the brand of the asset)"),
            Column("asset_id", "VARCHAR", "asset"),
            Column("seen", "BOOLEAN", "saw the asset"),
            Column("useful", "INTEGER", "usefulness 1-5, NULL when not seen", nullable=True,
                   min=1, max=5, integer_scale=True),
        ),
        key=("respondent_id", "asset_id"),
        foreign_keys=(
            ForeignKey(("respondent_id", "brand_id"), "brand_ratings",
                       ("respondent_id", "brand_id")),
            ForeignKey(("asset_id",), "content_assets", ("asset_id",)),
        ),
    ),
    Table(
        "internal_assessments",
        "Companies' own estimates of their KPIs (for the perception gap).",
        (
            Column("company", "VARCHAR", "company making the estimate"),
            Column("brand_id", "VARCHAR", "brand"),
            Column("market_id", "VARCHAR", "market"),
            Column("wave_id", "VARCHAR", "wave"),
            Column("kpi_id", "VARCHAR", "KPI id of the catalogue `cxengine/kpis.yaml` (e.g. nps)"),
            Column("estimate", "DOUBLE", "the company's estimate, in KPI units (finite)"),
        ),
        key=("brand_id", "market_id", "wave_id", "kpi_id"),
        foreign_keys=(
            ForeignKey(("brand_id",), "brands", ("brand_id",)),
            ForeignKey(("market_id",), "markets", ("market_id",)),
            ForeignKey(("wave_id",), "waves", ("wave_id",)),
        ),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
LIGHT_NULL_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in TABLES_BY_NAME["brand_ratings"].columns if c.light_null
)
# Tables that only full waves carry (rows in a light wave are an error).
FULL_WAVE_ONLY_TABLES: tuple[str, ...] = ("channel_interactions", "content_exposure")


def schema_markdown(level: int = 1) -> str:
    """The schema as Markdown tables, its title at heading `level` (the README holds it at
    level 2, kept in sync by a test)."""
    h = "#" * level
    lines = [f"{h} Data schema reference", "",
             "Generated from `cxengine/schema.py` (`cxassist data schema`). "
             "Types are DuckDB types. Light waves (`wave_type = light`) leave the columns "
             "marked *light: NULL* empty and carry no `channel_interactions` or "
             "`content_exposure` rows.", ""]
    for t in TABLES:
        lines += [f"{h}# `{t.name}`", "", t.description, "",
                  f"Key: ({', '.join(t.key)})" + "".join(
                      f"; unique ({', '.join(u)})" for u in t.unique) + "".join(
                      f"; ({', '.join(fk.columns)}) → `{fk.table}`" for fk in t.foreign_keys),
                  "", "| column | type | description | scale / values | NULL |",
                  "|---|---|---|---|---|"]
        for c in t.columns:
            if c.allowed:
                scale = " / ".join(f"`{a}`" for a in c.allowed)
            elif c.pattern:
                scale = f"`{c.pattern}`"
            else:
                scale = c.scale_text() + (" (integers)" if c.integer_scale else "")
            null = "light: NULL" if c.light_null else ("yes" if c.nullable else "no")
            lines.append(f"| `{c.name}` | {c.type} | {c.description} | {scale} | {null} |")
        lines.append("")
    return "\n".join(lines)
