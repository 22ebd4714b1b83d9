"""Ingestion embeds a long PDF while it reads it: the chunks, ids and vectors stored must
be exactly those of reading first and embedding after."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ingestion.chunking import Chunker
from assistant.ingestion.pipeline import _EmbedStream
from assistant.ingestion.readers import Page


class SubmittingEmbedder(HashingEmbedder):
    """The hashing embedder with USE's background interface (``submit_passages``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = ThreadPoolExecutor(2)
        self.submitted: list[int] = []

    def submit_passages(self, texts):
        self.submitted.append(len(texts))
        return self.pool.submit(self.embed_passages, list(texts))


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory):
    from bench.corpus import PlanWriter, write_pdf

    folder = tmp_path_factory.mktemp("lungo")
    writer = PlanWriter(5)
    write_pdf(writer, folder / "piano.pdf", 30, writer.document_plan(1), "stream")
    return folder


def _stored(bot: Assistant):
    chunks, vectors = bot.store.dump()
    order = np.argsort([c.id for c in chunks])
    return [chunks[i] for i in order], vectors[order]


def test_streamed_ingest_stores_what_the_sequential_one_stores(long_pdf, tmp_path):
    plain = Assistant(Settings(corpus_dir=long_pdf, index_dir=tmp_path / "a",
                               embedder="hashing"), embedder=HashingEmbedder())
    plain.ingest()
    embedder = SubmittingEmbedder()
    streamed = Assistant(Settings(corpus_dir=long_pdf, index_dir=tmp_path / "b",
                                  embedder="hashing"), embedder=embedder)
    report = streamed.ingest()
    assert report.chunks_added > 2 * _EmbedStream.group  # several parts
    assert len(embedder.submitted) >= 3 and sum(embedder.submitted) == report.chunks_added
    a_chunks, a_vectors = _stored(plain)
    b_chunks, b_vectors = _stored(streamed)
    assert [(c.id, c.text, c.metadata) for c in a_chunks] == \
        [(c.id, c.text, c.metadata) for c in b_chunks]
    assert np.allclose(a_vectors, b_vectors, atol=1e-6)
    assert set(report.stage_seconds) == {"parse", "clean_chunk", "embed", "store"}
    assert streamed.ask("Quali servizi offre il piano?").citations is not None


def test_pages_replaced_after_reading_are_chunked_again():
    embedder = SubmittingEmbedder()
    chunker = Chunker()
    places = ["Casarano", "Matino", "Parabita", "Galatina", "Maglie", "Nardò", "Gallipoli",
              "Ugento", "Tricase", "Otranto"]
    services = ["assistenza domiciliare", "trasporto sociale", "centro diurno", "mediazione",
                "segretariato sociale", "pronto intervento", "housing first", "tirocini"]
    read = [Page("\n\n".join(f"A {place} il servizio di {service} aiuta le famiglie."
                              for service in services for place in places[n:] + places[:n]),
                 n + 1) for n in range(9)]  # more pages than the stream holds back
    stream = _EmbedStream(embedder, chunker, "x.pdf", True, "Titolo")
    stream.group = 4
    for page in read:
        stream.page(page)
    assert embedder.submitted  # parts were sent while reading
    final = read[:2] + [Page("Pagina letta con OCR: centro diurno per anziani.", 3, ocr=True),
                        *read[3:]]
    chunks = stream.finish(final)
    assert [c.id for c in chunks] == [c.id for c in chunker.chunk("x.pdf", final, True)]
    parts = stream.parts()
    assert parts[0][0] == 0 and parts[-1][1] == len(chunks)
    assert sum(len(p[2].result()) for p in parts) == len(chunks)


def test_a_chunker_bug_while_reading_surfaces_as_unreadable_not_corrupt(long_pdf, tmp_path):
    class Broken(Chunker):
        def chunk(self, source, pages, reflow=False):  # noqa: ARG002
            raise RuntimeError("bug")

    from assistant.ingestion.pipeline import Ingestor
    from assistant.store import ChunkStore

    settings = Settings(corpus_dir=long_pdf, index_dir=tmp_path / "c", embedder="hashing")
    embedder = SubmittingEmbedder()
    report = Ingestor(settings, ChunkStore(settings, embedder), embedder,
                      chunker=Broken(), ocr=None).run()
    assert [(s.source, s.reason) for s in report.skipped] == [("piano.pdf", "unreadable")]


def test_a_pdf_shorter_than_the_held_pages_is_stored_whole(tmp_path):
    from bench.corpus import PlanWriter, write_pdf

    corpus = tmp_path / "corto"
    writer = PlanWriter(6)
    write_pdf(writer, corpus / "breve.pdf", 3, writer.document_plan(2), "corto")
    counts = []
    for name, embedder in (("a", HashingEmbedder()), ("b", SubmittingEmbedder())):
        bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / name,
                                 embedder="hashing"), embedder=embedder)
        counts.append(bot.ingest().chunks_added)
    assert counts[0] == counts[1] > 0
