"""Filtered dense search: an exact scan of the rows a filter accepts (vectors kept with the
lexical index) must return what Chroma's metadata-filtered query returns, also when the
filter keeps a handful of chunks that an unfiltered top-N would never show."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant import Assistant, HashingEmbedder, IndexState, Retriever, Settings
from assistant.chunk import Chunk, chunk_metadata
from assistant.retrieval import Filters
from assistant.store import Manifest

SERVICES = ["assistenza domiciliare agli anziani", "trasporto sociale per disabili",
            "centro diurno per minori", "sportello di segretariato sociale",
            "mediazione familiare", "pronto intervento sociale", "housing first",
            "servizio civile", "tirocini di inclusione", "asili nido comunali"]


def _bot(tmp_path, sizes: dict[str, int]) -> Assistant:
    """A store with ``sizes[ambito]`` chunks per ambito, added as an ingest would."""
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                        embedder="hashing")
    bot = Assistant(settings, embedder=HashingEmbedder())
    manifest = Manifest(settings.index_dir / "manifest.json")
    for ambito, n in sizes.items():
        source = f"{ambito.lower()}.txt"
        meta = {"title": f"Piano di {ambito}", "ambito": ambito, "doc_type": "piano di zona",
                "region": "Puglia" if ambito != "Ancona" else "Marche",
                "year": 2021 if ambito == "Galatina" else 2022}
        chunks = [Chunk(f"{ambito}-{i:04d}", f"L'ambito di {ambito} offre il servizio di "
                        f"{SERVICES[i % len(SERVICES)]}, scheda numero {i}.",
                        chunk_metadata(source, None, "Servizi", i)).with_document(meta)
                  for i in range(n)]
        bot.store.add(chunks, bot.embedder.embed_passages([c.text for c in chunks]))
        manifest.files[source] = {"hash": ambito, "chunks": n, "pages": 1}
    manifest.save()
    return bot


@pytest.fixture
def bot(tmp_path):
    return _bot(tmp_path, {"Casarano": 400, "Galatina": 250, "Maglie": 3, "Ancona": 40})


def _chroma_filtered(bot: Assistant, vector, k: int, filters: Filters):
    return bot.store.search_ids(vector, k, filters.where())


def _exact(bot: Assistant, vector, k: int, filters: Filters):
    """(id, cosine) of the exact scan of the kept vectors inside ``filters``."""
    state = bot.state
    found = state.vectors.search(vector, k, state.facts.accepts(filters))
    return [(state.ids[row], sim) for row, sim in found]


@pytest.mark.parametrize("filters", [Filters(ambito="Maglie"), Filters(ambito="Ancona"),
                                     Filters(ambito="Galatina", year=2021),
                                     Filters(ambito="Galatina", year=2022),
                                     Filters(source="maglie.txt"),
                                     Filters(year=2022),  # not one slice: rows gathered
                                     Filters(region="Marche"), Filters(ambito="Nessuno"),
                                     Filters(region="Puglia", doc_type="piano di zona")])
def test_exact_filtered_search_matches_chromas_filtered_query(bot, filters):
    bot.refresh()
    assert bot.state.vectors is not None
    for question in ("assistenza domiciliare anziani", "mediazione familiare Maglie",
                     "asili nido"):
        vector = bot.embedder.embed_query(question)
        exact = _exact(bot, vector, 20, filters)
        chroma = _chroma_filtered(bot, vector, 20, filters)
        assert [cid for cid, _ in exact] == [cid for cid, _ in chroma] or \
            sorted(s for _, s in exact) == pytest.approx(sorted(s for _, s in chroma), abs=1e-5)
        assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-5)


def test_a_tiny_filtered_subset_is_found_though_absent_from_the_unfiltered_top(bot):
    bot.refresh()
    vector = bot.embedder.embed_query("assistenza domiciliare agli anziani")
    unfiltered = {cid for cid, _ in bot.store.search_ids(vector, 50)}
    assert not any(cid.startswith("Maglie") for cid in unfiltered)  # the hard case
    hits = bot.retriever.retrieve("assistenza domiciliare agli anziani", 5,
                                  Filters(ambito="Maglie"))
    assert sorted(h.chunk.id for h in hits) == ["Maglie-0000", "Maglie-0001", "Maglie-0002"]
    assert all(h.chunk.metadata["ambito"] == "Maglie" and h.chunk.text for h in hits)
    top = hits[0]
    assert top.chunk.id == "Maglie-0000" and top.dense_rank == 0 and top.dense_score > 0.5


def test_filtered_hits_never_leave_the_filter_and_match_the_store_fallback(bot):
    bot.refresh()
    question = "trasporto sociale per disabili"
    fast = bot.retriever.retrieve(question, 5, Filters(ambito="Ancona"))
    assert len(fast) == 5 and all(h.chunk.metadata["ambito"] == "Ancona" for h in fast)
    state = bot.state  # as an index without vectors: Chroma's filtered query
    without_vectors = Retriever(bot.store, bot.embedder, state.lexical, state.facts, None,
                                bot.retriever.options)
    slow = without_vectors.retrieve(question, 5, Filters(ambito="Ancona"))
    assert [h.chunk.id for h in fast] == [h.chunk.id for h in slow]
    assert [h.dense_score for h in fast] == pytest.approx([h.dense_score for h in slow],
                                                          abs=1e-5)


def test_vectors_are_saved_with_the_lexical_index_and_reloaded(bot, tmp_path):
    bot.refresh()
    folder = tmp_path / "index" / "bm25"
    name = json.loads((folder / "ids.json").read_text())["vectors"]
    assert sorted(p.name for p in folder.glob("vectors-*")) == sorted(
        [name, name.replace(".npy", ".order.npy")])
    again = IndexState.load(folder)
    assert again is not None and again.vectors.vectors.shape == (693, 256)
    kept = again.vectors.vectors
    assert np.allclose(np.linalg.norm(kept, axis=1), 1.0, atol=1e-5)
    row = again.ids.index("Maglie-0001")
    stored = bot.store.vectors(["Maglie-0001"])[0]
    assert float(kept[again.vectors.position[row]] @ stored) == pytest.approx(1.0, abs=1e-5)
    # rows are grouped by region, ambito and source: an ambito is one slice
    ambiti = [again.facts.meta[i]["ambito"] for i in again.vectors.order]
    assert sum(a != b for a, b in zip(ambiti, ambiti[1:])) == 3
    # a lexical index saved before vectors existed gets them from the store at refresh
    data = json.loads((folder / "ids.json").read_text())
    data["vectors"] = None
    (folder / "ids.json").write_text(json.dumps(data))
    (folder / name).unlink()
    fresh = Assistant(bot.settings, embedder=HashingEmbedder())
    fresh.refresh()
    assert fresh.state.vectors is not None and fresh.state.vectors.vectors.shape == (693, 256)
    assert len(list(folder.glob("vectors-*.npy"))) == 2  # vectors and their order


def test_unfiltered_dense_results_come_from_the_store_with_their_texts(bot):
    bot.refresh()
    hits = bot.retriever.retrieve("centro diurno per minori", 5)
    assert len(hits) == 5 and all(h.chunk.text and h.chunk.metadata for h in hits)
    assert any(h.dense_rank == 0 for h in hits)
