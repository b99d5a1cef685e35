"""Versioned Chroma storage: open the current index version, write a new one, switch atomically.

Local mode (`PersistentClient`)::

    <index_dir>/CURRENT                 name of the active version, replaced atomically
    <index_dir>/versions/<version>/     a complete Chroma store + manifest.json
    <index_dir>/.complete               marker for make, written after a successful build

Server mode (`HttpClient`): each version is a collection `<prefix>_<version>` whose metadata
holds the manifest; the collection `<prefix>_pointer` names the active one in its metadata.

Readers only ever open the version the pointer names, and a build only writes a version no
pointer names yet, so a build that fails or is killed at any moment leaves the previous
index untouched. Talking to Chroma itself (clients, batched reads and writes) is
`index.chroma_client`.
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

from index.chroma_client import (
    Records,
    close_client,
    connect_local,
    connect_server,
    get_collection,
    is_not_found,
    local_store_problem,
    write_records,
)
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
class OpenIndex:
    """A committed index version, opened for reading."""

    location: IndexLocation
    version: str
    manifest: Manifest
    client: Any
    collection: Any

    def close(self) -> None:
        close_client(self.client)


@dataclass
class PendingVersion:
    """A version being written; invisible to readers until `commit_version`."""

    location: IndexLocation
    version: str
    client: Any
    collection: Any
    path: Path | None  # local mode only


# ---------------------------------------------------------------- reading


def current_version(location: IndexLocation, client: Any | None = None) -> str | None:
    """Name of the active version, or None when no index was ever committed."""
    if location.server_mode:
        assert client is not None
        try:
            pointer = get_collection(client, location.pointer_name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        current = (pointer.metadata or {}).get("current")
        return str(current) if current else None
    pointer_file = location.index_dir / CURRENT_FILE
    try:
        name = pointer_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:  # e.g. binary garbage, or a directory
        raise IndexCorruptError(location.label, f"cannot read {pointer_file}: {exc}") from None
    return name or None


def active_version(location: IndexLocation) -> str | None:
    """Like `current_version`, connecting to the server itself; None if it cannot tell."""
    try:
        if not location.server_mode:
            return current_version(location)
        client = connect_server(location.host, location.port)
        try:
            return current_version(location, client)
        finally:
            close_client(client)
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
        raise IndexCorruptError(
            location.label,
            f"{location.index_dir / CURRENT_FILE} names missing version {version[:80]!r}",
        )
    manifest_file = vdir / MANIFEST_FILE
    try:
        manifest = Manifest.from_json(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise IndexCorruptError(location.label, f"cannot read {manifest_file}: {exc}") from None
    problem = local_store_problem(vdir)
    if problem is not None:
        raise IndexCorruptError(location.label, problem)
    try:
        client = connect_local(vdir)
    except Exception as exc:
        raise IndexCorruptError(location.label, f"Chroma cannot open {vdir}: {exc}") from None
    try:
        collection = get_collection(client, LOCAL_COLLECTION)
    except Exception as exc:
        close_client(client)
        raise IndexCorruptError(
            location.label, f"{vdir} holds no collection {LOCAL_COLLECTION!r}: {exc}"
        ) from None
    return _checked(OpenIndex(location, version, manifest, client, collection))


def _open_server(location: IndexLocation) -> OpenIndex:
    client = connect_server(location.host, location.port)
    version = current_version(location, client)
    if version is None:
        raise IndexNotBuiltError(location.label)
    try:
        collection = get_collection(client, location.collection_name(version))
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
        client = connect_server(location.host, location.port)
        existing = _server_versions(location, client)
        current = current_version(location, client)
        version = _next_version(location, existing + ([current] if current else []))
        collection = client.create_collection(
            name=location.collection_name(version), metadata={"kind": "chunks"}, **create_args
        )
        return PendingVersion(location, version, client, collection, None)
    vroot = location.index_dir / VERSIONS_DIR
    vroot.mkdir(parents=True, exist_ok=True)
    current = active_version(location)  # None if CURRENT is unreadable: --rebuild replaces it
    version = _next_version(location, _local_versions(location) + ([current] if current else []))
    path = vroot / version
    path.mkdir()
    client = connect_local(path)
    collection = client.create_collection(
        name=LOCAL_COLLECTION, metadata={"kind": "chunks", "version": version}, **create_args
    )
    return PendingVersion(location, version, client, collection, path)


def add_records(pending: PendingVersion, records: Records) -> None:
    write_records(pending.collection, records)


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
    close_client(pending.client)  # release SQLite before readers open the version
    _write_atomic(loc.index_dir / CURRENT_FILE, pending.version + "\n")


def discard_version(pending: PendingVersion) -> None:
    """Best-effort removal of an uncommitted version (a later build prunes leftovers anyway)."""
    try:
        if pending.location.server_mode:
            pending.client.delete_collection(pending.location.collection_name(pending.version))
        else:
            close_client(pending.client)
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
        client = connect_server(location.host, location.port)
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
    # Temp files of pointer writes a kill interrupted; only builds write them, and the caller
    # holds the build lock, so none of these belongs to a live writer.
    for leftover in location.index_dir.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    return removed


def write_complete_marker(location: IndexLocation, version: str) -> None:
    if not location.server_mode:
        _write_atomic(location.index_dir / COMPLETE_MARKER, version + "\n")
