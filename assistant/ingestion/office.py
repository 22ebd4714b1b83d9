"""Word (.docx) and OpenDocument (.odt) text documents as text: headings marked with "# "
(as Markdown's), list paragraphs as bullets, table rows as cells joined by " | ", in the
order of the document.

python-docx reads Word files; an OpenDocument's ``content.xml`` is read with the standard
library. The ZIP is checked first, so that a renamed file, a damaged document or a
compressed bomb is refused with a reason instead of being parsed.
"""

from __future__ import annotations

import io
import re
import zipfile
import xml.etree.ElementTree as ET
from typing import Any

from ..errors import DocumentError

ZIP_MAGIC = b"PK\x03\x04"
BODY = "word/document.xml"
# the most the document's XML may expand to: far above any plan (a 500-page plan is
# about 30 MB of XML), far below what a compressed bomb would take
MAX_XML_BYTES = 200_000_000
# heading styles as Word names them in Italian and English ("Titolo 1", "Heading 2",
# "Title") and list styles ("List Paragraph", "Paragrafo elenco", "List Bullet")
_HEADING = re.compile(r"^(?:heading|titolo|title|intestazione)\b", re.IGNORECASE)
_LIST = re.compile(r"^(?:list|elenco|paragrafo elenco)\b", re.IGNORECASE)


def check_office_head(data: bytes, reason: str = "not_docx") -> None:
    """Refuse bytes that do not start as a Word or OpenDocument file (a ZIP), saying what
    they are (``reason``: "not_docx" or "not_odt")."""
    if data.startswith(ZIP_MAGIC):
        return
    from .readers import other_kind

    raise DocumentError(reason, other_kind(data) or "testo o dati di altro tipo")


def _member(data: bytes, name: str, kind: str) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    """The opened archive of a Word (``kind`` "docx") or OpenDocument ("odt") file and its
    body member ``name``, checked: a ZIP, the member there, not expanding past
    ``MAX_XML_BYTES``."""
    check_office_head(data, f"not_{kind}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = archive.getinfo(name)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DocumentError(f"corrupt_{kind}", str(exc)) from exc
    if info.file_size > MAX_XML_BYTES:
        raise DocumentError("too_much_text", f"{info.file_size / 1e6:.0f} MB di XML")
    return archive, info


def read_docx(data: bytes) -> str:
    """The text of a .docx file (see the module's docstring)."""
    _member(data, BODY, "docx")
    from docx import Document

    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on bad files
        raise DocumentError("corrupt_docx", str(exc)) from exc
    return "\n\n".join(line for line in _blocks(document) if line.strip())


ODT_BODY = "content.xml"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


def read_odt(data: bytes) -> str:
    """The text of an OpenDocument text file (.odt, LibreOffice's own): ``text:h`` headings,
    ``text:list`` items, ``table:table-row`` rows and the other paragraphs, in order."""
    archive, info = _member(data, ODT_BODY, "odt")
    try:
        root = ET.fromstring(archive.read(info))
    except (zipfile.BadZipFile, OSError, ET.ParseError) as exc:
        raise DocumentError("corrupt_odt", str(exc)) from exc
    out: list[str] = []
    _odt_blocks(root, out, in_list=False)
    return "\n\n".join(line for line in out if line.strip())


def _odt_blocks(element: ET.Element, out: list[str], in_list: bool) -> None:
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}h":
            out.append(f"# {_odt_text(child)}")
        elif tag == f"{_TEXT}p":
            text = _odt_text(child)
            out.append(f"• {text}" if in_list and text else text)
        elif tag == f"{_TABLE}table-row":
            cells: list[str] = []
            for cell in child.iter(f"{_TABLE}table-cell"):
                text = " ".join(_odt_text(p) for p in cell.iter(f"{_TEXT}p")).strip()
                if text and (not cells or cells[-1] != text):
                    cells.append(text)
            if cells:
                out.append(" | ".join(cells))
        else:
            _odt_blocks(child, out, in_list or tag == f"{_TEXT}list")


def _odt_text(element: ET.Element) -> str:
    """The text of a paragraph or heading: its spans, links and spaces (``text:s``),
    tabs and line breaks as spaces; notes left out."""
    parts: list[str] = []

    def walk(node: ET.Element) -> None:
        if node.tag in (f"{_TEXT}note", f"{_TEXT}annotation"):
            parts.append(node.tail or "")
            return
        if node.tag in (f"{_TEXT}s", f"{_TEXT}tab", f"{_TEXT}line-break"):
            parts.append(" ")
        parts.append(node.text or "")
        for child in node:
            walk(child)
        if node is not element:
            parts.append(node.tail or "")

    walk(element)
    return " ".join("".join(parts).split())


def _blocks(document: Any) -> list[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            out.append(_paragraph(item))
        elif isinstance(item, Table):
            out.extend(_rows(item))
    return out


def _paragraph(paragraph: Any) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    style = paragraph.style.name if paragraph.style is not None else ""
    if _HEADING.match(style):
        return f"# {text}"
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    if _LIST.match(style) or numbered:
        return f"• {text}"
    return text


def _rows(table: Any) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # a merged cell repeats itself
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


__all__ = ["check_office_head", "read_docx", "read_odt"]
