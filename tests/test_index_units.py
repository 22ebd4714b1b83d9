"""The units that replaced the lexical index's grab-bag: the kept vectors, the corpus facts,
the index state they form, and the assistant's public search and facets over them."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import (Assistant, CorpusFacts, Facets, HashingEmbedder, IndexState,
                       VectorCache)
from assistant.retrieval import Filters
from assistant.chunk import Chunk


def _meta(i: int) -> dict:
    ambito = ("Casarano", "Galatina", "Ancona")[i % 3]
    return {"source": f"{ambito.lower()}.txt", "ambito": ambito,
            "region": "Marche" if ambito == "Ancona" else "Puglia",
            "comuni": "Matino|Ruffano" if ambito == "Casarano" else "",
            "doc_type": "piano di zona" if i % 2 else "scheda PNRR", "year": 2020 + i % 4}


def test_exact_filtered_search_is_a_brute_force_scan():
    rng = np.random.default_rng(3)
    meta = [_meta(i) for i in range(60)]
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    cache = VectorCache.from_vectors(vectors, meta)
    facts = CorpusFacts([f"c{i}" for i in range(60)], meta, {}, {})
    query = rng.normal(size=16).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = unit @ (query / np.linalg.norm(query))
    for filters in (Filters(ambito="Galatina"), Filters(year=2021),
                    Filters(region="Puglia", doc_type="scheda PNRR")):
        mask = facts.accepts(filters)
        want = sorted(np.flatnonzero(mask), key=lambda r: -cos[r])[:7]
        got = cache.search(query, 7, mask)
        assert [row for row, _ in got] == want
        assert [s for _, s in got] == pytest.approx([cos[r] for r in want], abs=1e-5)
    assert cache.search(query, 7, facts.accepts(Filters(ambito="Nessuno"))) == []
    assert cache.search(np.ones(3), 7, facts.accepts(Filters(ambito="Galatina"))) is None
    assert VectorCache.from_vectors(vectors[:5], meta) is None  # not one per row


def test_facts_give_places_facets_and_stats():
    meta = [_meta(i) for i in range(6)]
    facts = CorpusFacts([f"c{i}" for i in range(6)], meta, {"anzian": 2}, {},
                        place_aliases={"nazionale": "Italia", "marchigiano": "Marche"})
    assert facts.places["matino"] == ("ambito", "Casarano")
    assert facts.places["marchigiano"] == ("region", "Marche")
    assert "nazionale" not in facts.places  # no document of that region
    assert facts.region_of == {"Casarano": "Puglia", "Galatina": "Puglia", "Ancona": "Marche"}
    assert facts.facets == Facets((("Matino", "Casarano"), ("Ruffano", "Casarano")),
                                  ("Ancona", "Casarano", "Galatina"),
                                  ("piano di zona", "scheda PNRR"), (2023, 2022, 2021, 2020))
    assert facts.stats.known("anzian") and not facts.stats.known("xyz")
    assert facts.rows(["c3", "zz"]) == [3, None]
    with pytest.raises(ValueError, match="one entry per chunk"):
        CorpusFacts(["a", "b"], [{}], {}, {})


def test_a_state_round_trips_through_its_folder(tmp_path):
    chunks = [Chunk(f"c{i}", f"Il Punto Unico di Accesso (PUA) numero {i}", _meta(i))
              for i in range(4)]
    vectors = HashingEmbedder().embed_passages([c.text for c in chunks])
    state = IndexState.build(chunks, "v1", vectors, {"x.txt": "h:4"})
    state.save(tmp_path)
    again = IndexState.load(tmp_path)
    assert again is not None and again.version == "v1" and again.sources == {"x.txt": "h:4"}
    assert again.ids == state.ids and again.facts.meta == state.facts.meta
    assert again.facts.acronyms == state.facts.acronyms and "PUA" in again.facts.acronyms
    assert np.array_equal(np.asarray(again.vectors.vectors), state.vectors.vectors)
    assert again.lexical.search(["pua"], 2) == state.lexical.search(["pua"], 2)
    assert again.lexical.token_lists() is not None  # read from the folder when needed
    with pytest.raises(ValueError, match="same chunks"):
        IndexState(None, state.lexical, again.facts.updated(
            np.array([0, 1]), [], np.array([1, 0]), {}))


def test_search_and_facets_are_what_the_operator_tools_read(fake_assistant: Assistant):
    bot = fake_assistant
    found = bot.search("assistenza domiciliare anziani", 4, Filters(comune="Matino"))
    assert found.filters.ambito == "Casarano" and found.place == "Matino"
    assert 0 < len(found.hits) <= 4
    assert all(h.chunk.metadata["ambito"] == "Casarano" for h in found.hits)
    acronym = bot.search("ADI per anziani", 3)
    assert acronym.added_terms and acronym.place is None  # what "ADI" expands to
    assert set(acronym.added_terms) & {"assistent", "domicil", "integr"}
    facets = bot.facets()
    assert ("Matino", "Casarano") in facets.comuni and facets == bot.state.facts.facets
    # the store holds the same facets (what the interface scanned for on every call)
    from assistant.corpus_facts import facets_of

    assert facets == facets_of([c.metadata for c in bot.store.iter_chunks(include_text=False)])


def test_the_retriever_is_made_once_per_state(fake_assistant: Assistant, demo_corpus):
    bot = fake_assistant
    first = bot.retriever
    assert bot.retriever is first
    state = bot.state
    bot.refresh(force=True)  # a new state, made from the whole store
    assert bot.state is not state and bot.retriever is not first
    assert bot.retriever.lexical is bot.state.lexical


def test_facets_without_an_index_are_empty(tmp_path):
    from assistant import Settings

    bot = Assistant(Settings(corpus_dir=tmp_path, index_dir=tmp_path / "none",
                             embedder="hashing"), embedder=HashingEmbedder())
    assert bot.facets() == Facets()
    assert not (tmp_path / "none").exists()  # asking did not create an index
