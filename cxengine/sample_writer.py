"""Streams data-model tables to Parquet or CSV files, one row group per call.

Writing cell by cell keeps memory bounded at any --scale; the Arrow schema comes
from the data model so Parquet and CSV agree on types.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cxengine.schema import TABLES_BY_NAME

_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(),
                "BOOLEAN": pa.bool_(), "DATE": pa.date32()}


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in TABLES_BY_NAME[table].columns])


class TableWriter:
    def __init__(self, out_dir: Path, fmt: str):
        self.out_dir, self.fmt = out_dir, fmt
        self._writers: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}
        self._rows: dict[str, int] = {}

    def write(self, name: str, table: pa.Table) -> None:
        schema = arrow_schema(name)
        table = table.select(schema.names).cast(schema)
        if name not in self._writers:
            path = self.out_dir / f"{name}.{self.fmt}"
            self._writers[name] = (
                pq.ParquetWriter(path, schema, compression="zstd")
                if self.fmt == "parquet" else pacsv.CSVWriter(path, schema)
            )
            self._rows[name] = 0
        self._writers[name].write_table(table)
        self._rows[name] += table.num_rows

    def close(self) -> dict[str, int]:
        for w in self._writers.values():
            w.close()
        # Tables with no rows at all still get a file with the header/schema.
        for name in TABLES_BY_NAME:
            if name not in self._writers:
                self.write(name, arrow_schema(name).empty_table())
                self._writers[name].close()
        return dict(self._rows)
