"""Index settings from explicit values or the `CXASSIST_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INDEX_DIR = Path("data/index")
DEFAULT_DOCS = Path("data/sample/docs")
DEFAULT_CHROMA_PORT = 8000
# Chosen by benchmarks/bench_chunking.py on the sample corpus (17 files, 47k words) and the
# 157 labelled questions of tests/retrieval_eval, hybrid search, one passage per section:
#   size:overlap  chunks  recall@5  MRR    nDCG@10
#   400:0         909     0.924     0.785  0.795
#   500:0         750     0.943     0.802  0.803   <- chosen
#   500:150       853     0.936     0.771  0.787
#   600:0         644     0.924     0.775  0.790
#   800:0         503     0.911     0.778  0.784
#   1200:0        396     0.911     0.730  0.746
#   1200:150      396     0.911     0.721  0.747   (the previous default)
# A wider sweep before the one-passage-per-section rule (300 to 1600 characters, overlap 0
# and 150) also put 500:0 first: recall@5 0.911 (tied best), MRR 0.798 (best). Most sections
# fit in one chunk, so overlap mostly adds near-duplicates; above ~1000 characters
# all-MiniLM-L6-v2 truncates the passage (256 tokens).
DEFAULT_CHUNK_SIZE = 500
DEFAULT_CHUNK_OVERLAP = 0


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
