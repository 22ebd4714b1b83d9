"""Word (.docx) and OpenDocument (.odt) documents: read with their headings, lists and
tables, indexed, answered and cited like any other document; a renamed or damaged file is
refused with a reason and loses nothing already indexed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docx import Document

from assistant import Assistant, HashingEmbedder
from assistant.errors import DocumentError
import zipfile

from assistant.ingestion.office import read_docx, read_odt
from assistant.ingestion.readers import read_pages
from assistant.ui.documents import Uploader


def _plan() -> bytes:
    document = Document()
    document.add_heading("Piano sociale di zona dell'Ambito di Montebello", level=0)
    document.add_heading("Assistenza domiciliare", level=1)
    document.add_paragraph("Il servizio di assistenza domiciliare aiuta gli anziani non "
                           "autosufficienti a restare nella propria casa.")
    document.add_paragraph("igiene della persona", style="List Bullet")
    document.add_paragraph("preparazione dei pasti", style="List Bullet")
    document.add_heading("Centro diurno", level=1)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Orario", "dal lunedì al venerdì 8-17"
    table.cell(1, 0).text, table.cell(1, 1).text = "Telefono", "0999 654321"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
<office:body><office:text>
<text:h text:outline-level="1">Centro diurno</text:h>
<text:p>Il centro <text:span>accoglie</text:span> gli anziani<text:s/>del territorio.<text:note>
<text:note-body><text:p>nota a piè di pagina</text:p></text:note-body></text:note></text:p>
<text:list><text:list-item><text:p>laboratori di memoria</text:p></text:list-item></text:list>
<table:table><table:table-row><table:table-cell><text:p>Telefono</text:p></table:table-cell>
<table:table-cell><text:p>0999 654321</text:p></table:table-cell></table:table-row></table:table>
</office:text></office:body></office:document-content>"""


def _odt(content: str = ODT_CONTENT) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return out.getvalue()


def test_an_opendocument_is_read_in_order():
    assert read_odt(_odt()).split("\n\n") == [
        "# Centro diurno", "Il centro accoglie gli anziani del territorio.",
        "• laboratori di memoria", "Telefono | 0999 654321"]


def test_headings_lists_and_tables_are_read_in_order():
    text = read_docx(_plan())
    lines = text.split("\n\n")
    assert lines[0] == "# Piano sociale di zona dell'Ambito di Montebello"
    assert "# Assistenza domiciliare" in lines
    assert "• igiene della persona" in lines
    assert "Orario | dal lunedì al venerdì 8-17" in lines
    assert lines.index("# Centro diurno") < lines.index("Telefono | 0999 654321")


def test_a_word_plan_is_answered_with_its_section(fake_settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "piano.docx").write_bytes(_plan())
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    report = bot.ingest(corpus)
    assert not report.skipped
    answer = bot.ask("Qual è il numero di telefono del centro diurno?")
    assert not answer.refused
    assert "0999 654321" in answer.answer
    assert answer.citations[0].source == "piano.docx"
    assert answer.citations[0].section == "Centro diurno"


@pytest.mark.parametrize(("data", "reason"), [
    (b"Il contributo si chiede entro il 30 aprile.", "not_docx"),
    (b"%PDF-1.7\n...", "not_docx"),
    (b"PK\x03\x04" + b"\x00" * 200, "corrupt_docx"),
])
def test_a_renamed_or_damaged_file_is_refused_with_its_reason(data, reason):
    with pytest.raises(DocumentError) as caught:
        read_pages(Path("piano.docx"), data)
    assert caught.value.reason == reason
    with pytest.raises(DocumentError) as caught:
        read_pages(Path("piano.odt"), data)
    assert caught.value.reason == reason.replace("docx", "odt")


def test_a_damaged_opendocument_xml_is_refused():
    with pytest.raises(DocumentError) as caught:
        read_odt(_odt("<office:document-content><non chiuso>"))
    assert caught.value.reason == "corrupt_odt"


def test_a_damaged_word_file_keeps_the_rest_indexed(fake_settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "avviso.txt").write_text("Il contributo per l'affitto si chiede entro il "
                                       "30 aprile.", encoding="utf-8")
    (corpus / "rotto.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    report = bot.ingest(corpus)
    assert [s.reason for s in report.skipped] == ["corrupt_docx"]
    assert "30 aprile" in bot.ask("Entro quando si chiede il contributo per l'affitto?").answer


def test_uploads_accept_a_word_document_and_refuse_a_renamed_text(tmp_path):
    uploads = tmp_path / "gradio"
    uploads.mkdir()
    good, fake = uploads / "piano.docx", uploads / "falso.docx"
    good.write_bytes(_plan())
    fake.write_text("non sono un documento Word", encoding="utf-8")
    outcome = Uploader(tmp_path / "corpus", 10, temp_dirs=[uploads]).save([good, fake])
    assert [name for name, _ in outcome.refused] == ["falso.docx"]
    assert "non è un documento Word" in outcome.refused[0][1]
    assert (tmp_path / "corpus" / "piano.docx").is_file()


def test_an_opendocument_plan_is_answered_with_its_section(fake_settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "piano.odt").write_bytes(_odt())
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    assert not bot.ingest(corpus).skipped
    answer = bot.ask("Qual è il telefono del centro diurno?")
    assert "0999 654321" in answer.answer
    assert (answer.citations[0].source, answer.citations[0].section) == (
        "piano.odt", "Centro diurno")


def test_an_entity_bomb_in_an_opendocument_is_refused():
    """Expat's amplification limit stops "billion laughs" entities: refused, not expanded."""
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">{entities}]><x>&l9;</x>'
    with pytest.raises(DocumentError) as caught:
        read_odt(_odt(bomb))
    assert caught.value.reason == "corrupt_odt"
