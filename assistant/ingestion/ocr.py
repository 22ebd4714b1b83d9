"""OCR for scanned PDFs: page images through the ``tesseract`` program.

Page images come from the PDF itself (pypdf extracts the scan embedded in an image-only
page); when that fails, poppler's ``pdftoppm`` rasterises the page. Both programs are
optional system packages (``scripts/install_system_deps.sh``): without them
:meth:`TesseractOCR.available` is false and scanned PDFs are reported as needing OCR.

The seam is :class:`OCR` (``available()`` and ``recognize(pdf, pages)``); :class:`FakeOCR`
is the deterministic stand-in for tests, :class:`NoOCR` the switched-off one.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    from pypdf import PageObject

log = logging.getLogger(__name__)


@runtime_checkable
class OCR(Protocol):
    """Reads the text of PDF pages that have no text layer."""

    name: str

    def available(self) -> bool: ...

    def recognize(self, pdf: bytes, pages: Sequence[int]) -> dict[int, str]:
        """Text of each requested page (1-based numbers); pages it cannot read are left out."""
        ...


class NoOCR:
    """OCR switched off: scanned PDFs are reported as needing OCR."""

    name = "none"

    def available(self) -> bool:
        return False

    def recognize(self, pdf: bytes, pages: Sequence[int]) -> dict[int, str]:
        return {}


class FakeOCR:
    """Deterministic OCR for tests: ``text`` is a fixed string, a page -> text mapping, or a
    function of the page number. ``calls`` records the pages asked for."""

    name = "fake"

    def __init__(self, text: str | Mapping[int, str] | Callable[[int], str] = "") -> None:
        self._text = text
        self.calls: list[list[int]] = []

    def available(self) -> bool:
        return True

    def recognize(self, pdf: bytes, pages: Sequence[int]) -> dict[int, str]:
        self.calls.append(list(pages))
        out = {}
        for number in pages:
            if callable(self._text):
                out[number] = self._text(number)
            elif isinstance(self._text, Mapping):
                if number in self._text:
                    out[number] = self._text[number]
            else:
                out[number] = self._text
        return out


class TesseractOCR:
    """Tesseract over page images, in ``languages`` (Tesseract codes joined by ``+``).

    ``dpi`` is the rasterising resolution for ``pdftoppm``; ``timeout`` bounds each program
    run in seconds; ``max_pages`` bounds the pages one document may send to OCR.
    """

    name = "tesseract"

    def __init__(self, languages: str = "ita", tesseract: str = "tesseract",
                 pdftoppm: str = "pdftoppm", dpi: int = 300, timeout: float = 120.0,
                 max_pages: int = 500) -> None:
        if not isinstance(languages, str) or not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*",
                                                                  languages):
            raise ValueError(f"languages must be Tesseract codes like 'ita' or 'ita+eng', "
                             f"got {languages!r}")
        if not 50 <= dpi <= 1200:
            raise ValueError(f"dpi must be between 50 and 1200, got {dpi!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        self.languages = languages
        self.tesseract = tesseract
        self.pdftoppm = pdftoppm
        self.dpi = dpi
        self.timeout = timeout
        self.max_pages = max_pages
        self._available: bool | None = None
        self._lock = threading.Lock()

    # ---- availability --------------------------------------------------------------------
    def available(self) -> bool:
        """True when the tesseract program and every wanted language are installed."""
        with self._lock:
            if self._available is None:
                self._available = self._probe()
            return self._available

    def _probe(self) -> bool:
        binary = shutil.which(self.tesseract)
        if not binary:
            return False
        try:
            done = subprocess.run([binary, "--list-langs"], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        installed = {line.strip() for line in (done.stdout + done.stderr).splitlines()}
        missing = [lang for lang in self.languages.split("+") if lang not in installed]
        if missing:
            log.warning("tesseract is installed but lacks language data: %s", ", ".join(missing))
        return not missing

    # ---- recognition ---------------------------------------------------------------------
    def recognize(self, pdf: bytes, pages: Sequence[int]) -> dict[int, str]:
        if not pages or not self.available():
            return {}
        from pypdf import PdfReader

        try:
            reader = PdfReader(io.BytesIO(pdf), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
        except Exception as exc:  # the caller already read this PDF; be safe anyway
            log.warning("OCR cannot open the PDF: %s", exc)
            return {}
        out: dict[int, str] = {}
        with tempfile.TemporaryDirectory(prefix="assistant-ocr-") as tmp:
            pdf_path = Path(tmp) / "document.pdf"
            for number in list(pages)[: self.max_pages]:
                try:
                    page = reader.pages[number - 1]
                except Exception:
                    continue
                text = self._from_embedded_images(page)
                if not text.strip():
                    if not pdf_path.exists():
                        pdf_path.write_bytes(pdf)
                    text = self._from_raster(pdf_path, number)
                if text.strip():
                    out[number] = text
        return out

    def _from_embedded_images(self, page: PageObject) -> str:
        """OCR of the scans embedded in the page (one or a few big images)."""
        try:
            images = list(page.images)
        except Exception as exc:
            log.debug("image extraction failed: %s", exc)
            return ""
        if not images or len(images) > 8:
            return ""  # no scan, or a mosaic of pieces: rasterise the whole page instead
        try:
            width_pt = float(page.mediabox.width) or 595.0
        except Exception:
            width_pt = 595.0
        texts = []
        for image in images:
            try:
                pil = image.image
                if pil is None or min(pil.size) < 32:
                    continue
                dpi = max(70, min(1200, round(pil.size[0] / (width_pt / 72.0))))
                buf = io.BytesIO()
                pil.convert("L" if pil.mode not in ("1", "L") else pil.mode).save(buf, "PNG")
            except Exception as exc:  # unusual encodings (JBIG2, broken JPEG)
                log.debug("cannot decode an embedded image: %s", exc)
                return ""
            texts.append(self._tesseract(buf.getvalue(), dpi))
        return "\n\n".join(t for t in texts if t.strip())

    def _from_raster(self, pdf_path: Path, number: int) -> str:
        binary = shutil.which(self.pdftoppm)
        if not binary:
            return ""
        try:
            done = subprocess.run(
                [binary, "-r", str(self.dpi), "-f", str(number), "-l", str(number), "-png",
                 "-gray", str(pdf_path)],
                capture_output=True, timeout=self.timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("pdftoppm failed on page %s: %s", number, exc)
            return ""
        if done.returncode != 0 or not done.stdout:
            return ""
        return self._tesseract(done.stdout, self.dpi)

    def _tesseract(self, image: bytes, dpi: int) -> str:
        try:
            done = subprocess.run(
                [self.tesseract, "stdin", "stdout", "-l", self.languages, "--dpi", str(dpi)],
                input=image, capture_output=True, timeout=self.timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("tesseract failed: %s", exc)
            return ""
        if done.returncode != 0:
            log.warning("tesseract exited with %s: %s", done.returncode,
                        done.stderr.decode("utf-8", "replace")[-300:])
            return ""
        return done.stdout.decode("utf-8", "replace")


def default_ocr(enabled: bool = True, languages: str = "ita") -> OCR:
    """Tesseract when enabled (it reports itself unavailable if not installed)."""
    return TesseractOCR(languages=languages) if enabled else NoOCR()


__all__ = ["OCR", "FakeOCR", "NoOCR", "TesseractOCR", "default_ocr"]
