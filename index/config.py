"""Index settings from explicit values or the `CXASSIST_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INDEX_DIR = Path("data/index")
DEFAULT_DOCS = Path("data/sample/docs")
DEFAULT_CHROMA_PORT = 8000
DEFAULT_CHUNK_SIZE = 1200
DEFAULT_CHUNK_OVERLAP = 150


@dataclass(frozen=True)
class IndexSettings:
    """Where the index lives and which documents feed it.

    `chroma_host` set means server mode (Chroma `HttpClient`); otherwise the index is a local
    `PersistentClient` store under `index_dir`.
    """

    index_dir: Path = DEFAULT_INDEX_DIR
    docs: tuple[Path, ...] = (DEFAULT_DOCS,)
    chroma_host: str | None = None
    chroma_port: int = DEFAULT_CHROMA_PORT
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP

    @property
    def server_mode(self) -> bool:
        return self.chroma_host is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IndexSettings:
        """Read `CXASSIST_INDEX_DIR`, `CXASSIST_DOCS` (os.pathsep-separated for several
        folders), `CXASSIST_CHROMA_HOST` and `CXASSIST_CHROMA_PORT`."""
        env = os.environ if env is None else env
        index_dir = Path(env.get("CXASSIST_INDEX_DIR") or DEFAULT_INDEX_DIR)
        docs_value = env.get("CXASSIST_DOCS") or str(DEFAULT_DOCS)
        docs = tuple(Path(p) for p in docs_value.split(os.pathsep) if p.strip())
        host = (env.get("CXASSIST_CHROMA_HOST") or "").strip() or None
        port_value = (env.get("CXASSIST_CHROMA_PORT") or "").strip()
        try:
            port = int(port_value) if port_value else DEFAULT_CHROMA_PORT
        except ValueError:
            raise ValueError(
                f"CXASSIST_CHROMA_PORT must be an integer, got {port_value!r}"
            ) from None
        return cls(index_dir=index_dir, docs=docs or (DEFAULT_DOCS,), chroma_host=host,
                   chroma_port=port)
