"""Generators of good and bad corpus files for the robustness tests.

Everything is built in memory from scratch (no binary fixtures in the repository): a tiny
PDF writer for text PDFs, pypdf for encryption, Pillow for scanned (image-only) PDFs.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def text_pdf(pages: list[str]) -> bytes:
    """A valid PDF with a real text layer (Helvetica, WinAnsi: accents and € survive).

    Each page's text is split on newlines into lines."""
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                   b"/Encoding /WinAnsiEncoding >>")
    for i, text in enumerate(pages):
        ops = [b"BT /F1 11 Tf 14 TL 60 780 Td"]
        for line in text.split("\n"):
            ops.append(_pdf_string(line) + b" Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n"
                       + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def encrypted_pdf(pages: list[str], user_password: str, algorithm: str = "AES-128") -> bytes:
    """``text_pdf`` encrypted with pypdf; an empty ``user_password`` opens without asking."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages))))
    writer.encrypt(user_password=user_password, owner_password="proprietario-segreto",
                   algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def truncated_pdf(pages: list[str], keep: float = 0.6) -> bytes:
    data = text_pdf(pages)
    return data[: int(len(data) * keep)]


def corrupt_pdf(pages: list[str], seed: int = 7) -> bytes:
    """A PDF whose body, cross-reference table and trailer are overwritten with noise."""
    data = bytearray(text_pdf(pages))
    rng = random.Random(seed)
    for i in range(40, len(data) - 6):
        data[i] = rng.randrange(256)
    return bytes(data)


def not_a_pdf() -> bytes:
    """What a failed download saves under a .pdf name."""
    return b"<html><body><h1>404 Not Found</h1></body></html>"


def _font(size: int):
    from PIL import ImageFont

    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def page_image(text: str, width: int = 1654, size: int = 40):
    """A white A4-ish page at 200 dpi with ``text`` rendered in black, line by line."""
    from PIL import Image, ImageDraw

    lines = text.split("\n")
    height = max(600, 160 + len(lines) * int(size * 1.6))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    y = 80
    for line in lines:
        draw.text((80, y), line, fill=0, font=font)
        y += int(size * 1.6)
    return image


def scanned_pdf(pages: list[str]) -> bytes:
    """An image-only PDF (no text layer), one rendered image per page, like a scan."""
    images = [page_image(text) for text in pages]
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", resolution=200.0, save_all=True,
                   append_images=images[1:])
    return buf.getvalue()


def binary_blob(size: int = 4096, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


HOSTILE_HTML = """<!DOCTYPE html>
<html><head><title>Servizi</title>
<style>body { color: red; } .nascosto { display: none }</style>
<script>var segreto = "CODICESCRIPT"; document.write("testo iniettato");</script>
</head>
<body>
<h1>Centro diurno per anziani</h1>
<p>Il centro diurno accoglie persone anziane parzialmente autosufficienti.</p>
<iframe src="https://example.invalid/pub"><p>CONTENUTOIFRAME pubblicitario</p></iframe>
<script type="text/javascript">alert("CODICEALERT")</script>
<noscript>CONTENUTONOSCRIPT abilitare javascript</noscript>
<p hidden>CONTENUTONASCOSTO istruzioni nascoste</p>
<div style="display:none">CONTENUTOINVISIBILE altre istruzioni</div>
<embed src="video.swf">
<p>Il servizio è aperto dal lunedì al venerdì.</p>
<style>p { margin: 0 } /* STILECSS */</style>
</body></html>
"""

LATIN1_TEXT = ("Servizio di trasporto sociale\n\n"
               "Perché è utile: il servizio accompagna le persone con disabilità alle "
               "terapie. Il contributo è di 2 € a viaggio.\n")
