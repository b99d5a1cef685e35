"""Validated, atomic ingestion: files -> a new DuckDB database, or nothing at all.

The database is built in a temporary file beside the target and only renamed
over it (os.replace, atomic on one filesystem) after every rule passed and the
file was flushed; a bad input, a crash or a kill at any moment leaves the
previous database byte-identical.

Two kinds of failure, told apart: the input is invalid (`IngestError`, every
problem at once, exit status 2), or the new database cannot be written
(`DatabaseWriteError`: disk full, file-size limit, read-only or unwritable
folder; exit status 1). Either way the old database is untouched and the
temporary files are gone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import time
import zipfile
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from cxengine.schema import SERVING_LAYOUT, TABLES, TABLES_BY_NAME
from cxengine.validation import (
    ROWS_PER_RULE,
    Problem,
    Validator,
    csv_row_lines,
    lines_at,
    typed_select,
)

MAX_PROBLEMS_SHOWN = 50
INGEST_MEMORY_LIMIT = os.environ.get("CXASSIST_INGEST_MEMORY", "3GB")
if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", INGEST_MEMORY_LIMIT):
    raise ValueError(f"CXASSIST_INGEST_MEMORY must look like 3GB, not {INGEST_MEMORY_LIMIT!r}")
# DuckDB errors that mean a file of the new database could not be written (not a bad input).
WRITE_ERRORS = (duckdb.IOException, duckdb.TransactionException, duckdb.PermissionException)
# The class prefixes DuckDB puts before its messages ("IO Error: ...").
DUCKDB_PREFIX = re.compile(r"^(?:[A-Za-z]+(?: [A-Za-z]+)* Error: )+(?:Failed to commit: )?")
CSV_DELIMITERS = ",;\t|"
# Serving table: ratings with their respondent, brand and wave attributes and the number of
# distinct channels the rater experienced with the brand (omnichannel breadth, otherwise a
# count-distinct over every channel interaction per question), sorted so that a question
# about one TA / market / wave reads only that part of the table.
RATING_FACTS_SQL = """
CREATE TABLE rating_facts AS
SELECT r.*, p.wave_id, p.market_id, p.ta_id, p.specialty, p.setting, p.weight,
       b.company, w.wave_type, w.sequence AS wave_sequence,
       coalesce(bc.n_channels, 0) AS n_channels
FROM brand_ratings r
JOIN respondents p ON p.respondent_id = r.respondent_id
JOIN brands b ON b.brand_id = r.brand_id
JOIN waves w ON w.wave_id = p.wave_id
LEFT JOIN (SELECT respondent_id, brand_id, count(DISTINCT channel_id) AS n_channels
           FROM channel_interactions GROUP BY respondent_id, brand_id) bc
       ON bc.respondent_id = r.respondent_id AND bc.brand_id = r.brand_id
ORDER BY p.ta_id, p.market_id, w.sequence, r.brand_id, r.respondent_id
"""


class IngestError(Exception):
    """The input is invalid; nothing was written. `problems` lists every issue found."""

    def __init__(self, problems: list[Problem], omitted: int = 0):
        self.problems, self.omitted = problems, omitted
        super().__init__(self.message())

    def message(self, limit: int = MAX_PROBLEMS_SHOWN) -> str:
        total = len(self.problems) + self.omitted
        lines = [f"invalid input: {total} problem(s); the existing database was not changed"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        rest = total - min(limit, len(self.problems))
        if rest > 0:
            lines.append(f"  ... and {rest} more")
        return "\n".join(lines)


class DatabaseWriteError(Exception):
    """The new database could not be written; the existing one was not changed."""

    def __init__(self, db: Path, reason: str):
        self.db, self.reason = db, reason
        super().__init__(f"cannot write the database ({reason}); {db} was not changed. "
                         "Free disk space or choose a writable folder (--db FILE).")


@dataclass(frozen=True)
class IngestReport:
    db: str
    dataset_version: str
    rows: dict[str, int]
    seconds: float
    source: str
    notes: list[str] = field(default_factory=list)


def _reason(exc: BaseException) -> str:
    """One line saying what went wrong, without DuckDB's error-class prefixes."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).strip()
    return DUCKDB_PREFIX.sub("", text.splitlines()[0]) if text else type(exc).__name__


# --- staging: every input table as text, in stg_<table> with a 1-based `_row` ---------------
@dataclass(frozen=True)
class StagedTable:
    """One staged input table, and how its data rows map to what the user sees."""

    label: str  # the file, or the workbook and sheet, that messages name
    kind: str  # csv | parquet | sheet
    path: Path
    rows: int = 0
    delimiter: str = ","

    def lines(self, rows: set[int]) -> dict[int, int]:
        """The CSV line or sheet row of each data row (Parquet has neither)."""
        if self.kind == "sheet":
            return {r: r + 1 for r in rows}  # sheet row 1 is the header
        if self.kind == "csv":
            return csv_row_lines(self.path, self.delimiter, self.rows, rows)
        return {}


@dataclass
class Staging:
    """The staged tables, their columns, and what was wrong before any rule ran."""

    tables: dict[str, StagedTable] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)  # present, but not staged whole
    problems: list[Problem] = field(default_factory=list)
    omitted: int = 0

    def labels(self) -> dict[str, str]:
        return {name: t.label for name, t in self.tables.items()}

    def with_lines(self, problems: list[Problem]) -> list[Problem]:
        """`problems` with the CSV line or sheet row of each reported data row."""
        by_label = {t.label: t for t in self.tables.values()}
        wanted: dict[str, set[int]] = defaultdict(set)
        for p in problems:
            if p.row is not None and p.file in by_label:
                wanted[p.file].add(p.row)
        lines = {}
        for label, rows in wanted.items():
            with suppress(OSError, ValueError, csv.Error):  # then the message says "row" only
                lines[label] = by_label[label].lines(rows)
        return [replace(p, line=lines[p.file].get(p.row), sheet=by_label[p.file].kind == "sheet")
                if p.file in lines else p for p in problems]


def _stage_sources(con: duckdb.DuckDBPyConnection, source: Path) -> Staging:
    staging = Staging()
    if source.is_file() and source.suffix.lower() in (".xlsx", ".xlsm"):
        _stage_workbook(con, source, staging)
    elif source.is_dir():
        for t in TABLES:
            found = [source / f"{t.name}.{ext}" for ext in ("parquet", "csv")]
            path = next((p for p in found if p.exists()), None)
            if path is not None:
                _stage_file(con, t.name, path, staging)
    else:
        raise IngestError([Problem(str(source), None, None, None,
                                   "expected a folder of CSV/Parquet files or an .xlsx workbook")])
    for name in staging.tables:
        staging.columns[name] = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND column_name <> '_row' ORDER BY ordinal_position", [f"stg_{name}"]).fetchall()]
    return staging


def _stage_workbook(con: duckdb.DuckDBPyConnection, source: Path, staging: Staging) -> None:
    try:
        sheets = pd.read_excel(source, sheet_name=None, dtype=str)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise IngestError([Problem(source.name, None, None, None,
                                   f"cannot read file: {_reason(exc)}")]) from exc
    for name, df in sheets.items():
        if name in TABLES_BY_NAME:
            df = df.where(df.notna(), None)
            df.insert(0, "_row", range(1, len(df) + 1))
            con.register("_sheet", df)
            con.execute(f"CREATE TABLE stg_{name} AS SELECT _row, "
                        "CAST(COLUMNS(* EXCLUDE (_row)) AS VARCHAR) FROM _sheet")
            con.unregister("_sheet")
            staging.tables[name] = StagedTable(f"{source.name} [sheet {name}]", "sheet", source)


def _stage_file(con: duckdb.DuckDBPyConnection, name: str, path: Path, staging: Staging) -> None:
    try:
        if path.suffix == ".parquet":
            # As text like CSV, so a column of the wrong type becomes a reported problem; a
            # view, as a columnar file is cheap to read again and need not be copied. Reading
            # every value once here makes a damaged file fail now, not inside a rule.
            con.execute(f"CREATE VIEW stg_{name} AS SELECT file_row_number + 1 AS _row, "
                        "CAST(COLUMNS(* EXCLUDE (file_row_number)) AS VARCHAR) "
                        f"FROM read_parquet({_sql_string(str(path))}, file_row_number = true)")
            con.execute(f"SELECT count(COLUMNS(*)) FROM stg_{name}").fetchall()
            staging.tables[name] = StagedTable(path.name, "parquet", path)
        else:
            _stage_csv(con, name, path, staging)
    except (OSError, ValueError, csv.Error, duckdb.Error) as exc:
        if isinstance(exc, WRITE_ERRORS) and str(path) not in str(exc):
            raise  # the staging database could not be written: not a problem of the input
        staging.unreadable.add(name)
        staging.problems.append(Problem(path.name, None, None, None,
                                        f"cannot read file: {_reason(exc)}"))


def _stage_csv(con: duckdb.DuckDBPyConnection, name: str, path: Path, staging: Staging) -> None:
    """Stage a CSV with the header as read here, so one short or long line is reported by its
    line number instead of making DuckDB's sniffer guess a single-column file."""
    header, delimiter = _csv_header(path)
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        staging.unreadable.add(name)
        staging.problems += [Problem(path.name, None, h, None, "column named twice in the header")
                             for h in twice]
        return
    columns = ", ".join(f"{_sql_string(h)}: 'VARCHAR'" for h in header)
    con.execute(f"CREATE TABLE stg_{name} AS SELECT row_number() OVER () AS _row, * "
                "FROM read_csv(?, header = true, auto_detect = false, delim = ?, quote = '\"', "
                f"escape = '\"', columns = {{{columns}}}, store_rejects = true, "
                f"rejects_table = 'rejects_{name}', rejects_scan = 'rejects_scan_{name}')",
                [str(path), delimiter])
    # DuckDB's own line numbers skip blank lines and quoted line breaks: count from the offset
    rejected = con.execute(f"SELECT min(line_byte_position), min(csv_line), min(error_message) "
                           f"FROM rejects_{name} GROUP BY line ORDER BY line").fetchall()
    if rejected:
        con.execute(f"DROP TABLE stg_{name}")
        staging.unreadable.add(name)
        shown = rejected[:ROWS_PER_RULE]
        lines = lines_at(path, [offset for offset, _, _ in shown])
        staging.problems += [Problem(path.name, None, None, None,
                                     _bad_line_rule(text, message, delimiter, len(header)),
                                     line=lines[offset]) for offset, text, message in shown]
        staging.omitted += len(rejected) - len(shown)
        return
    rows = con.execute(f"SELECT count(*) FROM stg_{name}").fetchone()[0]
    staging.tables[name] = StagedTable(path.name, "csv", path, rows, delimiter)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_header(path: Path) -> tuple[list[str], str]:
    """The column names of a CSV file and its delimiter (the likeliest one in the header)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
    if not first.strip():
        raise ValueError("the file is empty: no header line")
    delimiter = max(CSV_DELIMITERS, key=first.count)
    if delimiter not in first:
        delimiter = ","
    return next(csv.reader([first], delimiter=delimiter)), delimiter


def _bad_line_rule(text: str, message: str, delimiter: str, expected: int) -> str:
    if "Expected Number of Columns" in message:
        found = len(next(csv.reader([text.lstrip("\r\n")], delimiter=delimiter), []))
        return f"{found} fields, expected {expected}"
    return f"cannot split the line into fields ({message.splitlines()[0]})"


def dataset_version(con: duckdb.DuckDBPyConnection) -> str:
    """Content hash of all tables, independent of row order and file format."""
    h = hashlib.sha256()
    for t in TABLES:
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        n, x = con.execute(f"SELECT count(*), coalesce(bit_xor(hash({cols})), 0) FROM {t.name}"
                           ).fetchone()
        h.update(f"{t.name}:{n}:{x};".encode())
    return h.hexdigest()[:16]


def _previous_log(db: Path) -> pd.DataFrame | None:
    if not db.exists():
        return None
    try:
        with duckdb.connect(str(db), read_only=True) as old:
            return old.execute("SELECT * FROM ingest_log").df()
    except duckdb.Error:
        return None  # an unreadable old database has no history worth keeping


def _remove_stale_builds(db: Path) -> None:
    """Temp files of builds that were killed (their process is gone) are garbage."""
    own = re.compile(rf"\.{re.escape(db.name)}\.(\d+)\.tmp")
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):
        if (match := own.match(stale.name)) is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        except PermissionError:
            continue  # alive, under another user


def _remove_build_files(tmp: Path) -> None:
    """The temporary database, its WAL and DuckDB's spill folder; a failure to remove them must
    not hide the error that ended the build."""
    for leftover in (tmp, Path(f"{tmp}.wal")):
        with suppress(OSError):
            leftover.unlink(missing_ok=True)
    shutil.rmtree(f"{tmp}.tmp", ignore_errors=True)


def ingest(source: Path | str, db: Path | str) -> IngestReport:
    """Validate `source` and atomically replace `db` with a database built from it.

    Raises IngestError (invalid input) or DatabaseWriteError (the new database cannot be
    written); either way `db` is unchanged."""
    started = time.perf_counter()
    source, db = Path(source), Path(db)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    try:
        if db.parent.exists() and not db.parent.is_dir():
            raise DatabaseWriteError(db, f"{db.parent} is not a folder")
        db.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(db)
        _remove_build_files(tmp)
        version, rows, notes = _build_file(tmp, source, db)
        os.replace(tmp, db)
    except (OSError, *WRITE_ERRORS) as exc:
        raise DatabaseWriteError(db, _reason(exc)) from exc
    finally:
        _remove_build_files(tmp)
    return IngestReport(str(db), version, rows, round(time.perf_counter() - started, 3),
                        str(source), notes)


def _build_file(tmp: Path, source: Path, db: Path) -> tuple[str, dict[str, int], list[str]]:
    """Build the new database in `tmp` and flush it to disk."""
    con = duckdb.connect(str(tmp))
    try:
        # Bounded memory at any scale: DuckDB spills to disk beyond this.
        con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        report = _build(con, source, db)
    finally:
        con.close()
    with open(tmp, "rb+") as fh:  # flushed to disk before it can replace the old file
        os.fsync(fh.fileno())
    return report


def _build(con: duckdb.DuckDBPyConnection, source: Path, db: Path
           ) -> tuple[str, dict[str, int], list[str]]:
    started = time.perf_counter()
    staging = _stage_sources(con, source)
    validator = Validator(con, staging.labels())
    problems = staging.problems + validator.run(staging.columns, frozenset(staging.unreadable))
    if problems:
        raise IngestError(staging.with_lines(problems), staging.omitted + validator.omitted)
    notes, rows = [], {}
    for t in TABLES:
        if t.name in staging.tables:
            con.execute(f"CREATE TABLE {t.name} AS {typed_select(t)}")
            kind = "VIEW" if staging.tables[t.name].kind == "parquet" else "TABLE"
            con.execute(f"DROP {kind} stg_{t.name}")
        else:
            cols = ", ".join(f'"{c.name}" {c.type}' for c in t.columns)
            con.execute(f"CREATE TABLE {t.name} ({cols})")
            notes.append(f"optional table {t.name} not in the input: created empty")
        rows[t.name] = con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
    version = dataset_version(con)
    con.execute(RATING_FACTS_SQL)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    con.execute("CREATE TABLE dataset_info (key VARCHAR, value VARCHAR)")
    con.executemany("INSERT INTO dataset_info VALUES (?, ?)",
                    [["dataset_version", version], ["ingested_at", now],
                     ["source", str(source)], ["serving_layout", str(SERVING_LAYOUT)]])
    con.execute("CREATE TABLE ingest_log (ingested_at VARCHAR, source VARCHAR, "
                "dataset_version VARCHAR, row_counts VARCHAR, seconds DOUBLE, notes VARCHAR)")
    previous = _previous_log(db)
    if previous is not None and len(previous):
        con.register("_prev", previous)
        con.execute("INSERT INTO ingest_log SELECT * FROM _prev")
        con.unregister("_prev")
    con.execute("INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?)",
                [now, str(source), version, json.dumps(rows),
                 round(time.perf_counter() - started, 3), "; ".join(notes)])
    con.execute("CHECKPOINT")
    return version, rows, notes
