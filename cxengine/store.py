"""Read-only access to the benchmark database, safe for concurrent callers.

One read-only DuckDB connection per store; each thread gets its own cursor
(DuckDB connections are not thread-safe, cursors on one connection are).
Every statement goes through `query`, which runs it parameterised and records
it, exactly as executed, for the evidence of the result being built.

Statements run on one DuckDB worker thread each: with several, a parallel aggregate adds
floating-point partial sums in whatever order the workers finish, and the same question gave
numbers differing in the last bits from one run to the next. Concurrency comes from the
per-thread cursors instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cxengine.schema import SERVING_LAYOUT

DEFAULT_DB = Path("data/cx.duckdb")
DEFAULT_TIMEOUT_S = 20.0
QUERY_THREADS = 1  # reproducible sums: see the module docstring


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


class Watchdog:
    """Interrupts statements that outlive their deadline.

    One thread for the whole process: starting a timer thread per query would cost
    more than most of the queries themselves.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, duckdb.DuckDBPyConnection]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None

    def arm(self, cursor: duckdb.DuckDBPyConnection, timeout_s: float) -> int:
        with self._cond:
            self._next += 1
            self._armed[self._next] = (time.monotonic() + timeout_s, cursor)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="cx-query-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
            return self._next

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, cursor) in list(self._armed.items()):
                    if deadline <= now:
                        cursor.interrupt()
                        del self._armed[token]
                soonest = min((d for d, _ in self._armed.values()), default=now + 60.0)
                self._cond.wait(max(soonest - now, 0.01))


WATCHDOG = Watchdog()


class Store:
    def __init__(self, db: Path | str = DEFAULT_DB, *, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.path = Path(db)
        self.timeout_s = timeout_s
        if not self.path.exists():
            raise StoreError(f"no database at {self.path}: run `cxassist data build` "
                             "(sample) or `cxassist data ingest PATH`")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
            # SET rather than connect(config=...): DuckDB refuses a second connection to the
            # same file with a different config, and callers may hold one already.
            self._con.execute(f"SET threads = {QUERY_THREADS}")
            info = dict(self._con.execute("SELECT key, value FROM dataset_info").fetchall())
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path} as a benchmark database "
                             f"({str(exc).splitlines()[0]}); rebuild it with "
                             "`cxassist data build` or `cxassist data ingest PATH`") from exc
        if info.get("serving_layout") != str(SERVING_LAYOUT):
            self._con.close()
            raise StoreError(f"{self.path} was built by an older version of cxassist; load it "
                             "again with `cxassist data build` (sample) or "
                             "`cxassist data ingest PATH`")
        self.dataset_version: str = info.get("dataset_version", "unknown")
        self.info = info
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
        return cur

    def _run(self, sql: str, params: list[Any], log: list[SqlRecord] | None, fetch):
        cur = self._cursor()
        started = time.perf_counter()
        token = WATCHDOG.arm(cur, self.timeout_s)
        try:
            result = fetch(cur.execute(sql, params))
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"the query ran longer than {self.timeout_s:g} s and was "
                               "stopped; narrow the question (a brand, market or wave)") from exc
        finally:
            WATCHDOG.disarm(token)
        if log is not None:
            log.append(SqlRecord(sql, params, len(result),
                                 round((time.perf_counter() - started) * 1000, 2)))
        return result

    def query(self, sql: str, params: list[Any] | None = None,
              log: list[SqlRecord] | None = None) -> pd.DataFrame:
        """Run one parameterised statement into a DataFrame; append it to `log` as executed."""
        return self._run(sql, list(params or []), log, lambda r: r.df())

    def rows(self, sql: str, params: list[Any] | None = None,
             log: list[SqlRecord] | None = None) -> list[dict[str, Any]]:
        """Like `query`, as a list of dicts: cheaper for the small aggregates analyses read."""
        def fetch(r: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
            names = [d[0] for d in r.description]
            return [dict(zip(names, row, strict=True)) for row in r.fetchall()]
        return self._run(sql, list(params or []), log, fetch)

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
