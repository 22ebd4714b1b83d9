"""Readers: a file in, its text out, page by page (PDF) or as one page (text, Markdown, HTML).

Each reader raises :class:`DocumentError` with a ``reason`` key when the file cannot be used;
callers skip that file and go on with the others.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterator

from ..errors import DocumentError
from .ocr import OCR

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Page:
    """The text of one page; ``number`` is 1-based for PDFs and ``None`` for other formats."""

    text: str
    number: int | None = None
    ocr: bool = False  # the text was read from the page image by OCR


def read_pages(path: Path, data: bytes | None = None, ocr: OCR | None = None,
               on_page: Callable[[Page], None] | None = None) -> list[Page]:
    """Read a supported file; ``data`` may hold its bytes already; ``ocr`` reads scanned
    PDF pages (without it, a PDF with no text layer is refused as ``needs_ocr``).
    ``on_page`` sees each PDF page's text layer as soon as it is extracted (before OCR
    replaces any page: compare with the pages returned)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError("unsupported", suffix=suffix or "(nessuna)")
    if data is None:
        data = path.read_bytes()
    if not data.strip():
        raise DocumentError("empty")
    if suffix == ".pdf":
        return read_pdf(data, ocr, on_page)
    text = decode_text(data)
    if suffix in (".html", ".htm"):
        text = html_to_text(text)
    elif suffix in (".md", ".markdown"):
        text = text  # headings already marked with '#'
    if not text.strip():
        raise DocumentError("no_text")
    return [Page(text=text, number=None)]


# magic numbers of formats that are never text: a PDF or Office file renamed to .txt
_MAGIC = ((b"%PDF-", "PDF"), (b"PK\x03\x04", "ZIP/DOCX/ODT"), (b"\xd0\xcf\x11\xe0", "DOC/XLS"),
          (b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
          (b"{\\rtf", "RTF"))


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 (a superset of
    Latin-1 for letters: "perché", "è" and "€" survive); binary data is refused."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise DocumentError("wrong_extension", kind)
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("binary", str(exc)) from exc
    if b"\x00" in sample:
        raise DocumentError("binary")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if controls > len(sample) * 0.05:
        raise DocumentError("binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # mostly UTF-8 with a few broken bytes (a bad copy-paste) stays UTF-8; a file whose
    # accented letters are single bytes is Windows-1252 / Latin-1
    loose = data.decode("utf-8", errors="replace")
    broken = loose.count("\ufffd")
    multibyte = sum(1 for ch in loose if ord(ch) > 127) - broken
    if multibyte >= 4 * broken:
        return loose.replace("\ufffd", "")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs a warning for every repair it makes to a broken file; the report says it
    once, in Italian, so keep those out of the terminal while reading."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def read_pdf(data: bytes, ocr: OCR | None = None,
             on_page: Callable[[Page], None] | None = None) -> list[Page]:
    """Text of each page with pypdf; encrypted PDFs open only with an empty password.

    Pages without a text layer go to ``ocr`` when it is available; a PDF with no text at
    all is refused as ``needs_ocr`` (no OCR) or ``ocr_no_text`` (OCR found nothing).
    """
    head = data[:1024]
    if b"%PDF-" not in head:
        kind = next((k for m, k in _MAGIC if data.startswith(m)), None)
        if data.lstrip()[:1] == b"<":
            kind = "HTML"
        raise DocumentError("not_pdf", kind or "?")
    if b"%%EOF" not in data[-65536:]:
        # the end of the file is missing: an interrupted download or copy
        raise DocumentError("truncated_pdf", f"{len(data)} byte")
    with _quiet_pypdf():
        pages, scanned = _pdf_pages(data, on_page)
    if scanned and ocr is not None and ocr.available():
        try:
            found = ocr.recognize(data, scanned)
        except Exception as exc:  # OCR trouble never sinks ingestion
            log.warning("OCR failed: %s", exc)
            found = {}
        for number, text in found.items():
            if 1 <= number <= len(pages) and len(text.strip()) > len(pages[number - 1].text.strip()):
                pages[number - 1] = Page(text=text, number=number, ocr=True)
        if not any(p.text.strip() for p in pages):
            raise DocumentError("ocr_no_text", pages=len(pages))
    if not any(p.text.strip() for p in pages):
        raise DocumentError("needs_ocr", pages=len(pages))
    return pages


def _pdf_pages(data: bytes, on_page: Callable[[Page], None] | None = None
               ) -> tuple[list[Page], list[int]]:
    """The pages' text layer, and the numbers of the pages that look scanned (no text, or a
    few characters over an image)."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("encrypted")
            except DocumentError:
                raise
            except DependencyError as exc:
                raise DocumentError("encrypted", f"cifratura non supportata: {exc}") from exc
            except Exception as exc:
                raise DocumentError("encrypted", str(exc)) from exc
        pages: list[Page] = []
        scanned: list[int] = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except FileNotDecryptedError as exc:
                raise DocumentError("encrypted", str(exc)) from exc
            except Exception:  # one bad page does not sink the document
                text = ""
            pages.append(Page(text=text, number=number))
            if not text.strip() or (len(text.strip()) < 16 and _has_images(page)):
                scanned.append(number)
            if on_page is not None:
                on_page(pages[-1])
    except DocumentError:
        raise
    except RecursionError as exc:
        raise DocumentError("corrupt_pdf", "struttura troppo annidata") from exc
    except MemoryError as exc:
        raise DocumentError("corrupt_pdf", "memoria insufficiente") from exc
    except Exception as exc:  # pypdf raises many kinds on broken files
        raise DocumentError("corrupt_pdf", f"{type(exc).__name__}: {exc}"[:200]) from exc
    if not pages:
        raise DocumentError("corrupt_pdf", "nessuna pagina")
    return pages, scanned


def _has_images(page) -> bool:
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        if not xobjects:
            return False
        return any(x.get_object().get("/Subtype") == "/Image"
                   for x in xobjects.get_object().values())
    except Exception:
        return False


_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article",
               "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
               "dd", "dt", "td", "th", "main", "nav", "aside", "form"}
_DROP_TAGS = {"script", "style", "iframe", "noscript", "template", "svg", "object", "head",
              "nav", "form", "button", "select", "textarea", "frameset", "math", "canvas",
              "audio", "video", "dialog"}
# elements without an end tag: never open a dropped region
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
              "param", "source", "track", "wbr", "frame"}
# elements whose end tag may be left out: a following block closes a hidden one
_AUTOCLOSE = {"p", "li", "dt", "dd", "td", "th", "tr", "option"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


class _TextExtractor(HTMLParser):
    """Visible text only. ``_open`` holds the dropped elements still open (script, style,
    iframe, hidden ones ...); text is kept only when it is empty."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._open: list[str] = []

    @staticmethod
    def _hidden(attrs: list) -> bool:
        values = {k.lower(): (v or "") for k, v in attrs}
        return ("hidden" in values or values.get("aria-hidden", "").lower() == "true"
                or bool(_HIDDEN_STYLE.search(values.get("style", ""))))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "body":  # an unclosed <head> ends where the body starts
            if "head" in self._open:
                del self._open[self._open.index("head"):]
            return
        if len(self._open) == 1 and self._open[0] in _AUTOCLOSE and (
                tag in _BLOCK_TAGS or tag == self._open[0]):
            self._open.clear()  # <p hidden>...<p>: the hidden paragraph ended
        if tag in _VOID_TAGS:
            if tag == "br" and not self._open:
                self.parts.append("\n")
            return
        if tag in _DROP_TAGS or self._hidden(attrs):
            self._open.append(tag)
            return
        if self._open:
            if tag == self._open[-1] or tag in self._open:
                self._open.append(tag)  # nested element of the same kind
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if re.fullmatch(r"h[1-6]", tag):
                self.parts.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br" and not self._open:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("body", "html"):
            self._open.clear()
            return
        if tag in self._open:
            # close up to the matching open element (tolerates unclosed children)
            index = len(self._open) - 1 - self._open[::-1].index(tag)
            del self._open[index:]
            return
        if not self._open and tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._open:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page; scripts, styles, iframes, forms and hidden elements are
    dropped; headings become Markdown ``#`` lines and list items ``- `` lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    out = "\n".join(lines)
    out = re.sub(r"^(#+|-) *$", "", out, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", out).strip()
