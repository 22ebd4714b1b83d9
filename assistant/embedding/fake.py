"""A deterministic embedder for tests: hashed word and character-trigram features.

Like httpx's ``MockTransport``: no model, no download, instant, and similar texts get
similar vectors, so retrieval tests are meaningful.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from .base import CachedQueryMixin, QueryCache, approx_tokens, normalize

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(CachedQueryMixin):
    """Bag of hashed words and trigrams, unit length. ``calls`` counts embedded passages."""

    def __init__(self, dim: int = 256, max_tokens: int = 512) -> None:
        if dim < 8:
            raise ValueError(f"dim must be at least 8, got {dim!r}")
        self.name = f"hashing-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self.passages_embedded = 0
        self._cache = QueryCache()

    def warm_up(self) -> None:
        return None

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            feats = [word] + [word[i:i + 3] for i in range(max(1, len(word) - 2))]
            for feat in feats:
                digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=4).digest()
                vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        return vec

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize(np.stack([self._vector(t) for t in texts]))

    def _embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)
