"""Readers: a file in, its text out, page by page (PDF) or as one page (Word, OpenDocument,
text, Markdown, HTML).

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
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import DocumentError
from .ocr import OCR
from .typography import PageTypography

if TYPE_CHECKING:
    from pypdf import PageObject

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".pdf", ".docx", ".odt", ".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Page:
    """The text of one page; ``number`` is 1-based for PDFs and ``None`` for other formats."""

    text: str
    number: int | None = None
    ocr: bool = False  # the text was read from the page image by OCR


def read_pages(path: Path, data: bytes | None = None, ocr: OCR | None = None,
               on_page: Callable[[Page], None] | None = None,
               check: Callable[[], None] | None = None,
               max_pages: int | None = None) -> list[Page]:
    """Read a supported file; ``data`` may hold its bytes already; ``ocr`` reads scanned
    PDF pages (without it, a PDF with no text layer is refused as ``needs_ocr``).
    ``on_page`` sees each PDF page's text layer as soon as it is extracted (before OCR
    replaces any page: compare with the pages returned). ``check`` is called after each
    page and before each OCR call (the file's time budget: it raises to stop);
    a PDF of more than ``max_pages`` pages is refused (``too_many_pages``)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError("unsupported", suffix=suffix or "(nessuna)")
    if data is None:
        data = path.read_bytes()
    if not data.strip():
        raise DocumentError("empty")
    if suffix == ".pdf":
        return read_pdf(data, ocr, on_page, check, max_pages)
    if suffix in (".docx", ".odt"):
        from .office import read_docx, read_odt

        text = read_docx(data) if suffix == ".docx" else read_odt(data)
        if not text.strip():
            raise DocumentError("no_text")
        return [Page(text=text, number=None)]
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


# programs: never a document, whatever the extension says
_PROGRAMS = ((b"\x7fELF", "ELF, Linux"), (b"MZ", "EXE, Windows"),
             (b"\xcf\xfa\xed\xfe", "Mach-O, macOS"), (b"\xca\xfe\xba\xbe", "Mach-O/Java"),
             (b"#!", "script"))


def program_kind(data: bytes) -> str | None:
    """The kind of program ``data`` starts like (ELF, EXE ...), or None."""
    return next((kind for magic, kind in _PROGRAMS if data.startswith(magic)), None)


def utf16_without_bom(sample: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when ``sample`` looks like UTF-16 text without a byte
    order mark (Latin letters: every other byte is zero), else None."""
    sample = sample[:8192]
    if len(sample) < 8:
        return None
    sample = sample[:len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    half = len(sample) // 2
    if odd.count(0) > 0.6 * half and even.count(0) < 0.1 * half:
        encoding = "utf-16-le"
    elif even.count(0) > 0.6 * half and odd.count(0) < 0.1 * half:
        encoding = "utf-16-be"
    else:
        return None
    text = sample.decode(encoding, errors="replace")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t\f")
    return encoding if printable >= 0.95 * len(text) else None


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM, or without one when every other
    byte is zero), else Windows-1252 (a superset of Latin-1 for letters: "perché", "è"
    and "€" survive); binary data is refused."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise DocumentError("wrong_extension", kind)
    program = program_kind(data)
    if program and not data.startswith(b"#!"):
        raise DocumentError("program", program)
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError("binary", str(exc)) from exc
    encoding = utf16_without_bom(sample)
    if encoding:
        try:
            return data[:len(data) // 2 * 2].decode(encoding)
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


def other_kind(data: bytes) -> str | None:
    """What bytes that are not the expected format start like ("HTML", "PNG",
    "ZIP/DOCX/ODT"...), or None; a program is refused (``program``)."""
    program = program_kind(data)
    if program:
        raise DocumentError("program", program)
    kind = next((k for m, k in _MAGIC if data.startswith(m)), None)
    return "HTML" if data.lstrip()[:1] == b"<" else kind


def check_pdf_head(data: bytes) -> None:
    """Refuse bytes that are not a PDF (``%PDF-`` in the first KB), saying what they are."""
    if b"%PDF-" in data[:1024]:
        return
    kind = other_kind(data)
    if kind is None:
        raise DocumentError("not_pdf_other")
    raise DocumentError("not_pdf", kind)


def read_pdf(data: bytes, ocr: OCR | None = None,
             on_page: Callable[[Page], None] | None = None,
             check: Callable[[], None] | None = None,
             max_pages: int | None = None) -> list[Page]:
    """Text of each page with pypdf; encrypted PDFs open only with an empty password.

    Pages without a text layer go to ``ocr`` when it is available, a few at a time with
    ``check`` between; a PDF with no text at all is refused as ``needs_ocr`` (no OCR) or
    ``ocr_no_text`` (OCR found nothing), or as ``corrupt_pdf`` when no page could be read
    and ``blank_pdf`` when its pages hold neither text nor images (neither is a scan).
    """
    check_pdf_head(data)
    if b"%%EOF" not in data[-65536:]:
        # the end of the file is missing: an interrupted download or copy
        raise DocumentError("truncated_pdf", f"{len(data)} byte")
    with _quiet_pypdf():
        pages, scanned, failed = _pdf_pages(data, on_page, check, max_pages)
    if not any(p.text.strip() for p in pages) and not scanned:
        # neither text nor anything to OCR: damaged pages, or blank ones; not a scan
        if failed:
            raise DocumentError("corrupt_pdf", f"{len(failed)} pagine su {len(pages)} "
                                "non si leggono")
        raise DocumentError("blank_pdf", pages=len(pages))
    if scanned and ocr is not None and ocr.available():
        for number, text in _recognize(ocr, data, scanned, check).items():
            if 1 <= number <= len(pages) \
                    and len(text.strip()) > len(pages[number - 1].text.strip()):
                pages[number - 1] = Page(text=text, number=number, ocr=True)
        if not any(p.text.strip() for p in pages):
            raise DocumentError("ocr_no_text", pages=len(pages))
    if not any(p.text.strip() for p in pages):
        raise DocumentError("needs_ocr", pages=len(pages))
    return pages


OCR_GROUP = 4  # scanned pages per OCR call; the time budget is checked between calls


def _recognize(ocr: OCR, data: bytes, scanned: list[int],
               check: Callable[[], None] | None) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(scanned), OCR_GROUP):
        if check is not None:
            check()
        try:
            found.update(ocr.recognize(data, scanned[start:start + OCR_GROUP]))
        except Exception as exc:  # OCR trouble never sinks ingestion
            log.warning("OCR failed: %s", exc)
    return found


def _pdf_pages(data: bytes, on_page: Callable[[Page], None] | None = None,
               check: Callable[[], None] | None = None, max_pages: int | None = None
               ) -> tuple[list[Page], list[int], list[int]]:
    """The pages' text layer, the numbers of the pages that look scanned (no text over an
    image, or a few characters over one) and of those whose text could not be read."""
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
        failed: list[int] = []
        count = len(reader.pages)
        if max_pages is not None and count > max_pages:
            raise DocumentError("too_many_pages", f"{count}, limite {max_pages}",
                                pages=count)
        for number, page in enumerate(reader.pages, start=1):
            _check_content_size(page, number)
            try:
                typography = PageTypography()
                page.extract_text(visitor_text=typography.visit)
                text = typography.marked_text()
            except FileNotDecryptedError as exc:
                raise DocumentError("encrypted", str(exc)) from exc
            except Exception:  # one bad page does not sink the document
                text = ""
                failed.append(number)
            pages.append(Page(text=text, number=number))
            if (not text.strip() or len(text.strip()) < 16) and _has_images(page):
                scanned.append(number)
            elif not text.strip():
                drawing = _drawing(page)
                if drawing == "damaged" and number not in failed:
                    failed.append(number)  # its content cannot even be decompressed
                elif drawing == "drawn":
                    scanned.append(number)  # drawn text (vector outlines): OCR may read it
            if on_page is not None:
                on_page(pages[-1])
            if check is not None:
                check()
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
    return pages, scanned, failed


# decompressed drawing instructions of one page: a dense table takes well under 1 MB; a
# stream of tens of MB (one "bomb" stream shared by every page) would take minutes to parse
MAX_PAGE_CONTENT_BYTES = 20 * 1024 * 1024


def _content_streams(page: PageObject) -> list[Any]:
    """The page's content streams. ``Any``: pypdf types every resolved object as its base
    ``PdfObject``; what ``/Contents`` holds is known only at run time, and the callers catch
    whatever a malformed one raises."""
    contents = page.get("/Contents")
    if contents is None:
        return []
    contents = contents.get_object()
    return [c.get_object() for c in contents] if isinstance(contents, list) else [contents]


def _check_content_size(page: PageObject, number: int) -> None:
    """Refuse a page whose content streams decompress to more than
    ``MAX_PAGE_CONTENT_BYTES`` (decompressing is fast; parsing them is what takes long)."""
    try:
        size = sum(len(s.get_data() or b"") for s in _content_streams(page))
    except Exception:  # noqa: BLE001 - unreadable content is judged by extract_text
        return
    if size > MAX_PAGE_CONTENT_BYTES:
        raise DocumentError("pdf_bomb", f"pagina {number}: {size / 1048576:.0f} MB di "
                            f"istruzioni di disegno, limite "
                            f"{MAX_PAGE_CONTENT_BYTES // 1048576} MB")


def _drawing(page: PageObject) -> str:
    """What a page without text draws: "none" (no content: a blank page), "damaged" (its
    content streams hold bytes that do not decompress) or "drawn" (shapes, perhaps text
    drawn as outlines)."""
    try:
        streams = _content_streams(page)
        if not streams:
            return "none"
        raw = sum(len(getattr(s, "_data", b"") or b"") for s in streams)
        decoded = sum(len(s.get_data() or b"") for s in streams)
    except Exception:  # noqa: BLE001 - content that cannot be read is damaged
        return "damaged"
    if decoded:
        return "drawn"
    return "damaged" if raw else "none"


def _has_images(page: PageObject) -> bool:
    try:
        # Any: the PDF's object graph, untyped below pypdf's PdfObject (as _content_streams)
        resources: Any = page["/Resources"].get_object()
        xobjects = resources.get("/XObject")
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
    def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
        values = {k.lower(): (v or "") for k, v in attrs}
        return ("hidden" in values or values.get("aria-hidden", "").lower() == "true"
                or bool(_HIDDEN_STYLE.search(values.get("style", ""))))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
