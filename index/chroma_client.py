"""Chroma connections and batched record I/O, for the local store and a Chroma server alike.

`index.store` decides *which* collection is the index (versions, pointer, manifest); this module
only talks to Chroma: connecting with the one `Settings` value, checking a local store's SQLite
file before Chroma opens it, and reading or writing rows in batches. chromadb is imported
inside functions: it costs over a second.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import CxIndexError

# The file a `PersistentClient` keeps its records in.
CHROMA_SQLITE = "chroma.sqlite3"
# Chroma caps a single add at ~5000 records; 1000 keeps each HTTP request small too.
WRITE_BATCH = 1000


@dataclass
class Records:
    """Rows of a collection, in matching order."""

    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: np.ndarray | None = None


def chroma_settings() -> Any:
    from chromadb.config import Settings

    # One Settings value everywhere: Chroma refuses a second client on the same path with
    # different settings in one process.
    return Settings(anonymized_telemetry=False, allow_reset=False)


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # closing is best effort; the data is already durable
            pass


def connect_server(host: str | None, port: int) -> Any:
    import chromadb

    try:
        client = chromadb.HttpClient(host=host or "localhost", port=port,
                                     settings=chroma_settings())
        client.heartbeat()
    except Exception as exc:
        raise CxIndexError(
            f"cannot reach the Chroma server at {host}:{port} "
            f"({type(exc).__name__}: {exc}); start it with `chroma run` or unset "
            "CXASSIST_CHROMA_HOST to use the local index"
        ) from None
    return client


def connect_local(path: Path) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def local_store_problem(path: Path) -> str | None:
    """Why the local store in `path` cannot be opened, or None if its SQLite file looks sound.

    Checked before Chroma sees the file: Chroma would create a fresh database in place of a
    missing one (a reader must not write), and on a damaged one its Rust core may panic with a
    backtrace instead of raising. `quick_check` reads every page (about 50 ms for the sample
    index) but skips the slower index-consistency checks of `integrity_check`.
    """
    db = path / CHROMA_SQLITE
    if not db.is_file():
        return f"{db} is missing"
    if db.stat().st_size == 0:
        return f"{db} is empty"
    try:
        # as_uri() percent-encodes the path, so "?" or "#" in a folder name stay part of it.
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"{db} is not a readable SQLite database ({exc})"
    if verdict is None or verdict[0] != "ok":
        # The report starts with a "*** in database main ***" banner; the next line says what.
        lines = [ln for ln in str(verdict[0] if verdict else "").splitlines()
                 if ln.strip() and not ln.startswith("***")]
        return f"{db} is damaged ({lines[0] if lines else 'quick_check failed'})"
    return None


def get_collection(client: Any, name: str) -> Any:
    # embedding_function=None: Chroma's default function would try to download a model.
    return client.get_collection(name=name, embedding_function=None)


def is_not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError | ValueError) or "does not exist" in str(exc)


def read_records(
    collection: Any, ids: list[str] | None = None, *, embeddings: bool = False
) -> Records:
    """All rows (ids=None) or the given ids, fetched in batches."""
    include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
    out = Records([], [], [])
    vectors: list[np.ndarray] = []
    batches: list[dict[str, Any]]
    if ids is None:
        total = collection.count()
        batches = [{"limit": WRITE_BATCH, "offset": off} for off in range(0, total, WRITE_BATCH)]
    else:
        batches = [{"ids": ids[i : i + WRITE_BATCH]} for i in range(0, len(ids), WRITE_BATCH)]
    for kwargs in batches:
        got = collection.get(include=include, **kwargs)
        out.ids.extend(got["ids"])
        out.documents.extend(d or "" for d in got["documents"])
        out.metadatas.extend(dict(m or {}) for m in got["metadatas"])
        if embeddings and len(got["ids"]):
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
    if embeddings:
        out.embeddings = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
    return out


def write_records(collection: Any, records: Records) -> None:
    """Add rows with their embeddings, in batches Chroma accepts."""
    assert records.embeddings is not None
    for i in range(0, len(records.ids), WRITE_BATCH):
        j = i + WRITE_BATCH
        collection.add(
            ids=records.ids[i:j],
            embeddings=records.embeddings[i:j],
            documents=records.documents[i:j],
            metadatas=records.metadatas[i:j],
        )
