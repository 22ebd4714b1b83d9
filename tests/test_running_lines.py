"""Running headers and footers of PDFs: a line goes only when it repeats at the top or bottom
of pages with the same text, or the same text but the page number; lines that differ by
other numbers (one service sheet per page, table rows, numbered headings) are content."""

from __future__ import annotations


from fixtures_bad import text_pdf

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ingestion.chunking import Chunker
from assistant.ingestion.cleaning import running_lines, strip_running_lines
from assistant.ingestion.readers import Page

# one service sheet per page; page 5 is Ruffano's
SHEETS = [
    ("Casarano", "Via Roma 12", "0833 502101", "dalle 8 alle 14", 30),
    ("Matino", "Via Dante 3", "0833 508842", "dalle 9 alle 13", 18),
    ("Parabita", "Piazza Umberto I 7", "0833 593317", "dalle 8 alle 12", 22),
    ("Taurisano", "Via Lecce 40", "0833 621905", "dalle 15 alle 19", 15),
    ("Ruffano", "Via Garibaldi 21", "0833 691234", "dalle 8 alle 17", 25),
    ("Collepasso", "Via Verdi 9", "0833 342276", "dalle 9 alle 18", 20),
    ("Supersano", "Via Manzoni 2", "0833 631150", "dalle 8 alle 13", 12),
]


def _sheet(number: int, comune: str, street: str, phone: str, hours: str, places: int) -> str:
    return (f"SCHEDA SERVIZIO\n"
            f"Centro diurno di {comune}\n"
            f"Indirizzo: {street}, {comune}\n"
            f"Telefono: {phone}\n"
            f"Orario: {hours}\n"
            f"Posti disponibili: {places}\n"
            f"Ambito di Casarano - Carta dei servizi 2024 - pagina {number} di {len(SHEETS)}")


def _sheets() -> list[str]:
    return [_sheet(n, *row) for n, row in enumerate(SHEETS, 1)]


def test_lines_that_differ_by_numbers_other_than_the_page_are_content():
    pages = _sheets()
    running = running_lines(pages, list(range(1, len(pages) + 1)))
    seen: set[str] = set()
    stripped = [strip_running_lines(text, running, seen, n)
                for n, text in enumerate(pages, 1)]
    assert "Telefono: 0833 691234" in stripped[4] and "Posti disponibili: 25" in stripped[4]
    assert "Orario: dalle 8 alle 17" in stripped[4]
    # the running title and the footer with the page number are kept on page 1 only
    assert "SCHEDA SERVIZIO" in stripped[0] and "SCHEDA SERVIZIO" not in stripped[4]
    assert "pagina 1 di 7" in stripped[0]
    assert not any("Carta dei servizi" in text for text in stripped[1:])


def test_a_line_repeated_in_the_middle_of_pages_is_content():
    pages = [f"Piano sociale di zona - pag. {n}\nScheda {name}\nDestinatari: anziani\n"
             f"Referente: {name} {n * 7}" for n, name in enumerate("ABCDEF", 1)]
    running = running_lines(pages, [1, 2, 3, 4, 5, 6])
    seen: set[str] = set()
    stripped = [strip_running_lines(t, running, seen, n) for n, t in enumerate(pages, 1)]
    assert all("Destinatari: anziani" in t for t in stripped)  # between lines of its own
    assert sum("Piano sociale di zona" in t for t in stripped) == 1


def test_page_number_with_an_offset_and_the_pagina_n_di_m_form():
    # a cover without number: printed page = PDF page - 1; the header also carries a year
    pages = ["Copertina\nRelazione annuale"] + [
        f"Relazione sociale 2024 — {n - 1}\nCapitolo {n}: attività {n * 13} utenti\n"
        f"Pagina {n - 1} di 9" for n in range(2, 9)]
    chunks = Chunker().chunk("relazione.pdf", [Page(t, n) for n, t in enumerate(pages, 1)],
                             reflow=True)
    text = "\n".join(c.text for c in chunks)
    assert text.count("Relazione sociale 2024") == 1
    assert "Pagina 2 di 9" not in text and "Pagina 5 di 9" not in text
    for n in range(2, 9):  # numbered headings stay, each on its page
        assert any(f"Capitolo {n}: attività {n * 13} utenti" in (c.section or "") + c.text
                   and c.page == n for c in chunks)


def test_a_long_pdf_of_numbered_rows_keeps_every_page():
    # every line differs from the other pages' only by its numbers: all of it is content
    pages = [Page(f"Voce {n * 3 + 100}: contributo di {n * 17 + 250} euro a {n + 4} famiglie\n"
                  f"Determina n. {n + 2000} del {n % 28 + 1}/03/2024", n) for n in range(1, 301)]
    chunks = Chunker().chunk("elenco.pdf", pages, reflow=True)
    assert {c.page for c in chunks} == set(range(1, 301))
    assert any("contributo di 1950 euro a 104 famiglie" in c.text for c in chunks)


def test_held_out_manual_headers_still_go():
    header = ["Manuale utilizzo STRUMENTI MONITORAGGIO", "PNRR", "DSD-MUT-02-V01",
              "Pag. {n} di 8", "pag. {n} DSD--MUT-02-V01-Manuale utilizzo PNRR_REGP"]
    pages = [Page("\n".join(h.format(n=n) for h in header)
                  + f"\n{n}. CAPITOLO {n}\nIl capitolo {n} descrive la funzione numero {n}.", n)
             for n in range(1, 9)]
    chunks = Chunker().chunk("manuale.pdf", pages, reflow=True)
    text = "\n".join(c.text + " " + (c.section or "") for c in chunks)
    assert text.count("DSD-MUT-02-V01") == 1 and text.count("PNRR_REGP") == 1
    assert all(f"Il capitolo {n} descrive la funzione numero {n}." in text for n in range(1, 9))


def test_ruffano_phone_number_is_found_on_its_page(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "centri_diurni.pdf").write_bytes(text_pdf(_sheets()))
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                             embedder="hashing"), embedder=HashingEmbedder())
    report = bot.ingest()
    assert report.files_indexed == 1 and not report.skipped
    chunks, _ = bot.store.dump()
    phones = {c.metadata["page"]: c.text for c in chunks if "Telefono" in c.text}
    assert sorted(phones) == list(range(1, len(SHEETS) + 1))  # every sheet keeps its phone
    answer = bot.ask("Qual è il numero di telefono del centro diurno di Ruffano?")
    assert not answer.refused
    first = answer.answer.split("\n")[0]  # the best sentence, citing [1]
    assert "Ruffano" in first and "0833 691234" in first
    assert "0833 502101" not in first  # not Casarano's, from page 1
    assert answer.citations[0].page == 5


def test_alternating_headers_and_a_table_continued_over_pages():
    # left and right pages carry different running titles; the table's header row runs,
    # its rows (same words, other numbers) are content
    pages = []
    for n in range(1, 9):
        title = "Piano sociale di zona 2025-2027" if n % 2 else "Ambito territoriale di Galatina"
        rows = "\n".join(f"Comune {c}{n}: {n * 1000 + c * 37} euro, {c + n} utenti"
                         for c in range(1, 4))
        pages.append(Page(f"{title}\nComune Importo Utenti\n{rows}\n{n + 10}", n))
    chunks = Chunker().chunk("riparto.pdf", pages, reflow=True)
    text = "\n".join(c.text + "\n" + (c.section or "") for c in chunks)
    assert text.count("Piano sociale di zona 2025-2027") == 1
    assert text.count("Ambito territoriale di Galatina") == 1
    assert text.count("Comune Importo Utenti") == 1
    for n in range(1, 9):
        assert all(f"Comune {c}{n}: {n * 1000 + c * 37} euro, {c + n} utenti" in text
                   for c in range(1, 4))


def test_numbers_alone_on_a_line_are_page_numbers_only_in_a_pdf(tmp_path):
    # an HTML table puts each cell on its own line: "25" is a cell, not a page number
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "posti.html").write_text(
        "<h1>Posti nei centri diurni</h1><p>Posti disponibili in ogni centro nel 2025.</p>"
        "<table><tr><th>Centro</th><th>Posti</th></tr><tr><td>Ruffano</td><td>25</td></tr>"
        "<tr><td>Matino</td><td>120</td></tr></table>", "utf-8")
    (corpus / "relazione.pdf").write_bytes(text_pdf(
        [f"Relazione sui centri diurni, parte {n}\nTesto della parte {n}.\n{n}"
         for n in range(1, 4)]))
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                             embedder="hashing"), embedder=HashingEmbedder())
    bot.ingest()
    chunks, _ = bot.store.dump()
    html = "\n".join(c.text for c in chunks if c.metadata["source"] == "posti.html")
    assert "Ruffano\n\n25" in html and "Matino\n\n120" in html
    pdf = [c.text for c in chunks if c.metadata["source"] == "relazione.pdf"]
    assert pdf and not any(text.rstrip().endswith(("\n1", "\n2", "\n3")) for text in pdf)
