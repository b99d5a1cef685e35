"""Build the document index incrementally and atomically.

1. Find the documents and hash each file. Files whose hash and chunking settings match the
   previous version's manifest are unchanged: their chunks and vectors are copied over.
2. Parse and chunk every new or changed file *before* writing anything, so a corrupt PDF or
   bad front matter fails the build with the previous index untouched.
3. Write a new version: copied chunks, plus newly embedded ones (a chunk whose exact embedded
   text already existed reuses its old vector).
4. Switch the pointer to the new version (one atomic rename, or one metadata update on a
   Chroma server), then prune versions older than the one just replaced.

The old version's vectors are copied through the Chroma API rather than by copying its
directory: a reader may have that SQLite database open, and an API copy is the same code for
the local store and a server.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.chroma_client import Records, read_records
from index.chunking import Chunk, chunk_document, chunker_fingerprint, split_text
from index.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from index.corpus import SUPPORTED_SUFFIXES, find_sources, load_document
from index.embeddings import SentenceEmbeddings
from index.errors import CorpusError, IndexBusyError, IndexNotBuiltError
from index.manifest import FileEntry, Manifest
from index.store import (
    DEFAULT_PORT,
    DEFAULT_PREFIX,
    IndexLocation,
    OpenIndex,
    PendingVersion,
    active_version,
    add_records,
    begin_version,
    commit_version,
    discard_version,
    open_index,
    prune_versions,
    write_complete_marker,
)

LOCK_FILE = ".build.lock"


@dataclass(frozen=True)
class BuildReport:
    files_added: int
    files_updated: int
    files_removed: int
    files_unchanged: int
    chunks_embedded: int
    chunks_total: int
    seconds: float
    version: str = ""
    chunks_reused: int = 0  # changed files' chunks whose vectors were reused, not re-embedded
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        return (
            f"index {self.version}: {self.chunks_total} chunks; files +{self.files_added} "
            f"~{self.files_updated} -{self.files_removed} ={self.files_unchanged}; "
            f"embedded {self.chunks_embedded} chunks in {self.seconds:.1f}s"
        )


@dataclass
class _Plan:
    unchanged: dict[str, FileEntry] = field(default_factory=dict)
    # source -> (file hash, chunks) for new and modified files
    changed: dict[str, tuple[str, list[Chunk]]] = field(default_factory=dict)
    added: int = 0
    updated: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive per-index lock; the OS drops it if the process dies, so no stale locks."""
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: run unlocked
        yield
        return
    with open(index_dir / LOCK_FILE, "w") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(index_dir) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _plan(
    doc_dirs: Sequence[Path], previous: Manifest | None, chunk_size: int, chunk_overlap: int
) -> _Plan:
    plan = _Plan()
    sources = find_sources(doc_dirs)
    if not sources:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise CorpusError(", ".join(map(str, doc_dirs)), f"no documents ({kinds}) found")
    old_files = previous.files if previous is not None else {}
    for src in sources:
        try:
            file_hash = src.file_hash()
        except OSError as exc:
            raise CorpusError(src.path, f"cannot read file: {exc}") from None
        old = old_files.get(src.source)
        if old is not None and old.file_hash == file_hash:
            plan.unchanged[src.source] = old
            continue
        chunks = chunk_document(
            load_document(src), file_hash=file_hash, chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
        )
        if not chunks:
            plan.warnings.append(f"{src.path}: no text to index (scanned PDF or empty file?)")
        plan.changed[src.source] = (file_hash, chunks)
        if old is None:
            plan.added += 1
        else:
            plan.updated += 1
    plan.removed = len(set(old_files) - {s.source for s in sources})
    return plan


def _open_previous(location: IndexLocation) -> OpenIndex | None:
    try:
        return open_index(location)
    except IndexNotBuiltError:
        return None


def _copy_unchanged(pending: PendingVersion, previous: OpenIndex, plan: _Plan) -> int:
    ids = [cid for entry in plan.unchanged.values() for cid in entry.chunk_ids]
    if not ids:
        return 0
    records = read_records(previous.collection, ids, embeddings=True)
    if len(records.ids) != len(ids):
        raise RuntimeError(
            f"previous index lacks {len(ids) - len(records.ids)} chunks its manifest lists"
        )
    add_records(pending, records)
    return len(ids)


def _reusable_vectors(previous: OpenIndex | None, chunks: list[Chunk]) -> dict[str, np.ndarray]:
    """content_hash -> vector for new chunks whose exact embedded text is already stored."""
    if previous is None or not chunks:
        return {}
    wanted = {c.content_hash for c in chunks}
    stored = read_records(previous.collection)
    ids_by_hash = {
        str(m.get("content_hash")): cid
        for cid, m in zip(stored.ids, stored.metadatas, strict=True)
        if m.get("content_hash") in wanted
    }
    if not ids_by_hash:
        return {}
    hashes = list(ids_by_hash)
    found = read_records(previous.collection, [ids_by_hash[h] for h in hashes], embeddings=True)
    assert found.embeddings is not None
    by_id = {cid: found.embeddings[i] for i, cid in enumerate(found.ids)}
    return {h: by_id[ids_by_hash[h]] for h in hashes if ids_by_hash[h] in by_id}


def _embed_changed(
    pending: PendingVersion,
    chunks: list[Chunk],
    reusable: dict[str, np.ndarray],
    embedder: SentenceEmbeddings,
    progress: bool,
) -> int:
    from tqdm import tqdm

    to_embed = [c for c in chunks if c.content_hash not in reusable]
    if to_embed:
        embedder.warm()  # load the model before the bar starts, so its rate means something
    with tqdm(total=len(to_embed), desc="embedding chunks", unit="chunk", file=sys.stderr,
              disable=not progress or not to_embed) as bar:
        fresh = embedder.embed_array([c.embed_text for c in to_embed], on_batch=bar.update)
    vectors = {c.chunk_id: fresh[i] for i, c in enumerate(to_embed)}
    for c in chunks:
        if c.chunk_id not in vectors:
            vectors[c.chunk_id] = reusable[c.content_hash]
    if chunks:
        add_records(
            pending,
            Records(
                ids=[c.chunk_id for c in chunks],
                documents=[c.text for c in chunks],
                metadatas=[dict(c.metadata()) for c in chunks],
                embeddings=np.stack([vectors[c.chunk_id] for c in chunks]).astype(np.float32),
            ),
        )
    return len(to_embed)


def build_index(
    doc_dirs: Sequence[Path | str],
    index_dir: Path | str,
    *,
    host: str | None = None,
    port: int | None = None,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    rebuild: bool = False,
    embedder: SentenceEmbeddings | None = None,
    collection_prefix: str = DEFAULT_PREFIX,
) -> BuildReport:
    """Build or update the index of the documents under `doc_dirs`.

    Local mode writes under `index_dir`; with `host` the vectors go to that Chroma server and
    `index_dir` only holds the build lock. `rebuild=True` ignores the previous index (even a
    corrupt one) but is just as atomic. Raises `CorpusError` for unreadable documents,
    `IndexCorruptError` if the previous index cannot be read (use `rebuild=True`), and
    `IndexBusyError` if another build runs on the same `index_dir`.
    """
    started = time.perf_counter()
    split_text("", chunk_size, chunk_overlap)  # validates the settings before any work
    location = IndexLocation(Path(index_dir), host, port or DEFAULT_PORT, collection_prefix)
    embedder = embedder or SentenceEmbeddings()
    dirs = [Path(d) for d in doc_dirs]
    with _build_lock(location.index_dir):
        previous = None if rebuild else _open_previous(location)
        # Kept after the switch even on --rebuild, for readers that have it open right now.
        replaced = previous.version if previous is not None else active_version(location)
        try:
            prev_manifest = previous.manifest if previous is not None else None
            reusable_files = prev_manifest is not None and prev_manifest.same_settings(
                embedding_model=embedder.model_name, chunk_size=chunk_size,
                chunk_overlap=chunk_overlap, chunker=chunker_fingerprint(),
            )
            plan = _plan(dirs, prev_manifest if reusable_files else None, chunk_size,
                         chunk_overlap)
            if not reusable_files and prev_manifest is not None:
                # Every file is re-chunked, so report against the files it had.
                plan.removed = len(set(prev_manifest.files) - set(plan.changed))
                plan.updated = len(set(prev_manifest.files) & set(plan.changed))
                plan.added = len(plan.changed) - plan.updated
            if previous is not None and not plan.changed and not plan.removed:
                write_complete_marker(location, previous.version)
                return BuildReport(0, 0, 0, len(plan.unchanged), 0, prev_manifest.chunk_count,
                                   time.perf_counter() - started, previous.version,
                                   warnings=tuple(plan.warnings))
            new_chunks = [c for _, chunks in plan.changed.values() for c in chunks]
            same_model = prev_manifest is not None and (
                prev_manifest.embedding_model == embedder.model_name
            )
            reusable = _reusable_vectors(previous if same_model else None, new_chunks)
            pending = begin_version(location)
            try:
                copied = _copy_unchanged(pending, previous, plan) if previous else 0
                embedded = _embed_changed(pending, new_chunks, reusable, embedder, progress)
                files = dict(plan.unchanged)
                files.update(
                    (source, FileEntry(file_hash, tuple(c.chunk_id for c in chunks)))
                    for source, (file_hash, chunks) in plan.changed.items()
                )
                manifest = Manifest(
                    version=pending.version,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    embedding_model=embedder.model_name,
                    chunk_size=chunk_size,
                    chunk_overlap=chunk_overlap,
                    files=files,
                    chunker=chunker_fingerprint(),
                )
                commit_version(pending, manifest)
            except BaseException:
                discard_version(pending)
                raise
        finally:
            if previous is not None:
                previous.close()
        prune_versions(location, {pending.version} | ({replaced} if replaced else set()))
        write_complete_marker(location, pending.version)
    return BuildReport(
        files_added=plan.added,
        files_updated=plan.updated,
        files_removed=plan.removed,
        files_unchanged=len(plan.unchanged),
        chunks_embedded=embedded,
        chunks_total=copied + len(new_chunks),
        seconds=time.perf_counter() - started,
        version=pending.version,
        chunks_reused=len(new_chunks) - embedded,
        warnings=tuple(plan.warnings),
    )
