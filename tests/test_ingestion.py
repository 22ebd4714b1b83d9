"""Readers, cleaning, chunking, ids and incremental ingest (fast: hashing embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant.errors import DocumentError
from assistant.ingestion.chunking import Chunker, count_pieces
from assistant.ingestion.cleaning import clean_text, split_blocks
from assistant.ingestion.readers import html_to_text, read_pages

SEED = Path(__file__).resolve().parent.parent / "corpus"


def test_boilerplate_lines_removed_text_kept():
    raw = "rotate-mobile\nTitolo\n\nX\nTorna su\nLeccePrima è in caricamento\nTesto vero.\n"
    cleaned = clean_text(raw)
    assert "rotate-mobile" not in cleaned and "Torna su" not in cleaned
    assert "caricamento" not in cleaned and "\nX\n" not in f"\n{cleaned}\n"
    assert "Testo vero." in cleaned and "Titolo" in cleaned


def test_sections_recorded_for_list_items():
    text = clean_text((SEED / "casarano_piano_sociale_2022_2024.txt").read_text())
    blocks = split_blocks(text)
    sad = next(b for b in blocks if "Assistenza domiciliare sociale (Sad)" in b.text)
    assert sad.section == "L’area strategica: Invecchiamento attivo"
    # each list item is its own block: kept whole
    assert sad.text.startswith("l’implementazione") and sad.text.endswith(";")


def test_flattened_table_rows_become_sections():
    text = clean_text((SEED / "lista_interventi_piano_nazionale_2021_2023.txt").read_text())
    blocks = split_blocks(text)
    row = next(b for b in blocks if "1:5000" in b.text)
    assert row.section.endswith("Servizio sociale professionale")


def test_wrapped_pdf_line_is_not_a_heading():
    # pypdf breaks lines by layout: a line ending "... Checklist. La" continues below
    page = ("DETTAGLIO DELLA CHECKLIST\n"
            "Dalla pagina che elenca i progetti si procede sul dettaglio di un progetto con la "
            "relativa Checklist. La\n"
            "pagina è strutturata in tre aree:\n"
            "1. Intestazione, area sempre visibile con una pulsantiera.\n"
            "Pag. 4 di 8\n")
    blocks = split_blocks(clean_text(page), reflow=True)
    assert {b.section for b in blocks} == {"DETTAGLIO DELLA CHECKLIST"}
    assert "Checklist. La pagina è strutturata in tre aree:" in blocks[0].text
    assert not any("Pag. 4" in b.text for b in blocks)


def test_running_headers_are_kept_once():
    from assistant.ingestion.chunking import Chunker
    from assistant.ingestion.readers import Page

    header = "pag. {n} DSD-MUT-01-V01-Manuale utilizzo STRUMENTI DI MONITORAGGIO PNRR"
    topics = ["accesso", "ricerca", "dettaglio", "salvataggio", "esiti", "note", "stampa",
              "esportazione"]
    pages = [Page(f"{header.format(n=n)}\nLa pagina spiega come si usa la funzione di "
                  f"{topic} dell'applicativo di monitoraggio.", n)
             for n, topic in enumerate(topics, 1)]
    chunks = Chunker().chunk("manuale.pdf", pages, reflow=True)
    text = "\n".join(c.text for c in chunks)
    assert text.count("DSD-MUT-01-V01") == 1  # on the first page only
    assert all("Manuale utilizzo" not in (c.section or "") for c in chunks)
    assert all(any(f"funzione di {t}" in c.text for c in chunks) for t in topics)
    short = Chunker().chunk("due.pdf", pages[:2], reflow=True)  # too few pages to tell
    assert sum("DSD-MUT-01-V01" in c.text for c in short) == 2


def test_acronym_defined_before_its_meaning():
    from assistant.expansion import acronyms_defined_in

    found = acronyms_defined_in("i dati di tutti CIG (Codice Identificativo Gara) e il CUP "
                                "(vedi sopra) del Punto Unico di Accesso (PUA)")
    assert found == {"CIG": "Codice Identificativo Gara", "PUA": "Punto Unico di Accesso"}


def test_html_reader_drops_scripts_styles_iframes():
    html = ("<html><head><title>t</title><style>.x{}</style></head><body><h2>Servizi</h2>"
            "<p>Il SAD è attivo.</p><script>alert('x')</script><iframe>spam</iframe>"
            "<ul><li>uno</li><li>due</li></ul></body></html>")
    text = html_to_text(html)
    assert "alert" not in text and "spam" not in text and ".x{}" not in text
    assert "## Servizi" in text and "- uno" in text and "Il SAD è attivo." in text


def test_latin1_text_is_decoded(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("Perché il servizio è gratuito: 10 €".encode("cp1252"))
    assert "Perché" in read_pages(path)[0].text and "€" in read_pages(path)[0].text


@pytest.mark.parametrize("name,data,reason", [
    ("vuoto.txt", b"", "empty"),
    ("dati.txt", bytes(range(256)) * 4, "binary"),
    ("rotto.pdf", b"%PDF-1.4 garbage", ("corrupt_pdf", "truncated_pdf")),
    ("foglio.xlsx", b"PK...", "unsupported"),
])
def test_bad_files_raise_document_error(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        read_pages(path)
    assert info.value.reason in (reason if isinstance(reason, tuple) else (reason,))


def test_pdf_pages_are_numbered(manual_pdf):
    pages = read_pages(manual_pdf)
    assert [p.number for p in pages] == list(range(1, 9))
    assert all(p.text.strip() for p in pages)


def test_chunks_fit_the_model_and_ids_are_stable(manual_pdf):
    chunker = Chunker(chunk_size=120, chunk_overlap=10)
    pages = read_pages(manual_pdf)
    first = chunker.chunk("m.pdf", pages, reflow=True)
    again = chunker.chunk("m.pdf", pages, reflow=True)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert max(len(count_pieces(c.text)) for c in first) <= 120
    assert {c.page for c in first} >= {1, 2, 3}


def _ingest(tmp_path: Path, corpus: Path, embedder: HashingEmbedder):
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedder="hashing")
    bot = Assistant(settings, embedder=embedder)
    return bot, bot.ingest()


def test_incremental_ingest_changes_only_what_changed(tmp_path, demo_corpus):
    embedder = HashingEmbedder()
    bot, first = _ingest(tmp_path, demo_corpus, embedder)
    assert first.files_indexed == 5 and not first.skipped
    total = bot.store.count()
    before = embedder.passages_embedded

    # nothing changed: nothing embedded
    report = bot.ingest()
    assert report.files_unchanged == 5 and embedder.passages_embedded == before

    # one file changed: only its chunks replaced
    galatina = demo_corpus / "galatina_pnrr_m5c2.txt"
    old_ids = {c.id for c in bot.store.iter_chunks() if c.source == galatina.name}
    galatina.write_text(galatina.read_text() + "\n\nNuovo paragrafo sul trasporto sociale.\n")
    report = bot.ingest()
    assert report.files_indexed == 1 and report.files_unchanged == 4
    new = {c.id: c for c in bot.store.iter_chunks() if c.source == galatina.name}
    assert any("trasporto sociale" in c.text for c in new.values())
    assert not (old_ids - set(new)) or len(new) >= len(old_ids)
    others = {c.id for c in bot.store.iter_chunks() if c.source != galatina.name}
    assert len(others) + len(new) == bot.store.count()

    # deleted: its chunks are gone
    galatina.unlink()
    report = bot.ingest()
    assert report.files_removed == 1
    assert galatina.name not in bot.store.sources()
    assert bot.store.count() == total - len(old_ids)


def test_document_without_catalog_entry_gets_title_from_name(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "servizi_anziani_comune.md").write_text(
        "# Servizi per anziani\n\nIl comune offre il trasporto sociale gratuito.\n")
    bot, report = _ingest(tmp_path, corpus, HashingEmbedder())
    chunk = next(bot.store.iter_chunks())
    assert chunk.title == "Servizi anziani comune"
    assert chunk.section == "Servizi per anziani"


def test_unsupported_file_skipped_others_indexed(tmp_path, demo_corpus):
    (demo_corpus / "tabella.xlsx").write_bytes(b"PK\x03\x04")
    bot, report = _ingest(tmp_path, demo_corpus, HashingEmbedder())
    assert [s.reason for s in report.skipped] == ["unsupported"]
    assert report.files_indexed == 5


def test_other_embedder_rebuilds_index(tmp_path, demo_corpus):
    bot, _ = _ingest(tmp_path, demo_corpus, HashingEmbedder(dim=256))
    bot2 = Assistant(bot.settings, embedder=HashingEmbedder(dim=128))
    report = bot2.ingest()
    assert report.files_indexed == 5
    got = bot2.store.collection.get(limit=1, include=["embeddings"])
    assert len(got["embeddings"][0]) == 128
