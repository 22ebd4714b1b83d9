"""A second copy of every chunk's embedding, as unit vectors in memory (memory-mapped when
loaded), for exact dense search inside a filter and for the cosine of chunks only the
lexical side found. Chroma's metadata-filtered query is an HNSW walk that skips rejected
nodes: slow for a small filter and not exact; a scan of the accepted rows is both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import save_array

# the rows are grouped by these metadata fields (last one first) so that a filter on one of
# them reads one contiguous slice
GROUPED_BY = ("source", "ambito", "region")


def unit_rows(vectors: np.ndarray | None, rows: int) -> np.ndarray | None:
    """``vectors`` as float32 rows of length one (None when absent or not one per chunk)."""
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != rows or rows == 0:
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = vectors / norms
    return unit


def order_file(vectors_file: str) -> str:
    """The file beside ``vectors_file`` holding which row each stored vector belongs to."""
    return vectors_file[:-len(".npy")] + ".order.npy"


class VectorCache:
    """Unit vectors of chunk rows ``0..n-1`` (the rows of the lexical index), stored grouped
    by region, ambito and source: ``vectors[position[row]]`` is the vector of ``row`` and
    ``order`` (the inverse permutation) the row of each stored vector. Not changed once
    made."""

    def __init__(self, vectors: np.ndarray, order: np.ndarray, *,
                 saved_as: str | None = None, folder: Path | None = None) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(order):
            raise ValueError(f"vectors must have one row per entry of order ({len(order)}), "
                             f"got shape {vectors.shape}")
        self.vectors = vectors
        self.order = np.asarray(order, dtype=np.int64)
        self.position = np.empty_like(self.order)
        self.position[self.order] = np.arange(len(self.order), dtype=np.int64)
        self._saved_as = saved_as
        self._folder = folder

    @classmethod
    def from_rows(cls, unit: np.ndarray, meta: Sequence[Mapping[str, Any]]) -> VectorCache:
        """Keep ``unit`` (unit vectors, one per row of ``meta``), grouped by region, ambito
        and source."""
        keys = [np.unique(np.array([str(m.get(f)) for m in meta], dtype=object),
                          return_inverse=True)[1] for f in GROUPED_BY]
        order = np.lexsort(keys)  # stable: by region, then ambito, then source
        return cls(np.ascontiguousarray(unit[order]), order.astype(np.int64))

    @classmethod
    def from_vectors(cls, vectors: np.ndarray | None,
                     meta: Sequence[Mapping[str, Any]]) -> VectorCache | None:
        """The cache of ``vectors`` (embeddings, one per row of ``meta``, any length); None
        when they are missing or not one per row."""
        unit = unit_rows(vectors, len(meta))
        return None if unit is None else cls.from_rows(unit, meta)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def updated(self, kept_rows: np.ndarray, added_vectors: np.ndarray | None, added: int,
                perm: np.ndarray, meta: Sequence[Mapping[str, Any]]) -> VectorCache | None:
        """The cache of the rows ``kept_rows`` followed by ``added`` new ones
        (``added_vectors``), in the order ``perm``, grouped by the final ``meta``; None
        when the new vectors are missing or of another dimension."""
        new_unit = unit_rows(added_vectors, added) if added else \
            np.empty((0, self.dimension), dtype=np.float32)
        if new_unit is None or new_unit.shape[1] != self.dimension:
            return None
        unit = np.concatenate([np.asarray(self.vectors[self.position[kept_rows]]), new_unit])
        return VectorCache.from_rows(unit[perm], meta)

    def cosines(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray | None:
        """Cosine of ``vector`` with each of ``rows``; None when ``vector`` has another
        dimension."""
        query = np.asarray(vector, dtype=np.float32).ravel()
        if self.vectors.shape[1] != query.shape[0]:
            return None
        query = query / (float(np.linalg.norm(query)) or 1.0)
        if not len(rows):
            return np.empty(0, dtype=np.float32)
        return np.take(self.vectors, self.position[list(rows)], axis=0) @ query

    def search(self, vector: np.ndarray, k: int,
               accepted: np.ndarray) -> list[tuple[int, float]] | None:
        """(row, cosine) of the ``k`` rows ``accepted`` (a row mask) nearest to ``vector``,
        by an exact scan of the accepted rows; None when it cannot answer (another
        dimension, a mask of another length). Exact, so a filter that keeps a handful of
        chunks still finds them; at 100k chunks about 7 ms for an ambito, where Chroma's
        metadata-filtered query takes about 100 ms."""
        vectors, order, position = self.vectors, self.order, self.position
        query = np.asarray(vector, dtype=np.float32).ravel()
        if k < 1 or len(accepted) != len(order) or vectors.shape[1] != query.shape[0]:
            return None
        rows = np.flatnonzero(accepted)
        if rows.size == 0:
            return []
        query = query / (float(np.linalg.norm(query)) or 1.0)
        at = position[rows]
        low, high = int(at.min()), int(at.max()) + 1
        if high - low == len(at):  # an ambito, a region, a document: one slice, no copy
            sims = vectors[low:high] @ query
            at = np.arange(low, high)
        else:
            sims = np.take(vectors, at, axis=0) @ query
        if len(sims) > k:
            top = np.argpartition(-sims, k)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
        else:
            top = np.argsort(-sims, kind="stable")
        return [(int(order[at[i]]), float(sims[i])) for i in top]

    # ---- on disk -------------------------------------------------------------------------
    def save(self, folder: Path) -> str:
        """Write the vectors and their order under a new name in ``folder`` (once) and
        return the vectors' file name."""
        import uuid

        if self._saved_as is None or self._folder != folder:
            name = f"vectors-{uuid.uuid4().hex[:12]}.npy"
            save_array(folder / order_file(name), self.order)
            save_array(folder / name, self.vectors)
            self._saved_as, self._folder = name, folder
        return self._saved_as

    def files(self) -> set[str]:
        """The names in the folder this cache was saved to or loaded from."""
        return {self._saved_as, order_file(self._saved_as)} if self._saved_as else set()

    @classmethod
    def load(cls, folder: Path, name: str, rows: int) -> VectorCache | None:
        """The cache saved as ``name`` for ``rows`` rows, memory-mapped (it loads at once and
        the processes of one machine share it); None when missing or not matching."""
        try:
            vectors = np.load(folder / name, mmap_mode="r")
            order = np.load(folder / order_file(name))
            if vectors.ndim != 2 or not vectors.shape[0] == len(order) == rows:
                return None
            return cls(vectors, order, saved_as=name, folder=folder)
        except (OSError, ValueError, IndexError):
            return None
