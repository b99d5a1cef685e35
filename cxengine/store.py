"""Read-only access to the benchmark database, safe for concurrent callers.

One read-only DuckDB connection per store; each thread gets its own cursor
(DuckDB connections are not thread-safe, cursors on one connection are).
Every statement goes through `query`, which runs it parameterised and records
it, exactly as executed, for the evidence of the result being built.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

DEFAULT_DB = Path("data/cx.duckdb")
DEFAULT_TIMEOUT_S = 20.0


class StoreError(Exception):
    """The database is missing, unreadable or not a benchmark database."""


class QueryTimeout(StoreError):
    """A statement ran past the time limit and was interrupted."""


@dataclass(frozen=True)
class SqlRecord:
    sql: str
    params: list[Any]
    rows: int
    ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sql", "sql": self.sql, "params": [_jsonable(p) for p in self.params],
                "rows": self.rows, "ms": self.ms}


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


class Store:
    def __init__(self, db: Path | str = DEFAULT_DB, *, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.path = Path(db)
        self.timeout_s = timeout_s
        if not self.path.exists():
            raise StoreError(f"no database at {self.path}: run `cxassist data build` "
                             "(sample) or `cxassist data ingest PATH`")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
            info = dict(self._con.execute("SELECT key, value FROM dataset_info").fetchall())
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path} as a benchmark database "
                             f"({str(exc).splitlines()[0]}); rebuild it with "
                             "`cxassist data build` or `cxassist data ingest PATH`") from exc
        self.dataset_version: str = info.get("dataset_version", "unknown")
        self.info = info
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
        return cur

    def query(self, sql: str, params: list[Any] | None = None,
              log: list[SqlRecord] | None = None) -> pd.DataFrame:
        """Run one parameterised statement; append it to `log` as executed."""
        params = list(params or [])
        cur = self._cursor()
        started = time.perf_counter()
        timer = threading.Timer(self.timeout_s, cur.interrupt)
        timer.start()
        try:
            df = cur.execute(sql, params).df()
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"the query ran longer than {self.timeout_s:g} s and was "
                               "stopped; narrow the question (a brand, market or wave)") from exc
        finally:
            timer.cancel()
        if log is not None:
            log.append(SqlRecord(sql, params, len(df),
                                 round((time.perf_counter() - started) * 1000, 2)))
        return df

    def close(self) -> None:
        self._con.close()


def describe(store: Store) -> dict[str, Any]:
    """Tables, row counts and the catalogue in brief (`cxassist data info`)."""
    tables = [r[0] for r in store.query(
        "SELECT table_name FROM information_schema.tables ORDER BY table_name").itertuples(
        index=False)]
    counts = {t: int(store.query(f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0])
              for t in tables}
    waves = store.query("SELECT wave_id, wave_type FROM waves ORDER BY sequence")
    return {
        "db": str(store.path),
        "dataset_version": store.dataset_version,
        "ingested_at": store.info.get("ingested_at"),
        "tables": counts,
        "waves": [{"wave_id": w, "wave_type": t} for w, t in waves.itertuples(index=False)],
        "markets": store.query("SELECT market_id FROM markets ORDER BY market_id")
        ["market_id"].tolist(),
        "therapy_areas": store.query("SELECT ta_id FROM therapy_areas ORDER BY ta_id")
        ["ta_id"].tolist(),
        "brands": store.query("SELECT brand_id FROM brands ORDER BY brand_id")
        ["brand_id"].tolist(),
        "channels": store.query("SELECT channel_id FROM channels ORDER BY channel_id")
        ["channel_id"].tolist(),
    }
