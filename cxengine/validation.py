"""Validation of staged input tables against the data model, before anything is written.

Input tables are staged as text (`stg_<table>`, with `_row` = 1-based data row
number) so that a bad value becomes a reported problem rather than a load error.
Every rule is generated from `cxengine.schema` or listed here as data; each
problem names the file, row, column, value and rule. All problems are
collected, not just the first. The CSV line a reported row is on is found
(only for the rows reported) by the helpers at the end.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cxengine.kpis import catalogue
from cxengine.schema import (
    FULL_WAVE_ONLY_TABLES,
    LIGHT_NULL_COLUMNS,
    TABLES,
    Column,
    ForeignKey,
    Table,
)

REQUIRED_TABLES = ("waves", "markets", "therapy_areas", "brands", "channels", "respondents",
                   "brand_ratings")
# How many offending rows one rule reports by name before it only counts them.
ROWS_PER_RULE = 20


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None  # 1-based data row
    column: str | None
    value: str | None
    rule: str
    line: int | None = None  # the line of a CSV file, or the row of a spreadsheet
    sheet: bool = False  # `line` is a spreadsheet row

    def __str__(self) -> str:
        val = f", value {self.value!r}" if self.value is not None else ""
        what = f", column {self.column}" if self.column else ""
        return f"{self.file}{self._position()}{what}{val}: {self.rule}"

    def _position(self) -> str:
        if self.line is None:
            return "" if self.row is None else f", row {self.row}"
        if self.sheet:
            return f", sheet row {self.line}"
        return f", line {self.line}" if self.row is None else f", row {self.row} (line {self.line})"


@dataclass(frozen=True)
class ValueFormat:
    """How a text value must look to be loaded as one type. The pattern is stricter than the
    CAST the load uses (which reads '0x10' as 16 and '1_000' as 1000); the value must pass
    both."""

    pattern: str
    rule: str


VALUE_FORMATS: dict[str, ValueFormat] = {
    "INTEGER": ValueFormat(r"\s*[+-]?\d+(\.0*)?\s*",
                           "must be a whole number in decimal digits (e.g. 7)"),
    "DOUBLE": ValueFormat(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*",
                          "not a number (e.g. 12.5)"),
    "BOOLEAN": ValueFormat(r"(?i)true|false|t|f|yes|no|y|n|1|0", "must be true or false"),
    "DATE": ValueFormat(r"\s*\d{4}-\d{1,2}-\d{1,2}( 00:00:00)?\s*", "not a date (YYYY-MM-DD)"),
}
NOT_FINITE = "must be a finite number (not inf or nan)"


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns or tables. `sql` selects the offending (_row, value)."""

    table: str
    column: str
    rule: str
    sql: str
    reads: tuple[str, ...] = ()  # the other staged tables the query joins
    params: tuple[object, ...] = ()


ROW_RULES: tuple[RowRule, ...] = (
    RowRule("waves", "fieldwork_end", "must not be before fieldwork_start",
            "SELECT _row, fieldwork_end FROM stg_waves "
            "WHERE TRY_CAST(fieldwork_end AS DATE) < TRY_CAST(fieldwork_start AS DATE)"),
    RowRule("content_exposure", "useful",
            "must be empty when seen is false (only a seen asset is rated)",
            "SELECT _row, useful FROM stg_content_exposure "
            "WHERE useful IS NOT NULL AND TRY_CAST(seen AS BOOLEAN) = false"),
    RowRule("content_exposure", "brand_id",
            "not the brand of the asset (content_assets.brand_id)",
            "SELECT e._row, e.brand_id FROM stg_content_exposure e "
            "JOIN stg_content_assets a ON a.asset_id = e.asset_id WHERE a.brand_id <> e.brand_id",
            reads=("content_assets",)),
    RowRule("brand_ratings", "brand_id",
            "brand is not of the therapy area the respondent was sampled in",
            "SELECT r._row, r.brand_id FROM stg_brand_ratings r "
            "JOIN stg_respondents p ON p.respondent_id = r.respondent_id "
            "JOIN stg_brands b ON b.brand_id = r.brand_id WHERE b.ta_id <> p.ta_id",
            reads=("respondents", "brands")),
    RowRule("internal_assessments", "kpi_id",
            "not a KPI of the catalogue (cxengine/kpis.yaml), e.g. "
            + ", ".join(list(catalogue())[:4]),
            "SELECT _row, kpi_id FROM stg_internal_assessments "
            "WHERE kpi_id IS NOT NULL AND NOT list_contains(?, kpi_id)",
            params=(list(catalogue()),)),
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _well_formed(c: Column, col: str) -> str:
    """SQL: the text value `col` is a valid, loadable value of its column's type."""
    fmt = VALUE_FORMATS[c.type]
    sql = f"regexp_full_match({col}, '{fmt.pattern}') AND TRY_CAST({col} AS {c.type}) IS NOT NULL"
    return sql + (f" AND isfinite(TRY_CAST({col} AS DOUBLE))" if c.type == "DOUBLE" else "")


def _infinite(c: Column, col: str) -> str:
    """SQL: `col` reads as an infinite or not-a-number DOUBLE ('inf', 'nan', '1e999')."""
    if c.type != "DOUBLE":
        return "false"
    return f"coalesce(NOT isfinite(TRY_CAST({col} AS DOUBLE)), false)"


def _range(c: Column) -> tuple[str, str] | None:
    """SQL condition of an out-of-range number `v`, and the rule it breaks."""
    if c.min is None and c.max is None:
        return None
    too_low = None if c.min is None else f"v {'<=' if c.min_exclusive else '<'} {c.min!r}"
    too_high = None if c.max is None else f"v > {c.max!r}"
    if too_low and too_high:
        return f"{too_low} OR {too_high}", f"out of range (scale {c.scale_text()})"
    if too_low:
        bound = "greater than" if c.min_exclusive else "at least"
        return too_low, f"must be {bound} {c.min:g}"
    return str(too_high), f"must be at most {c.max:g}"


class Validator:
    """Runs every rule over the staged tables of one connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, files: dict[str, str]):
        self.con, self.files = con, files  # files: table -> file or sheet name for messages
        self.problems: list[Problem] = []
        self.omitted = 0

    # --- reporting --------------------------------------------------------
    def _rows(self, table: str, column: str | None, rule: str, sql: str,
              params: list | None = None) -> None:
        """Report the rows an offending-rows query returns: (_row, value)."""
        count_sql = f"SELECT count(*) FROM ({sql})"
        total = self.con.execute(count_sql, params or []).fetchone()[0]
        if not total:
            return
        shown = self.con.execute(f"SELECT * FROM ({sql}) ORDER BY 1 LIMIT {ROWS_PER_RULE}",
                                 params or []).fetchall()
        for row, value in shown:
            self.problems.append(Problem(self.files[table], row, column,
                                         None if value is None else str(value), rule))
        self.omitted += total - len(shown)

    # --- rules --------------------------------------------------------------
    def run(self, columns: dict[str, list[str]], unreadable: frozenset[str] = frozenset()
            ) -> list[Problem]:
        """Check the staged tables (`columns`: table -> its columns). `unreadable` tables are
        present but could not be staged whole: no rule reads them."""
        for name in REQUIRED_TABLES:
            if name not in columns and name not in unreadable:
                self.problems.append(Problem(f"{name} (missing)", None, None, None,
                                             f"required table {name!r} not found"))
        usable = [t for t in TABLES if t.name in columns and self._has_columns(t, columns)]
        for t in usable:
            for c in t.columns:
                self._column_rules(t, c)
            for cols in (t.key, *t.unique):
                self._unique(t, cols)
        ok = {t.name for t in usable}
        for t in usable:
            for fk in t.foreign_keys:
                if fk.table in ok:
                    self._foreign_key(t, fk)
        if {"waves", "respondents", "brand_ratings"} <= ok:
            self._light_wave_rules(ok)
        for r in ROW_RULES:
            if {r.table, *r.reads} <= ok:
                self._rows(r.table, r.column, r.rule, r.sql, list(r.params))
        return self.problems

    def _has_columns(self, t: Table, columns: dict[str, list[str]]) -> bool:
        missing = [c.name for c in t.columns if c.name not in columns[t.name]]
        for col in missing:
            self.problems.append(Problem(self.files[t.name], None, col, None,
                                         "required column missing"))
        return not missing

    def _column_rules(self, t: Table, c: Column) -> None:
        stg, col = f"stg_{t.name}", _q(c.name)
        select = f"SELECT _row, {col} FROM {stg} WHERE {col} IS NOT NULL AND "
        if not c.nullable:
            self._rows(t.name, c.name, "value required (empty)",
                       f"SELECT _row, NULL FROM {stg} WHERE {col} IS NULL")
        if c.type in VALUE_FORMATS:
            # inf and nan are numbers of a sort: they get their own rule below
            self._rows(t.name, c.name, VALUE_FORMATS[c.type].rule,
                       f"{select}NOT ({_well_formed(c, col)}) AND NOT ({_infinite(c, col)})")
        if c.type == "DOUBLE":
            self._rows(t.name, c.name, NOT_FINITE, f"{select}{_infinite(c, col)}")
        if c.allowed:
            self._rows(t.name, c.name, f"must be one of {', '.join(c.allowed)}",
                       f"{select}NOT list_contains(?, {col})", [list(c.allowed)])
        if c.pattern:
            self._rows(t.name, c.name, c.pattern_rule,
                       f"{select}NOT regexp_full_match({col}, ?)", [c.pattern])
        if (bounds := _range(c)) is not None:
            out_of_range, rule = bounds
            self._rows(t.name, c.name, rule,
                       f"SELECT _row, {col} FROM (SELECT _row, {col}, TRY_CAST({col} AS DOUBLE)"
                       f" AS v FROM {stg} WHERE {_well_formed(c, col)}) WHERE {out_of_range}")

    def _unique(self, t: Table, cols: tuple[str, ...]) -> None:
        key = ", ".join(_q(k) for k in cols)
        what = "key" if cols == t.key else "value"
        self._rows(t.name, ", ".join(cols),
                   f"duplicate {what} (another row has the same {', '.join(cols)})",
                   f"SELECT _row, concat_ws('/', {key}) FROM (SELECT _row, {key}, "
                   f"count(*) OVER (PARTITION BY {key}) AS n FROM stg_{t.name}) WHERE n > 1")

    def _foreign_key(self, t: Table, fk: ForeignKey) -> None:
        cond = " AND ".join(f"p.{_q(a)} = c.{_q(b)}" for a, b in zip(fk.ref_columns, fk.columns,
                                                                      strict=True))
        nonnull = " AND ".join(f"c.{_q(b)} IS NOT NULL" for b in fk.columns)
        cols = ", ".join(f"c.{_q(b)}" for b in fk.columns)
        self._rows(t.name, ", ".join(fk.columns),
                   f"refers to a {fk.table} row that does not exist",
                   f"SELECT c._row, concat_ws('/', {cols}) FROM stg_{t.name} c WHERE {nonnull} "
                   f"AND NOT EXISTS (SELECT 1 FROM stg_{fk.table} p WHERE {cond})")

    def _light_wave_rules(self, ok: set[str]) -> None:
        light = ("SELECT r.respondent_id FROM stg_respondents r JOIN stg_waves w "
                 "ON w.wave_id = r.wave_id WHERE w.wave_type = 'light'")
        full = light.replace("'light'", "'full'")
        for col in LIGHT_NULL_COLUMNS:
            c = _q(col)
            self._rows("brand_ratings", col, "light waves do not ask this column: leave it empty",
                       f"SELECT _row, {c} FROM stg_brand_ratings WHERE {c} IS NOT NULL "
                       f"AND respondent_id IN ({light})")
            self._rows("brand_ratings", col, "value required in a full wave (empty)",
                       f"SELECT _row, NULL FROM stg_brand_ratings WHERE {c} IS NULL "
                       f"AND respondent_id IN ({full})")
        for table in FULL_WAVE_ONLY_TABLES:
            if table in ok:
                self._rows(table, "respondent_id",
                           "light waves carry no rows in this table",
                           f"SELECT _row, respondent_id FROM stg_{table} "
                           f"WHERE respondent_id IN ({light})")


# --- positions: where a reported data row is in its CSV file --------------------------
def csv_row_lines(path: Path, delimiter: str, n_rows: int, rows: set[int]) -> dict[int, int]:
    """The line of the CSV file each data row starts on: row + 1, unless blank lines (which
    DuckDB skips) or quoted line breaks shift the rows, which only a parse can tell."""
    if _count_lines(path) == n_rows + 1:
        return {r: r + 1 for r in rows}
    found: dict[int, int] = {}
    row = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record:
                row += 1
                if row in rows:
                    found[row] = start
                    if len(found) == len(rows):
                        break
            start = reader.line_num + 1
    return found


def lines_at(path: Path, offsets: list[int]) -> dict[int, int]:
    """The 1-based line of the file at each byte offset."""
    found, line, position = {}, 1, 0
    with open(path, "rb") as fh:
        for offset in sorted(set(offsets)):
            while position < offset and (chunk := fh.read(min(offset - position, 1 << 20))):
                line, position = line + chunk.count(b"\n"), position + len(chunk)
            found[offset] = line
    return found


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            lines, last = lines + chunk.count(b"\n"), chunk[-1:]
    return lines + (last != b"\n")


def typed_select(t: Table) -> str:
    """The SELECT that turns a validated staging table into the typed table."""
    cols = ", ".join(f"CAST({_q(c.name)} AS {c.type}) AS {_q(c.name)}" for c in t.columns)
    return f"SELECT {cols} FROM stg_{t.name} ORDER BY _row"


__all__ = ["Problem", "Validator", "REQUIRED_TABLES", "csv_row_lines", "lines_at", "typed_select"]
