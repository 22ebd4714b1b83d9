"""Scanned PDFs: OCR'd with Tesseract when installed, reported as needing OCR otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import HashingEmbedder, Settings, messages
from assistant.ingestion.ocr import FakeOCR, NoOCR, TesseractOCR
from assistant.ingestion.pipeline import Ingestor
from assistant.ingestion.readers import read_pages
from assistant.store import ChunkStore

import fixtures_bad as fb

SCAN_TEXT = ("Piano sociale di zona\n"
             "Il servizio di assistenza domiciliare è gratuito\n"
             "perché la legge regionale lo prevede.\n"
             "Contributo per il trasporto: 5 € a viaggio.")
TESSERACT = TesseractOCR()
needs_tesseract = pytest.mark.skipif(
    not TESSERACT.available(),
    reason="tesseract with Italian data not installed (scripts/install_system_deps.sh)")


def ingest(folder: Path, engine, **changes):
    corpus = folder / "corpus"
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index", embedder="hashing")
    settings = settings.replace(**changes)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    kwargs = {} if engine == "default" else {"ocr": engine}
    report = Ingestor(settings, store, embedder, **kwargs).run(corpus)
    return report, store


@pytest.fixture
def scan_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scansione.pdf").write_bytes(fb.scanned_pdf([SCAN_TEXT, "Seconda pagina"]))
    (corpus / "testo.txt").write_text("Sportello sociale aperto il martedì.", encoding="utf-8")
    return corpus


def test_generated_scan_has_no_text_layer():
    from pypdf import PdfReader
    import io

    reader = PdfReader(io.BytesIO(fb.scanned_pdf([SCAN_TEXT])))
    assert all(not (p.extract_text() or "").strip() for p in reader.pages)
    assert len(reader.pages[0].images) == 1


@pytest.mark.parametrize("ocr", [None, NoOCR(), "settings-off"])
def test_scan_without_ocr_is_reported_as_needs_ocr(tmp_path, scan_corpus, ocr):
    if ocr == "settings-off":
        report, store = ingest(tmp_path, "default", ocr=False)
    else:
        report, store = ingest(tmp_path, ocr)
    assert [(s.source, s.reason) for s in report.skipped] == [("scansione.pdf", "needs_ocr")]
    assert set(store.sources()) == {"testo.txt"}
    text = messages.skip_reason("needs_ocr")
    assert "OCR" in text and "tesseract-ocr-ita" in text


def test_scan_is_read_by_an_injected_ocr(tmp_path, scan_corpus):
    fake = FakeOCR({1: "Assistenza domiciliare gratuita per anziani soli.",
                    2: "Centro diurno."})
    report, store = ingest(tmp_path, fake)
    assert report.skipped == []
    assert fake.calls == [[1, 2]]
    assert report.pages_ocr == 2
    chunks = [c for c in store.iter_chunks() if c.source == "scansione.pdf"]
    assert {c.page for c in chunks} == {1, 2}
    assert any("anziani soli" in c.text for c in chunks)


def test_ocr_that_finds_nothing_is_reported(tmp_path, scan_corpus):
    report, _store = ingest(tmp_path, FakeOCR(""))
    assert [(s.source, s.reason) for s in report.skipped] == [("scansione.pdf", "ocr_no_text")]


def test_only_pages_without_text_go_to_ocr():
    fake = FakeOCR("testo OCR")
    pages = read_pages(Path("misto.pdf"), fb.text_pdf(["Pagina con testo vero.", ""]), ocr=fake)
    assert fake.calls == [[2]]
    assert [(p.text.strip(), p.ocr) for p in pages] == [("Pagina con testo vero.", False),
                                                        ("testo OCR", True)]


def test_tesseract_ocr_reports_unavailable_without_the_program():
    assert not TesseractOCR(tesseract="tesseract-che-non-esiste").available()
    assert TesseractOCR(tesseract="tesseract-che-non-esiste").recognize(b"%PDF-", [1]) == {}
    with pytest.raises(ValueError, match="languages"):
        TesseractOCR(languages="ita; rm -rf /")


def _assert_italian_scan_text(text: str) -> None:
    flat = " ".join(text.split())
    assert "assistenza domiciliare" in flat
    assert "gratuito" in flat
    assert "perché" in flat
    assert "trasporto" in flat


@needs_tesseract
def test_tesseract_reads_an_italian_scan(tmp_path, scan_corpus):
    report, store = ingest(tmp_path, TESSERACT)
    assert report.skipped == [] and report.pages_ocr == 2
    # a line may become the section heading of the next lines: look at both
    text = "\n".join(f"{c.section}\n{c.text}" for c in store.iter_chunks()
                     if c.source == "scansione.pdf")
    _assert_italian_scan_text(text)


@needs_tesseract
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_tesseract_falls_back_to_rasterising_the_page():
    class RasterOnly(TesseractOCR):
        def _from_embedded_images(self, page) -> str:
            return ""

    found = RasterOnly(dpi=200).recognize(fb.scanned_pdf([SCAN_TEXT]), [1])
    _assert_italian_scan_text(found[1])
