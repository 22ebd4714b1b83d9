"""How close a question comes to topics outside the assistant's scope.

A corpus of social-services plans says nothing of recipes or football, yet a question about
them shares everyday words ("prepara", "vinto", "2019") with some passage, and lexical
evidence alone cannot always tell the two apart. :class:`ScopeCheck` embeds a list of
off-topic example questions (``assistant/data/offtopic_it.yaml``) with the index's own
embedder and gives the cosine of a question to the nearest one. The answerer compares it
with the question's cosine to its best passage, and refuses beyond the margin fitted with
the answer model (``offtopic_margin``): a corpus that does cover such a topic still answers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .datafiles import load_yaml
from .embedding import Embedder


class ScopeCheck:
    """The highest cosine between a question and the off-topic examples.

    ``examples``: the example questions (default: the shipped list). The examples are
    embedded once, in :meth:`warm_up` or on first use.
    """

    def __init__(self, embedder: Embedder, examples: Sequence[str] | None = None) -> None:
        chosen = list(examples) if examples is not None else _shipped_examples()
        chosen = [e.strip() for e in chosen if isinstance(e, str) and e.strip()]
        if not chosen:
            raise ValueError(f"ScopeCheck needs at least one example question, got {examples!r}")
        self.embedder = embedder
        self.examples = tuple(chosen)
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._vectors is not None:
            return
        with self._lock:
            if self._vectors is None:
                rows = np.stack([np.asarray(self.embedder.embed_query(e), dtype=np.float32)
                                 for e in self.examples])
                norms = np.linalg.norm(rows, axis=1, keepdims=True)
                self._vectors = rows / np.where(norms == 0, 1.0, norms)

    def similarity(self, question: str) -> float:
        """Cosine of ``question`` to its nearest off-topic example (0 for an empty one)."""
        if not question.strip():
            return 0.0
        self.warm_up()
        assert self._vectors is not None
        vector = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            return 0.0
        return float(np.max(self._vectors @ (vector / norm)))


def _shipped_examples() -> list[str]:
    return list(load_yaml("offtopic_it.yaml").get("examples") or [])


__all__ = ["ScopeCheck"]
