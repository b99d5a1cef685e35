"""The build manifest: which file produced which chunks, and with what settings.

It is stored inside each index version (local: `manifest.json` in the version directory;
server: a metadata field of the version's collection), so the manifest and the vectors it
describes are switched together and can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class FileEntry:
    file_hash: str
    chunk_ids: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    version: str
    built_at: str
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    files: dict[str, FileEntry] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT
    chunker: str = ""  # index.chunking.chunker_fingerprint() of the build

    @property
    def chunk_count(self) -> int:
        return sum(len(entry.chunk_ids) for entry in self.files.values())

    def same_settings(self, *, embedding_model: str, chunk_size: int, chunk_overlap: int,
                      chunker: str) -> bool:
        """Whether chunks of this manifest can be reused by a build with these settings and
        this chunker code."""
        return (
            self.format == MANIFEST_FORMAT
            and self.embedding_model == embedding_model
            and self.chunk_size == chunk_size
            and self.chunk_overlap == chunk_overlap
            and self.chunker == chunker
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["files"] = {
            source: {"file_hash": e.file_hash, "chunk_ids": list(e.chunk_ids)}
            for source, e in sorted(self.files.items())
        }
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raises ValueError (with the reason) on anything malformed."""
        try:
            data: dict[str, Any] = json.loads(text)
            files = {
                str(source): FileEntry(str(e["file_hash"]), tuple(str(c) for c in e["chunk_ids"]))
                for source, e in data["files"].items()
            }
            return cls(
                version=str(data["version"]),
                built_at=str(data["built_at"]),
                embedding_model=str(data["embedding_model"]),
                chunk_size=int(data["chunk_size"]),
                chunk_overlap=int(data["chunk_overlap"]),
                files=files,
                format=int(data.get("format", 0)),
                chunker=str(data.get("chunker", "")),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed manifest: {type(exc).__name__}: {exc}") from None
