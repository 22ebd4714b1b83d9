"""Hybrid fusion: scaled scores (the default) against reciprocal ranks, with stub sides so
the arithmetic is checked exactly, and the kept vectors giving the cosines of lexical-only
candidates on a real lexical index."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import (ConfigError, CorpusFacts, HashingEmbedder, IndexState, Retriever,
                       RetrievalOptions, Settings)
from assistant.retrieval import Filters
from assistant.chunk import Chunk

IDS = ["a", "b", "c", "d"]


class _Lexical:
    """Stands in for the lexical index: fixed BM25 scores over four chunks."""

    ids = IDS

    def scores(self, terms, accepted=None):
        return np.array([10.0, 5.0, 0.0, 0.0])

    def top(self, scores, k):
        return [(cid, float(s)) for cid, s in zip(self.ids, scores) if s > 0][:k]


class _Vectors:
    """Stands in for the kept vectors: fixed cosines per row."""

    def __init__(self, cosines: dict[str, float]) -> None:
        self._cosines = cosines

    def cosines(self, vector, rows):
        return np.array([self._cosines[IDS[row]] for row in rows])


class _Store:
    """The dense side without a filter (the store's HNSW index), and the texts."""

    def search_ids(self, vector, k, where=None):
        return [("b", 0.6), ("c", 0.5)]

    def get(self, ids):
        return [Chunk(cid, f"testo {cid}", {"source": "doc.txt"}) for cid in ids]


def _retriever(cosines: dict[str, float] | None, fusion: str, **kw) -> Retriever:
    facts = CorpusFacts(IDS, [{"source": "doc.txt"} for _ in IDS], {}, {})
    return Retriever(_Store(), HashingEmbedder(), _Lexical(), facts,
                     None if cosines is None else _Vectors(cosines),
                     RetrievalOptions("hybrid", 5, 20, 60, 1.0, fusion, **kw))


def test_score_fusion_keeps_a_chunk_one_side_ranks_far_ahead():
    """a: BM25 10 (the best), cosine 0.2 (the lowest); b: BM25 5, cosine 0.6 (the best);
    c: dense only. Scaled and mixed 0.8/0.2: a 0.8, b 0.4 + 0.2 = 0.6, c 0.2 * 0.75."""
    hits = _retriever({"a": 0.2}, "scores", dense_share=0.2).retrieve("q", 3)
    assert [h.chunk.id for h in hits] == ["a", "b", "c"]
    assert [round(h.score, 3) for h in hits] == [0.8, 0.6, 0.15]
    assert (hits[0].bm25_rank, hits[0].dense_rank) == (0, None)


def test_rank_fusion_rewards_the_chunk_both_sides_found():
    hits = _retriever({"a": 0.2}, "rrf").retrieve("q", 3)
    assert [h.chunk.id for h in hits][0] == "b"


def test_score_fusion_without_kept_vectors_falls_back_to_ranks():
    hits = _retriever(None, "scores").retrieve("q", 3)
    assert [h.chunk.id for h in hits][0] == "b"


def test_dense_share_one_orders_by_cosine_alone():
    hits = _retriever({"a": 0.2}, "scores", dense_share=1.0).retrieve("q", 3)
    assert [h.chunk.id for h in hits] == ["b", "c", "a"]


@pytest.mark.parametrize("kw, bad", [({"fusion": "max"}, "'max'"),
                                     ({"dense_share": 1.5}, "1.5"),
                                     ({"dense_weight": -1.0}, "-1.0")])
def test_settings_name_the_bad_fusion_value(kw, bad):
    with pytest.raises(ConfigError, match=bad):
        Settings(**kw)


def test_retriever_names_the_bad_fusion_value():
    with pytest.raises(ValueError, match="'max'"):
        _retriever({}, "max")


def test_cosines_come_from_the_kept_vectors(tmp_path):
    embedder = HashingEmbedder()
    texts = ["assistenza domiciliare agli anziani", "asili nido comunali",
             "pronto intervento sociale"]
    chunks = [Chunk(f"c{i}", t, {"source": "doc.txt", "ambito": "Casarano"})
              for i, t in enumerate(texts)]
    vectors = embedder.embed_passages(texts)
    state = IndexState.build(chunks, "v1", vectors)
    state.save(tmp_path / "bm25")
    retriever = Retriever.for_state(_Store(), embedder, state)
    query = embedder.embed_query("anziani a casa")
    got = retriever.cosines(query, ["c2", "c0", "sconosciuto"])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = query / np.linalg.norm(query)
    assert set(got) == {"c0", "c2"}
    assert got["c0"] == pytest.approx(float(unit[0] @ q), abs=1e-5)
    assert got["c2"] == pytest.approx(float(unit[2] @ q), abs=1e-5)
    assert state.facts.rows(["c1", "x"]) == [1, None]
    reloaded = IndexState.load(tmp_path / "bm25")
    assert reloaded is not None
    again = Retriever.for_state(_Store(), embedder, reloaded)
    assert again.cosines(query, ["c0"])["c0"] == pytest.approx(got["c0"], abs=1e-5)
    assert reloaded.lexical.search(["anzian"], 5, reloaded.facts.accepts(Filters()))[0][0] \
        == "c0"
