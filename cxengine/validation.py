"""Validation of staged input tables against the data model, before anything is written.

Input tables are staged as text (`stg_<table>`, with `_row` = 1-based data row
number) so that a bad value becomes a reported problem rather than a load error.
Every rule is generated from `cxengine.schema`; each problem names the file,
row, column, value and rule. All problems are collected, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from cxengine.schema import (
    FULL_WAVE_ONLY_TABLES,
    LIGHT_NULL_COLUMNS,
    TABLES,
    TABLES_BY_NAME,
    Column,
    Table,
)

REQUIRED_TABLES = ("waves", "markets", "therapy_areas", "brands", "channels", "respondents",
                   "brand_ratings")
# How many offending rows one rule reports by name before it only counts them.
ROWS_PER_RULE = 20
WAVE_ID = re.compile(r"^\d{4}-Q[1-4]$")


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        what = f", column {self.column}" if self.column else ""
        val = f", value {self.value!r}" if self.value is not None else ""
        return f"{where}{what}{val}: {self.rule}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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

    def _table_problem(self, table: str, rule: str, column: str | None = None) -> None:
        self.problems.append(Problem(self.files.get(table, f"{table} (missing)"), None, column,
                                     None, rule))

    # --- rules --------------------------------------------------------------
    def run(self, present: set[str], columns: dict[str, list[str]]) -> list[Problem]:
        for name in REQUIRED_TABLES:
            if name not in present:
                self.problems.append(Problem(f"{name} (missing)", None, None, None,
                                             f"required table {name!r} not found"))
        usable = []
        for t in TABLES:
            if t.name not in present:
                continue
            missing = [c.name for c in t.columns if c.name not in columns[t.name]]
            for col in missing:
                self._table_problem(t.name, "required column missing", col)
            if not missing:
                usable.append(t)
        for t in usable:
            for c in t.columns:
                self._column_rules(t, c)
            self._unique_key(t)
        ok = {t.name for t in usable}
        for t in usable:
            for fk in t.foreign_keys:
                if fk.table in ok:
                    self._foreign_key(t, fk)
        if {"waves", "respondents", "brand_ratings"} <= ok:
            self._light_wave_rules(ok)
        if {"respondents", "brands", "brand_ratings"} <= ok:
            self._brand_in_respondent_ta()
        return self.problems

    def _column_rules(self, t: Table, c: Column) -> None:
        stg, col = f"stg_{t.name}", _q(c.name)
        typed = f"TRY_CAST({col} AS {c.type})"
        self._rows(t.name, c.name, f"not a valid {c.type.lower()}",
                   f"SELECT _row, {col} FROM {stg} WHERE {col} IS NOT NULL AND {typed} IS NULL")
        if not c.nullable:
            self._rows(t.name, c.name, "value required (empty)",
                       f"SELECT _row, NULL FROM {stg} WHERE {col} IS NULL")
        if c.allowed:
            allowed = ", ".join("?" for _ in c.allowed)
            self._rows(t.name, c.name, f"must be one of {', '.join(c.allowed)}",
                       f"SELECT _row, {col} FROM {stg} WHERE {col} IS NOT NULL "
                       f"AND {col} NOT IN ({allowed})", list(c.allowed))
        if c.min is not None or c.max is not None:
            lo = -1e308 if c.min is None else c.min
            hi = 1e308 if c.max is None else c.max
            scale = (f"{c.min:g}" if c.min is not None else "") + "–" + (
                f"{c.max:g}" if c.max is not None else "")
            self._rows(t.name, c.name, f"out of range (scale {scale})",
                       f"SELECT _row, {col} FROM {stg} WHERE TRY_CAST({col} AS DOUBLE) "
                       f"NOT BETWEEN ? AND ?", [lo, hi])
        if c.integer_scale:
            self._rows(t.name, c.name, "must be a whole number (scale point)",
                       f"SELECT _row, {col} FROM {stg} WHERE TRY_CAST({col} AS DOUBLE) "
                       f"<> round(TRY_CAST({col} AS DOUBLE))")
        if c.name == "wave_id":
            self._rows(t.name, c.name, "wave id must look like 2025-Q2",
                       f"SELECT _row, {col} FROM {stg} WHERE {col} IS NOT NULL AND NOT "
                       f"regexp_full_match({col}, '\\d{{4}}-Q[1-4]')")

    def _unique_key(self, t: Table) -> None:
        key = ", ".join(_q(k) for k in t.key)
        self._rows(t.name, ", ".join(t.key), "duplicate key (another row has the same key)",
                   f"SELECT _row, concat_ws('/', {key}) FROM (SELECT _row, {key}, "
                   f"count(*) OVER (PARTITION BY {key}) AS n FROM stg_{t.name}) WHERE n > 1")

    def _foreign_key(self, t, fk) -> None:
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

    def _brand_in_respondent_ta(self) -> None:
        self._rows("brand_ratings", "brand_id",
                   "brand is not of the therapy area the respondent was sampled in",
                   "SELECT r._row, r.brand_id FROM stg_brand_ratings r "
                   "JOIN stg_respondents p ON p.respondent_id = r.respondent_id "
                   "JOIN stg_brands b ON b.brand_id = r.brand_id WHERE b.ta_id <> p.ta_id")


def typed_select(t: Table) -> str:
    """The SELECT that turns a validated staging table into the typed table."""
    cols = ", ".join(f"CAST({_q(c.name)} AS {c.type}) AS {_q(c.name)}" for c in t.columns)
    return f"SELECT {cols} FROM stg_{t.name} ORDER BY _row"


def iter_tables() -> Iterator[Table]:
    return iter(TABLES)


__all__ = ["Problem", "Validator", "REQUIRED_TABLES", "typed_select", "TABLES_BY_NAME"]
