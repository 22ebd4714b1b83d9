"""PDF headings found by type (assistant/ingestion/typography.py): a line wholly bold or
larger than the body is a heading; the text heuristics keep the rest."""

from __future__ import annotations

from pathlib import Path

from assistant.ingestion.chunking import Chunker
from assistant.ingestion.readers import read_pages
from assistant.ingestion.typography import PageTypography

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "evals" / "qa" / "piano-triennale" / "corpus" / "capitolo-1-servizi.pdf"

IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
SERIF = {"/BaseFont": "/CAAAAA+DejaVuSerif"}
BOLD = {"/BaseFont": "/BAAAAA+DejaVuSans-Bold"}


def _page(*runs: tuple[str, dict[str, str], float]) -> PageTypography:
    page = PageTypography()
    for text, font, size in runs:
        page.visit(text, IDENTITY, IDENTITY, font, size)
    return page


BODY = "Il miglioramento della qualità dei servizi pubblici digitali costituisce la premessa.\n"


def test_a_larger_or_bold_line_is_marked_and_the_text_is_unchanged_otherwise():
    page = _page((BODY * 3, SERIF, 12.0), ("Obiettivi e risultati attesi\n", SERIF, 16.0),
                 (BODY, SERIF, 12.0), ("Cosa devono fare le PA\n", BOLD, 12.0),
                 (BODY, SERIF, 12.0), ("Progetti di riferimento finanziati:\n", SERIF, 12.0))
    lines = page.marked_text().split("\n")
    assert "# Obiettivi e risultati attesi" in lines
    assert "# Cosa devono fare le PA" in lines
    assert "Progetti di riferimento finanziati:" in lines  # body type: left to the heuristics
    assert page.text() == (BODY * 3 + "Obiettivi e risultati attesi\n" + BODY
                           + "Cosa devono fare le PA\n" + BODY
                           + "Progetti di riferimento finanziati:\n")


def test_a_heading_wrapped_in_the_same_type_is_one():
    page = _page((BODY * 3, SERIF, 12.0),
                 ("Cosa devono fare AGID, Dipartimento per la\n", BOLD, 16.0),
                 ("Trasformazione Digitale e Consip\n", BOLD, 16.0), (BODY, SERIF, 12.0))
    assert "# Cosa devono fare AGID, Dipartimento per la Trasformazione Digitale e Consip" \
        in page.marked_text().split("\n")


def test_contents_lines_bold_words_in_a_sentence_and_bold_pages_are_not_headings():
    page = _page((BODY * 3, SERIF, 12.0), ("2. INTRODUZIONE ..............\n", BOLD, 12.0),
                 ("Sul portale ", SERIF, 12.0), ("ReGiS", BOLD, 12.0),
                 (" si carica la documentazione.\n", SERIF, 12.0),
                 ("- Salva in bozza\n", BOLD, 12.0))
    assert "#" not in page.marked_text()
    all_bold = _page((BODY * 3, BOLD, 12.0), ("Premessa\n", BOLD, 12.0))
    assert "#" not in all_bold.marked_text()


def test_the_plan_pdf_gets_its_typeset_headings_as_sections():
    """On the AGID plan the text heuristics alone took "2020 Italia Login - La casa del
    cittadino" for a heading and missed "Obiettivi e risultati attesi" (bold, 19 pt)."""
    pages = read_pages(PLAN)
    marked = [line for page in pages for line in page.text.split("\n") if line.startswith("# ")]
    assert "# Obiettivi e risultati attesi" in marked
    assert not any("Italia Login" in line for line in marked)
    chunks = Chunker().chunk(PLAN.name, pages, reflow=True)
    target = next(c for c in chunks if "Target 2020 - Baseline: almeno" in c.text)
    assert "Obiettivi e risultati attesi" in target.metadata["section"]
    assert not any("# " in c.text for c in chunks)  # a marked line never stays in the text


def test_in_a_typeset_document_only_marked_lines_are_headings():
    """"Le seguenti linee d'azione devono concludersi entro:" in body type introduces a
    list; in a document whose headings are set apart by type it is no heading."""
    from assistant.ingestion.cleaning import split_page
    from assistant.ingestion.readers import Page
    from assistant.ingestion.chunking import typeset

    text = ("# Obiettivi e risultati attesi\nIl piano fissa gli obiettivi per ogni anno e "
            "li misura con indicatori.\nLe seguenti linee d'azione devono concludersi entro:"
            "\nSettembre 2020 - Le PA pubblicano, tramite il form online di AGID, la dichiarazione "
            "di accessibilità per ciascuno dei propri siti web.")
    pages = [Page(text, 1), Page("# Cosa devono fare le PA\n" + text[31:], 2)]
    assert typeset(pages)
    assert not typeset([Page("# Manuale utilizzo\nTesto.", n) for n in (1, 2, 3)])  # running
    blocks, _ = split_page(text, reflow=True, typeset=True)
    assert {b.section for b in blocks} == {"Obiettivi e risultati attesi"}
    blocks, _ = split_page(text, reflow=True)
    assert "Le seguenti linee d'azione devono concludersi entro:" in {b.section for b in blocks}


def test_a_scanned_page_of_a_typeset_document_keeps_its_text_headings():
    """The OCR text of a scanned page has no type marks: its headings are found by the text
    heuristics, while the typeset pages take only their marked lines."""
    from assistant.ingestion.readers import Page

    typeset_text = ("# Obiettivi e risultati attesi\nIl piano fissa gli obiettivi per ogni anno."
                    "\n# Cosa devono fare le PA\nLe PA pubblicano la dichiarazione ogni anno.")
    scanned = ("ASSISTENZA DOMICILIARE\nIl servizio aiuta gli anziani a restare nella propria "
               "casa con visite settimanali degli operatori.")
    chunks = Chunker().chunk("piano.pdf", [Page(typeset_text, 1), Page(scanned, 2, ocr=True)],
                             reflow=True)
    sections = {c.metadata.get("section") for c in chunks}
    assert "Cosa devono fare le PA" in sections
    assert any(s and "ASSISTENZA DOMICILIARE" in s.upper() for s in sections if s)
    unscanned = Chunker().chunk("piano.pdf", [Page(typeset_text, 1), Page(scanned, 2)],
                                reflow=True)
    assert not any(s and "ASSISTENZA" in s.upper()
                   for s in {c.metadata.get("section") for c in unscanned} if s)
