"""Document index for the CX Benchmark Assistant: chunking, embedding, hybrid retrieval.

Public API (imported lazily, so `import index` stays cheap: chromadb, torch and
sentence-transformers load only when a build or search needs them)::

    from index import build_index, BuildReport, Retriever, Passage, IndexSettings
    from index import IndexNotBuiltError, IndexCorruptError, CorpusError, CxIndexError

This package never imports `cxengine`, `assistant` or `streamlit`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "build_index": "index.build",
    "BuildReport": "index.build",
    "Retriever": "index.retrieval",
    "Passage": "index.retrieval",
    "reciprocal_rank_fusion": "index.retrieval",
    "IndexSettings": "index.config",
    "SentenceEmbeddings": "index.embeddings",
    "Filters": "index.metadata",
    "CxIndexError": "index.errors",
    "IndexNotBuiltError": "index.errors",
    "IndexCorruptError": "index.errors",
    "IndexBusyError": "index.errors",
    "CorpusError": "index.errors",
}

__all__ = [
    "BuildReport",
    "CorpusError",
    "CxIndexError",
    "Filters",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexNotBuiltError",
    "IndexSettings",
    "Passage",
    "Retriever",
    "SentenceEmbeddings",
    "build_index",
    "reciprocal_rank_fusion",
]

if TYPE_CHECKING:
    from index.build import BuildReport, build_index
    from index.config import IndexSettings
    from index.embeddings import SentenceEmbeddings
    from index.errors import (
        CorpusError,
        CxIndexError,
        IndexBusyError,
        IndexCorruptError,
        IndexNotBuiltError,
    )
    from index.metadata import Filters
    from index.retrieval import Passage, Retriever, reciprocal_rank_fusion


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
