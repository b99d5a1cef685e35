"""Versioned Chroma storage: open the current index version, write a new one, switch atomically.

Local mode (`PersistentClient`)::

    <index_dir>/CURRENT                 name of the active version, replaced atomically
    <index_dir>/versions/<version>/     a complete Chroma store + manifest.json
    <index_dir>/.complete               marker for make, written after a successful build

Server mode (`HttpClient`): each version is a collection `<prefix>_<version>` whose metadata
holds the manifest; the collection `<prefix>_pointer` names the active one in its metadata.

Readers only ever open the version the pointer names, and a build only writes a version no
pointer names yet, so a build that fails or is killed at any moment leaves the previous
index untouched. chromadb is imported inside functions: it costs over a second.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import CxIndexError, IndexCorruptError, IndexNotBuiltError
from index.manifest import Manifest

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
MANIFEST_FILE = "manifest.json"
COMPLETE_MARKER = ".complete"
LOCAL_COLLECTION = "cxassist_chunks"
MANIFEST_KEY = "cxassist_manifest"
DEFAULT_PREFIX = "cxassist"
DEFAULT_PORT = 8000
# Chroma caps a single add at ~5000 records; 1000 keeps each HTTP request small too.
WRITE_BATCH = 1000
_VERSION_RE = re.compile(r"^v(\d{6,})-[0-9a-f]{6}$")


@dataclass(frozen=True)
class IndexLocation:
    """Where an index lives: a local directory, or a Chroma server plus a name prefix."""

    index_dir: Path
    host: str | None = None
    port: int = DEFAULT_PORT
    prefix: str = DEFAULT_PREFIX

    @property
    def server_mode(self) -> bool:
        return self.host is not None

    @property
    def label(self) -> str:
        if self.server_mode:
            return f"chroma://{self.host}:{self.port}/{self.prefix}"
        return str(self.index_dir)

    @property
    def pointer_name(self) -> str:
        return f"{self.prefix}_pointer"

    def collection_name(self, version: str) -> str:
        return f"{self.prefix}_{version}"


@dataclass
class Records:
    """Rows of a collection, in matching order."""

    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: np.ndarray | None = None


@dataclass
class OpenIndex:
    """A committed index version, opened for reading."""

    location: IndexLocation
    version: str
    manifest: Manifest
    client: Any
    collection: Any

    def close(self) -> None:
        _close_client(self.client)


@dataclass
class PendingVersion:
    """A version being written; invisible to readers until `commit_version`."""

    location: IndexLocation
    version: str
    client: Any
    collection: Any
    path: Path | None  # local mode only


def chroma_settings() -> Any:
    from chromadb.config import Settings

    # One Settings value everywhere: Chroma refuses a second client on the same path with
    # different settings in one process.
    return Settings(anonymized_telemetry=False, allow_reset=False)


def _close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # closing is best effort; the data is already durable
            pass


def _connect_server(location: IndexLocation) -> Any:
    import chromadb

    try:
        client = chromadb.HttpClient(
            host=location.host or "localhost", port=location.port, settings=chroma_settings()
        )
        client.heartbeat()
    except Exception as exc:
        raise CxIndexError(
            f"cannot reach the Chroma server at {location.host}:{location.port} "
            f"({type(exc).__name__}: {exc}); start it with `chroma run` or unset "
            "CXASSIST_CHROMA_HOST to use the local index"
        ) from None
    return client


def _connect_local(path: Path) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def _get_collection(client: Any, name: str) -> Any:
    # embedding_function=None: Chroma's default function would try to download a model.
    return client.get_collection(name=name, embedding_function=None)


def _is_not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError | ValueError) or "does not exist" in str(exc)


# ---------------------------------------------------------------- reading


def current_version(location: IndexLocation, client: Any | None = None) -> str | None:
    """Name of the active version, or None when no index was ever committed."""
    if location.server_mode:
        assert client is not None
        try:
            pointer = _get_collection(client, location.pointer_name)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        current = (pointer.metadata or {}).get("current")
        return str(current) if current else None
    try:
        name = (location.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def active_version(location: IndexLocation) -> str | None:
    """Like `current_version`, connecting to the server itself; None if it cannot tell."""
    try:
        if not location.server_mode:
            return current_version(location)
        client = _connect_server(location)
        try:
            return current_version(location, client)
        finally:
            _close_client(client)
    except Exception:
        return None


def open_index(location: IndexLocation) -> OpenIndex:
    """Open the active version; `IndexNotBuiltError` / `IndexCorruptError` otherwise."""
    if location.server_mode:
        return _open_server(location)
    return _open_local(location)


def _open_local(location: IndexLocation) -> OpenIndex:
    version = current_version(location)
    if version is None:
        raise IndexNotBuiltError(location.index_dir)
    vdir = location.index_dir / VERSIONS_DIR / version
    if not _VERSION_RE.match(version) or not vdir.is_dir():
        raise IndexCorruptError(location.label, f"{CURRENT_FILE} names missing version {version!r}")
    try:
        manifest = Manifest.from_json((vdir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(location.label, f"cannot read {MANIFEST_FILE}: {exc}") from None
    try:
        client = _connect_local(vdir)
    except Exception as exc:
        raise IndexCorruptError(location.label, f"Chroma cannot open {vdir}: {exc}") from None
    try:
        collection = _get_collection(client, LOCAL_COLLECTION)
    except Exception as exc:
        _close_client(client)
        raise IndexCorruptError(location.label, f"collection missing: {exc}") from None
    return _checked(OpenIndex(location, version, manifest, client, collection))


def _open_server(location: IndexLocation) -> OpenIndex:
    client = _connect_server(location)
    version = current_version(location, client)
    if version is None:
        raise IndexNotBuiltError(location.label)
    try:
        collection = _get_collection(client, location.collection_name(version))
    except Exception as exc:
        raise IndexCorruptError(
            location.label, f"collection for {version!r} missing: {exc}"
        ) from None
    try:
        manifest = Manifest.from_json(str((collection.metadata or {})[MANIFEST_KEY]))
    except (KeyError, ValueError) as exc:
        raise IndexCorruptError(location.label, f"manifest unreadable: {exc}") from None
    return _checked(OpenIndex(location, version, manifest, client, collection))


def _checked(opened: OpenIndex) -> OpenIndex:
    try:
        count = opened.collection.count()
    except Exception as exc:
        opened.close()
        raise IndexCorruptError(
            opened.location.label, f"Chroma cannot count chunks: {exc}"
        ) from None
    if count != opened.manifest.chunk_count:
        opened.close()
        raise IndexCorruptError(
            opened.location.label,
            f"store holds {count} chunks but the manifest lists {opened.manifest.chunk_count}",
        )
    return opened


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


# ---------------------------------------------------------------- writing


def _next_version(location: IndexLocation, existing: list[str]) -> str:
    numbers = [int(m.group(1)) for name in existing if (m := _VERSION_RE.match(name))]
    # The random suffix keeps names unique even if a directory is deleted and the number reused.
    return f"v{max(numbers, default=0) + 1:06d}-{secrets.token_hex(3)}"


def _server_versions(location: IndexLocation, client: Any) -> list[str]:
    start = f"{location.prefix}_"
    names = [getattr(c, "name", c) for c in client.list_collections()]
    versions = [n[len(start) :] for n in names if n.startswith(start)]
    return [v for v in versions if _VERSION_RE.match(v)]


def _local_versions(location: IndexLocation) -> list[str]:
    vroot = location.index_dir / VERSIONS_DIR
    if not vroot.is_dir():
        return []
    return [p.name for p in vroot.iterdir() if _VERSION_RE.match(p.name)]


def begin_version(location: IndexLocation) -> PendingVersion:
    create_args = {
        "embedding_function": None,
        # Cosine space: with normalised embeddings, similarity = 1 - distance.
        "configuration": {"hnsw": {"space": "cosine"}},
    }
    if location.server_mode:
        client = _connect_server(location)
        existing = _server_versions(location, client)
        current = current_version(location, client)
        version = _next_version(location, existing + ([current] if current else []))
        collection = client.create_collection(
            name=location.collection_name(version), metadata={"kind": "chunks"}, **create_args
        )
        return PendingVersion(location, version, client, collection, None)
    vroot = location.index_dir / VERSIONS_DIR
    vroot.mkdir(parents=True, exist_ok=True)
    current = current_version(location)
    version = _next_version(location, _local_versions(location) + ([current] if current else []))
    path = vroot / version
    path.mkdir()
    client = _connect_local(path)
    collection = client.create_collection(
        name=LOCAL_COLLECTION, metadata={"kind": "chunks", "version": version}, **create_args
    )
    return PendingVersion(location, version, client, collection, path)


def add_records(pending: PendingVersion, records: Records) -> None:
    assert records.embeddings is not None
    for i in range(0, len(records.ids), WRITE_BATCH):
        j = i + WRITE_BATCH
        pending.collection.add(
            ids=records.ids[i:j],
            embeddings=records.embeddings[i:j],
            documents=records.documents[i:j],
            metadatas=records.metadatas[i:j],
        )


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory + fsync + rename: readers see old or new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; readers may run as another user
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def commit_version(pending: PendingVersion, manifest: Manifest) -> None:
    """Make `pending` the active version (the single atomic step of a build)."""
    loc = pending.location
    count = pending.collection.count()
    if count != manifest.chunk_count:
        raise CxIndexError(f"build wrote {count} chunks but planned {manifest.chunk_count}")
    if loc.server_mode:
        pending.collection.modify(
            metadata={"kind": "chunks", MANIFEST_KEY: manifest.to_json()}
        )
        pointer = pending.client.get_or_create_collection(
            name=loc.pointer_name, embedding_function=None, metadata={"kind": "pointer"}
        )
        pointer.modify(metadata={"kind": "pointer", "current": pending.version})
        return
    assert pending.path is not None
    _write_atomic(pending.path / MANIFEST_FILE, manifest.to_json())
    _close_client(pending.client)  # release SQLite before readers open the version
    _write_atomic(loc.index_dir / CURRENT_FILE, pending.version + "\n")


def discard_version(pending: PendingVersion) -> None:
    """Best-effort removal of an uncommitted version (a later build prunes leftovers anyway)."""
    try:
        if pending.location.server_mode:
            pending.client.delete_collection(pending.location.collection_name(pending.version))
        else:
            _close_client(pending.client)
            if pending.path is not None:
                shutil.rmtree(pending.path, ignore_errors=True)
    except Exception:
        pass


def prune_versions(location: IndexLocation, keep: set[str]) -> list[str]:
    """Delete every version not in `keep`, including leftovers of killed builds.

    The caller keeps the version it just replaced, so a reader that opened it moments before
    the switch can finish its searches.
    """
    removed: list[str] = []
    if location.server_mode:
        client = _connect_server(location)
        for version in _server_versions(location, client):
            if version not in keep:
                try:
                    client.delete_collection(location.collection_name(version))
                    removed.append(version)
                except Exception:
                    pass
        return removed
    for version in _local_versions(location):
        if version not in keep:
            shutil.rmtree(location.index_dir / VERSIONS_DIR / version, ignore_errors=True)
            removed.append(version)
    return removed


def write_complete_marker(location: IndexLocation, version: str) -> None:
    if not location.server_mode:
        _write_atomic(location.index_dir / COMPLETE_MARKER, version + "\n")
