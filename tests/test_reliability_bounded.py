"""Bounded work per file (issue 15, item 5): Chroma batches, time and size budgets, and a
document's old version kept until its new one is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings, messages
from assistant.ingestion.ocr import FakeOCR, NoOCR
from assistant.ingestion.pipeline import Ingestor
from assistant.errors import StoreUnavailableError
from assistant.store import ChunkStore, store_failure

import fixtures_bad as fb

PASSAGES = 5600  # Chroma's embedded store takes at most 5461 records per call


def settings_for(tmp_path: Path, **extra) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                    embedder="hashing", **extra)


def big_text(version: str = "uno", n: int = PASSAGES) -> str:
    """``n`` paragraphs, each long enough to be a passage of its own."""
    words = " ".join(f"parola{k}" for k in range(40))
    return "\n\n".join(f"# Sezione {i} ({version})\n\nParagrafo {i} versione {version}: "
                       f"{words}." for i in range(n))


def test_a_file_of_more_passages_than_one_chroma_batch_is_indexed(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "enorme.txt").write_text(big_text(), encoding="utf-8")
    (corpus / "zz_dopo.txt").write_text("Il centro diurno di Ruffano apre alle 9.",
                                        encoding="utf-8")
    settings = settings_for(tmp_path, chunk_size=32, chunk_overlap=0)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    assert store.max_batch_size < PASSAGES
    report = Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert report.skipped == []
    assert report.files_indexed == 2  # the file sorted after it too
    assert store.sources()["enorme.txt"] > store.max_batch_size


def _small_corpus(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "piano.txt").write_text(
        "# Piano\n\nIl servizio di assistenza domiciliare è gratuito (prima versione).\n\n"
        "La domanda si presenta al PUA del comune.", encoding="utf-8")
    (corpus / "altro.txt").write_text("Il trasporto sociale costa 2 euro a viaggio.",
                                      encoding="utf-8")


def test_old_chunks_are_removed_only_after_the_new_version_is_stored(tmp_path):
    corpus = tmp_path / "corpus"
    _small_corpus(corpus)
    settings = settings_for(tmp_path)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    old = set(store.source_ids("piano.txt"))
    (corpus / "piano.txt").write_text("# Piano\n\nIl servizio di assistenza domiciliare costa "
                                      "5 euro l'ora (seconda versione).", encoding="utf-8")
    seen: list[set[str]] = []
    real_add = store.add

    def add(nodes, embeddings):
        seen.append(set(store.source_ids("piano.txt")))  # what is stored at that moment
        real_add(nodes, embeddings)

    store.add = add  # type: ignore[method-assign]
    Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert seen and old <= seen[0]  # the old version was still there when the new came
    now = store.get(store.source_ids("piano.txt"))
    assert now and all("seconda" in c.text or "prima" not in c.text for c in now)
    assert not old & {c.id for c in now if "prima" in c.text}


def test_a_store_failure_midway_keeps_the_previous_version_whole(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cresce.txt").write_text(big_text("uno", 40), encoding="utf-8")
    settings = settings_for(tmp_path, chunk_size=32, chunk_overlap=0)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    before = sorted(store.source_ids("cresce.txt"))
    (corpus / "cresce.txt").write_text(big_text("due", 900), encoding="utf-8")
    calls = {"n": 0}
    real_add = store.add

    def failing_add(nodes, embeddings):
        calls["n"] += 1
        if calls["n"] == 2:  # what the store raises when Chroma refuses a write
            raise store_failure(RuntimeError("Batch size of 9000 is greater than max "
                                             "batch size"), settings)
        real_add(nodes, embeddings)

    store.add = failing_add  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError) as caught:
        Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert calls["n"] == 2
    assert "Chroma" in messages.for_error(caught.value)
    assert sorted(store.source_ids("cresce.txt")) == before  # nothing half-new is left
    store.add = real_add  # type: ignore[method-assign]
    report = Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert report.files_indexed == 1 and report.repaired == 0
    assert store.sources()["cresce.txt"] > len(before)


class SlowOCR(FakeOCR):
    """OCR that takes 'an hour' per call on a fake clock."""

    def __init__(self, clock: list[float], text: str) -> None:
        super().__init__(text)
        self.clock = clock

    def recognize(self, pdf, pages):
        self.clock[0] += 3600
        return super().recognize(pdf, pages)


def test_a_file_over_its_time_budget_is_skipped_and_its_old_version_kept(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scansione.pdf").write_bytes(fb.scanned_pdf(["Verbale"] * 12))
    (corpus / "zz_testo.txt").write_text("Il centro per le famiglie offre mediazione.",
                                         encoding="utf-8")
    settings = settings_for(tmp_path, file_seconds=600)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    quick = Ingestor(settings, store, embedder, ocr=FakeOCR("Verbale della seduta sociale"))
    assert quick.run(corpus).files_indexed == 2
    before = sorted(store.source_ids("scansione.pdf"))
    (corpus / "scansione.pdf").write_bytes(fb.scanned_pdf(["Verbale nuovo"] * 12))
    (corpus / "zz_testo.txt").write_text("Il centro per le famiglie offre mediazione e "
                                         "consulenza.", encoding="utf-8")
    clock = [0.0]
    slow = SlowOCR(clock, "Verbale nuovo della seduta")
    report = Ingestor(settings, store, embedder, ocr=slow, clock=lambda: clock[0]).run(corpus)
    assert [(s.source, s.reason, s.kept) for s in report.skipped] == \
        [("scansione.pdf", "too_slow", True)]
    assert len(slow.calls) == 1  # stopped at the first check after the budget, not 3 calls
    assert report.files_indexed == 1  # the rest of the ingest went on
    assert sorted(store.source_ids("scansione.pdf")) == before
    text = messages.skip_reason("too_slow", "600 s")
    assert "600 s" in text and "saltato" in text


def test_page_and_text_caps(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lungo.pdf").write_bytes(fb.text_pdf([f"Pagina {i} del piano" for i in range(6)]))
    (corpus / "fiume.txt").write_text("Parola di testo. " * 80_000, encoding="utf-8")
    settings = settings_for(tmp_path, max_pdf_pages=5, max_text_mb=1)
    embedder = HashingEmbedder()
    report = Ingestor(settings, ChunkStore(settings, embedder), embedder, ocr=NoOCR()).run(corpus)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons == {"lungo.pdf": "too_many_pages", "fiume.txt": "too_much_text"}
    for s in report.skipped:
        assert "limite" in messages.skip_reason(s.reason, s.detail)


def test_assistant_answers_the_old_version_until_the_switch(tmp_path):
    """The assistant's searches never see chunks that are stored but not published."""
    corpus = tmp_path / "corpus"
    _small_corpus(corpus)
    bot = Assistant(settings_for(tmp_path, state_check_seconds=0), embedder=HashingEmbedder())
    bot.ingest(corpus)
    (corpus / "piano.txt").write_text("# Piano\n\nIl servizio di assistenza domiciliare costa "
                                      "5 euro (seconda versione).", encoding="utf-8")
    during: list[list[str]] = []
    real_add = bot.store.add

    def add(nodes, embeddings):
        real_add(nodes, embeddings)  # the new version is in Chroma now, not yet published
        hits = bot.retriever.retrieve("assistenza domiciliare seconda versione", 10)
        during.append([h.chunk.text for h in hits])

    bot.store.add = add  # type: ignore[method-assign]
    bot.ingest(corpus)
    assert during and not any("seconda" in t for t in during[0])
    assert any("prima" in t for t in during[0])
    after = [h.chunk.text for h in bot.retriever.retrieve("assistenza domiciliare", 10)]
    assert any("seconda" in t for t in after) and not any("prima" in t for t in after)
    assert bot.store.count() == sum(d["chunks"] for d in bot.documents())


@pytest.mark.parametrize("retired_left", [True])
def test_an_interrupted_switch_is_finished_by_the_next_run(tmp_path, retired_left):
    """Killed after the new version was stored but before the old chunks went: the next
    run deletes them and the store agrees with the manifest."""
    corpus = tmp_path / "corpus"
    _small_corpus(corpus)
    settings = settings_for(tmp_path)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    (corpus / "piano.txt").write_text("Nuovo testo del piano (seconda versione).",
                                      encoding="utf-8")
    ingest = Ingestor(settings, store, embedder, ocr=NoOCR())
    ingest.purge = lambda sources=(): 0  # type: ignore[method-assign] - "killed" before it
    ingest.run(corpus)
    assert store.count() > sum(int(e["chunks"]) for e in ingest.manifest.files.values())
    report = Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert report.repaired == 0 and report.files_unchanged == 2
    assert store.count() == sum(int(e["chunks"]) for e in
                                Ingestor(settings, store, embedder).manifest.files.values())


def bomb_pdf(n_pages: int = 10, mb: int = 30) -> bytes:
    """``n_pages`` pages sharing one FlateDecode content stream of ``mb`` MB (a file of a
    few hundred KB): every page would parse, and OCR, the whole stream."""
    import zlib

    stream = zlib.compress(b"0 0 m 1 1 l S\n" * (mb * 1024 * 1024 // 14), 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{4 + i} 0 R' for i in range(n_pages))}]"
               f" /Count {n_pages} >>".encode(),
               b"<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\n"
               b"stream\n" + stream + b"\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"
                ] * n_pages
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n" \
        .encode()
    return bytes(out)


def test_a_pdf_bomb_is_refused_before_any_ocr(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    data = bomb_pdf()
    assert len(data) < 300_000
    (corpus / "bomba.pdf").write_bytes(data)
    ocr = FakeOCR("testo")
    settings = settings_for(tmp_path)
    embedder = HashingEmbedder()
    report = Ingestor(settings, ChunkStore(settings, embedder), embedder, ocr=ocr).run(corpus)
    assert [(s.source, s.reason) for s in report.skipped] == [("bomba.pdf", "pdf_bomb")]
    assert ocr.calls == []  # before: every page went to OCR and it was called "scanned"
    assert "anomali" in messages.skip_reason("pdf_bomb", report.skipped[0].detail)


def test_searches_see_only_the_published_chunks(tmp_path):
    corpus = tmp_path / "corpus"
    _small_corpus(corpus)
    settings = settings_for(tmp_path)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    vector = embedder.embed_query("trasporto sociale")
    every = [cid for cid, _ in store.search_ids(vector, 10)]
    shown = set(store.source_ids("piano.txt"))
    store.show_only(shown)
    assert [cid for cid, _ in store.search_ids(vector, 10)] == [c for c in every if c in shown]
    assert {cid for cid, _ in store.search_ids(vector, 10)} == shown
    store.show_only(set())
    assert store.search_ids(vector, 10) == []
    store.show_only(None)
    assert [cid for cid, _ in store.search_ids(vector, 10)] == every
