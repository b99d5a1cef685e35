"""Validated, atomic ingestion: files -> a new DuckDB database, or nothing at all.

The database is built in a temporary file beside the target and only renamed
over it (os.replace, atomic on one filesystem) after every rule passed and the
file was flushed; a bad input, a crash or a kill at any moment leaves the
previous database byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from cxengine.schema import SERVING_LAYOUT, TABLES, TABLES_BY_NAME
from cxengine.validation import Problem, Validator, typed_select

MAX_PROBLEMS_SHOWN = 50
INGEST_MEMORY_LIMIT = os.environ.get("CXASSIST_INGEST_MEMORY", "3GB")
if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", INGEST_MEMORY_LIMIT):
    raise ValueError(f"CXASSIST_INGEST_MEMORY must look like 3GB, not {INGEST_MEMORY_LIMIT!r}")
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


@dataclass(frozen=True)
class IngestReport:
    db: str
    dataset_version: str
    rows: dict[str, int]
    seconds: float
    source: str
    notes: list[str] = field(default_factory=list)


def _stage_sources(con: duckdb.DuckDBPyConnection, source: Path
                   ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Load every input table as text into stg_<table> with a 1-based `_row`."""
    files: dict[str, str] = {}
    if source.is_file() and source.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = pd.read_excel(source, sheet_name=None, dtype=str)
        for name, df in sheets.items():
            if name in TABLES_BY_NAME:
                df = df.where(df.notna(), None)
                df.insert(0, "_row", range(1, len(df) + 1))
                con.register("_sheet", df)
                con.execute(f"CREATE TABLE stg_{name} AS SELECT * FROM _sheet")
                con.unregister("_sheet")
                files[name] = f"{source.name} [sheet {name}]"
    elif source.is_dir():
        for t in TABLES:
            for ext in ("parquet", "csv"):
                path = source / f"{t.name}.{ext}"
                if path.exists():
                    _stage_file(con, t.name, path)
                    files[t.name] = path.name
                    break
    else:
        raise IngestError([Problem(str(source), None, None, None,
                                   "expected a folder of CSV/Parquet files or an .xlsx workbook")])
    columns = {name: [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
        [f"stg_{name}"]).fetchall()] for name in files}
    return files, columns


def _stage_file(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    try:
        if path.suffix == ".parquet":
            reader = "read_parquet(?, file_row_number = true)"
            con.execute(f"CREATE TABLE stg_{name} AS SELECT file_row_number + 1 AS _row, "
                        f"* EXCLUDE (file_row_number) FROM {reader}", [str(path)])
        else:
            # all_varchar: a bad value must become a reported problem, not a load error.
            con.execute(f"CREATE TABLE stg_{name} AS SELECT row_number() OVER () AS _row, * "
                        "FROM read_csv(?, header = true, all_varchar = true)", [str(path)])
    except duckdb.Error as exc:
        raise IngestError([Problem(path.name, None, None, None,
                                   f"cannot read file: {exc}".splitlines()[0])]) from exc


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
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):
        try:
            pid = int(stale.name.split(".")[-2 if stale.name.endswith(".tmp") else -3])
            os.kill(pid, 0)
        except ProcessLookupError:
            stale.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError):
            continue


def ingest(source: Path | str, db: Path | str) -> IngestReport:
    """Validate `source` and atomically replace `db` with a database built from it."""
    started = time.perf_counter()
    source, db = Path(source), Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(db)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        # Bounded memory at any scale: DuckDB spills to disk beyond this.
        con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        try:
            report = _build(con, source, db)
        finally:
            con.close()
        with open(tmp, "rb+") as fh:  # flushed to disk before it can replace the old file
            os.fsync(fh.fileno())
        os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return IngestReport(str(db), report[0], report[1], round(time.perf_counter() - started, 3),
                        str(source), report[2])


def _build(con: duckdb.DuckDBPyConnection, source: Path, db: Path
           ) -> tuple[str, dict[str, int], list[str]]:
    started = time.perf_counter()
    files, columns = _stage_sources(con, source)
    validator = Validator(con, files)
    problems = validator.run(set(files), columns)
    if problems:
        raise IngestError(problems, validator.omitted)
    notes, rows = [], {}
    for t in TABLES:
        if t.name in files:
            con.execute(f"CREATE TABLE {t.name} AS {typed_select(t)}")
            con.execute(f"DROP TABLE stg_{t.name}")
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
