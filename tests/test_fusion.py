"""Hybrid fusion: scaled scores (the default) against reciprocal ranks, with stub sides so
the arithmetic is checked exactly, and the kept vectors giving the cosines of lexical-only
candidates on a real lexical index."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import ConfigError, HashingEmbedder, Settings
from assistant.retrieval import BM25Index, Filters, Retriever
from assistant.store import StoredChunk


class _Side:
    """Stands in for the lexical index: fixed BM25 scores over four chunks, fixed cosines."""

    ids = ["a", "b", "c", "d"]

    def __init__(self, cosines: dict[str, float] | None) -> None:
        self._cosines = cosines

    def scores(self, terms, filters=None):
        return np.array([10.0, 5.0, 0.0, 0.0])

    def top(self, scores, k):
        return [(cid, float(s)) for cid, s in zip(self.ids, scores) if s > 0][:k]

    def rows(self, ids):
        return [self.ids.index(cid) if cid in self.ids else None for cid in ids]

    def cosines(self, vector, ids):
        return None if self._cosines is None else {c: self._cosines[c] for c in ids}


class _Store:
    def get(self, ids):
        return [StoredChunk(cid, f"testo {cid}", {"source": "doc.txt"}) for cid in ids]


def _retriever(side: _Side, fusion: str, **kw) -> Retriever:
    retriever = Retriever(_Store(), HashingEmbedder(), side, "hybrid", 20, 60, 1.0, fusion,
                          **kw)
    retriever._dense = lambda vector, filters: [("b", 0.6), ("c", 0.5)]  # noqa: SLF001
    return retriever


def test_score_fusion_keeps_a_chunk_one_side_ranks_far_ahead():
    """a: BM25 10 (the best), cosine 0.2 (the lowest); b: BM25 5, cosine 0.6 (the best);
    c: dense only. Scaled and mixed 0.8/0.2: a 0.8, b 0.4 + 0.2 = 0.6, c 0.2 * 0.75."""
    hits = _retriever(_Side({"a": 0.2}), "scores", dense_share=0.2).retrieve("q", 3)
    assert [h.chunk.id for h in hits] == ["a", "b", "c"]
    assert [round(h.score, 3) for h in hits] == [0.8, 0.6, 0.15]
    assert (hits[0].bm25_rank, hits[0].dense_rank) == (0, None)


def test_rank_fusion_rewards_the_chunk_both_sides_found():
    hits = _retriever(_Side({"a": 0.2}), "rrf").retrieve("q", 3)
    assert [h.chunk.id for h in hits][0] == "b"


def test_score_fusion_without_kept_vectors_falls_back_to_ranks():
    hits = _retriever(_Side(None), "scores").retrieve("q", 3)
    assert [h.chunk.id for h in hits][0] == "b"


def test_dense_share_one_orders_by_cosine_alone():
    hits = _retriever(_Side({"a": 0.2}), "scores", dense_share=1.0).retrieve("q", 3)
    assert [h.chunk.id for h in hits] == ["b", "c", "a"]


@pytest.mark.parametrize("kw, bad", [({"fusion": "max"}, "'max'"),
                                     ({"dense_share": 1.5}, "1.5"),
                                     ({"dense_weight": -1.0}, "-1.0")])
def test_settings_name_the_bad_fusion_value(kw, bad):
    with pytest.raises(ConfigError, match=bad):
        Settings(**kw)


def test_retriever_names_the_bad_fusion_value():
    with pytest.raises(ValueError, match="'max'"):
        _retriever(_Side({}), "max")


def test_cosines_come_from_the_kept_vectors(tmp_path):
    embedder = HashingEmbedder()
    texts = ["assistenza domiciliare agli anziani", "asili nido comunali",
             "pronto intervento sociale"]
    chunks = [StoredChunk(f"c{i}", t, {"source": "doc.txt", "ambito": "Casarano"})
              for i, t in enumerate(texts)]
    vectors = embedder.embed_passages(texts)
    index = BM25Index(tmp_path / "bm25")
    index.build(chunks, "v1", vectors)
    query = embedder.embed_query("anziani a casa")
    got = index.cosines(query, ["c2", "c0", "sconosciuto"])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = query / np.linalg.norm(query)
    assert set(got) == {"c0", "c2"}
    assert got["c0"] == pytest.approx(float(unit[0] @ q), abs=1e-5)
    assert got["c2"] == pytest.approx(float(unit[2] @ q), abs=1e-5)
    assert index.rows(["c1", "x"]) == [1, None]
    reloaded = BM25Index(tmp_path / "bm25")
    assert reloaded.load()
    assert reloaded.cosines(query, ["c0"])["c0"] == pytest.approx(got["c0"], abs=1e-5)
    assert index.top(index.scores(["anzian"], Filters()), 5)[0][0] == "c0"
