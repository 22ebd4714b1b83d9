"""One storage path: the store writes its own records to Chroma and reads them back as they
were written; an index written through LlamaIndex's ChromaVectorStore (which added its own
keys to every record's metadata) still reads the same, without a rebuild."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.utils import node_to_metadata_dict

from assistant import Assistant, HashingEmbedder, Settings
from assistant.chunk import Chunk, chunk_metadata
from assistant.index_sync import BM25_SUBDIR
from assistant.store import METADATA_KEYS, ChunkStore, StoredChunk

LLAMAINDEX_KEYS = {"_node_content", "_node_type", "doc_id", "document_id", "ref_doc_id"}
QUESTIONS = ("Che servizi ci sono per gli anziani a Matino?",
             "Quanto vale il progetto PNRR di Galatina?",
             "Cos'è il PUA?")


def _chunks() -> list[Chunk]:
    plan = {"title": "Piano di Casarano", "doc_type": "piano di zona", "ambito": "Casarano",
            "comuni": "Casarano|Matino", "region": "Puglia", "province": "LE", "year": 2022,
            "url": "https://example.org/piano.pdf", "date": "2024-04-29"}
    chunks = [Chunk(f"p{i}", f"Paragrafo {i}: assistenza domiciliare e trasporto sociale.",
                    chunk_metadata("piano.pdf", i + 1, "Servizi" if i % 2 else None, i)
                    ).with_document(plan) for i in range(7)]
    chunks.append(Chunk("n0", "Una nota senza pagine né sezione.",
                        chunk_metadata("nota.txt", None, None, 0)).with_document(
                            {"title": "Nota", "doc_type": "nota"}))
    return chunks


def _store(tmp_path, name: str = "index") -> ChunkStore:
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / name,
                        embedder="hashing")
    return ChunkStore(settings, HashingEmbedder())


def test_chunks_read_back_as_written(tmp_path):
    store = _store(tmp_path)
    chunks = _chunks()
    vectors = store.embedder.embed_passages([c.text for c in chunks])
    store.add(chunks, vectors)
    ids = [c.id for c in chunks]
    expected = [(c.id, c.text, c.metadata) for c in chunks]
    assert [(c.id, c.text, c.metadata) for c in store.get(ids)] == expected
    dumped, dumped_vectors = store.dump(ids=ids)
    assert [(c.id, c.text, c.metadata) for c in dumped] == expected
    assert np.allclose(dumped_vectors, vectors, atol=1e-6)
    assert np.allclose(store.vectors(ids), vectors, atol=1e-6)
    assert sorted((c.id, c.text, c.metadata) for c in store.iter_chunks()) == sorted(expected)
    # what a page, a section and a title are, for the chunker's "none" values
    note = store.get(["n0"])[0]
    assert (note.page, note.section, note.title, note.ordinal) == (None, None, "Nota", 0)
    assert [(c.page, c.section) for c in store.get(["p0", "p1"])] == [(1, None), (2, "Servizi")]
    # the records hold our fields only, in the metadata key order reads give
    raw = store.collection.get(ids=ids, include=["metadatas"])
    assert all(set(meta) <= set(METADATA_KEYS) for meta in raw["metadatas"])
    assert all(list(c.metadata) == [k for k in METADATA_KEYS if k in c.metadata]
               for c in store.get(ids))


def test_the_store_finds_deletes_and_replaces_by_its_own_fields(tmp_path):
    store = _store(tmp_path)
    chunks = _chunks()
    store.add(chunks, store.embedder.embed_passages([c.text for c in chunks]))
    vector = store.embedder.embed_query("assistenza domiciliare")
    found = store.search_ids(vector, 3, where={"ambito": "Casarano"})
    assert len(found) == 3 and all(cid.startswith("p") for cid, _ in found)
    assert sorted(store.source_ids("piano.pdf")) == sorted(c.id for c in chunks[:7])
    changed = Chunk("n0", "La nota, seconda versione.", chunks[-1].metadata)
    store.add([changed], store.embedder.embed_passages([changed.text]))
    assert store.get(["n0"])[0].text == "La nota, seconda versione." and store.count() == 8
    store.delete_source("piano.pdf")
    assert store.sources() == {"nota.txt": 1}


def test_add_refuses_what_it_could_not_read_back(tmp_path):
    store = _store(tmp_path)
    chunk = Chunk("x", "testo", {"source": "a.txt", "colore": "blu"})
    with pytest.raises(ValueError, match="colore"):
        store.add([chunk], store.embedder.embed_passages([chunk.text]))
    good = _chunks()[:2]
    with pytest.raises(ValueError, match="2 chunks, 1 embeddings"):
        store.add(good, store.embedder.embed_passages([good[0].text]))
    assert store.count() == 0


def _as_llamaindex_wrote_it(chunk: StoredChunk) -> dict:
    """The metadata the store wrote before: LlamaIndex's record of the node the pipeline
    made (ref doc = source), with ``None`` as ""."""
    node = TextNode(id_=chunk.id, text=chunk.text, metadata=dict(chunk.metadata))
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.source)
    node.excluded_embed_metadata_keys = list(node.metadata)
    node.excluded_llm_metadata_keys = list(node.metadata)
    meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    return {k: ("" if v is None else v) for k, v in meta.items()}


def _answers(bot: Assistant) -> list[tuple]:
    out = []
    for question in QUESTIONS:
        answer = bot.ask(question)
        out.append((answer.answer, answer.refused,
                    [(c.source, c.page, c.section) for c in answer.citations],
                    [(h.chunk.id, round(h.score, 6)) for h in answer.hits]))
    return out


def test_an_index_written_through_llamaindex_reads_the_same(fake_settings, demo_corpus):
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    bot.ingest(demo_corpus)
    chunks, vectors = bot.store.dump()
    answers = _answers(bot)
    # rewrite every record as the LlamaIndex path wrote it: same ids, texts and vectors
    legacy = [_as_llamaindex_wrote_it(c) for c in chunks]
    assert LLAMAINDEX_KEYS <= set(legacy[0])
    bot.store.collection.upsert(ids=[c.id for c in chunks], documents=[c.text for c in chunks],
                                embeddings=vectors, metadatas=legacy)
    raw = bot.store.collection.get(ids=[chunks[0].id], include=["metadatas"])
    assert LLAMAINDEX_KEYS <= set(raw["metadatas"][0])
    shutil.rmtree(fake_settings.index_dir / BM25_SUBDIR)  # rebuilt from the store's records

    reopened = Assistant(fake_settings, embedder=HashingEmbedder())
    again, again_vectors = reopened.store.dump()
    assert [(c.id, c.text, c.metadata) for c in again] == \
        [(c.id, c.text, c.metadata) for c in chunks]
    assert np.allclose(again_vectors, vectors, atol=1e-6)
    assert _answers(reopened) == answers
    report = reopened.ingest(demo_corpus)  # same signature: kept, nothing re-indexed
    assert report.files_indexed == 0 and report.files_unchanged > 0
    source = chunks[0].source
    reopened.store.delete_source(source)  # found by our own field in a legacy record too
    assert source not in reopened.store.sources()
