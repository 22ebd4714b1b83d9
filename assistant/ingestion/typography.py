"""Headings a PDF sets apart by type: lines wholly in a bold face or in a larger size than
the page's body text ("Obiettivi e risultati attesi" in 19 pt bold over 14.7 pt body).

pypdf hands every piece of text it extracts to a visitor, with its font and size; the pieces
joined are exactly the page's extracted text. :class:`PageTypography` collects them and
:meth:`PageTypography.marked_text` returns that text with each such line marked as a Markdown
heading ("# ..."), which the chunker (:mod:`assistant.ingestion.cleaning`) reads as the
section of what follows. A line it does not mark is left to the text heuristics there.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# a size at least this much over the body's sets a line apart (headings run 1.2-2x body)
LARGER = 1.15
MAX_WORDS = 14
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_LEADER = re.compile(r"\.{4,}|…{2,}|(?:\. ){3,}")  # the dots of a table of contents
_BULLET = re.compile(r"^\s*(?:[-•●▪◦*–]|\(?[a-z0-9]\)|[a-z]\.)\s", re.IGNORECASE)


@dataclass
class _Line:
    chars: list[tuple[str, float, bool]] = field(default_factory=list)  # char, size, bold

    @property
    def text(self) -> str:
        return "".join(c for c, _, _ in self.chars)


class PageTypography:
    """The text pieces of one page with their type: pass :meth:`visit` as pypdf's
    ``visitor_text``."""

    def __init__(self) -> None:
        self._lines: list[_Line] = [_Line()]

    def visit(self, text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if not text:
            return
        scale = abs(float(tm[3]) or 1.0) * abs(float(cm[3]) or 1.0)
        name = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(_BOLD.search(name))
        effective = round(float(size or 0.0) * scale, 1)
        for index, part in enumerate(text.split("\n")):
            if index:
                self._lines.append(_Line())
            self._lines[-1].chars.extend((c, effective, bold) for c in part)

    def text(self) -> str:
        """The page's text as pypdf extracts it."""
        return "\n".join(line.text for line in self._lines)

    def body_size(self) -> float:
        """The size most of the page's letters are set in."""
        sizes = Counter(size for line in self._lines for c, size, _ in line.chars
                        if c.isalpha())
        return sizes.most_common(1)[0][0] if sizes else 0.0

    def bold_share(self) -> float:
        """The share of the page's letters set in a bold face."""
        letters = [bold for line in self._lines for c, _, bold in line.chars if c.isalpha()]
        return sum(letters) / len(letters) if letters else 0.0

    def marked_text(self) -> str:
        """The page's text, each line set apart by type marked "# "; a heading wrapped over
        two lines in the same type is one ("Cosa devono fare AGID, Dipartimento per la" /
        "Trasformazione Digitale e Consip")."""
        body = self.body_size()
        bold_apart = self.bold_share() < 0.5  # on a page mostly in bold, bold says nothing
        out: list[str] = []
        previous: _Line | None = None  # the heading line just written
        for line in self._lines:
            if previous is not None and _wraps(previous, line, body, bold_apart):
                out[-1] = f"{out[-1]} {line.text.strip()}"
                previous = None
            elif _set_apart(line, body, bold_apart):
                out.append(f"# {line.text.strip()}")
                previous = line
            else:
                out.append(line.text)
                previous = None
        return "\n".join(out)


def _style(line: _Line) -> set[tuple[float, bool]]:
    return {(size, bold) for c, size, bold in line.chars if c.isalpha()}


def _wraps(heading: _Line, line: _Line, body: float, bold_apart: bool) -> bool:
    """Whether ``line`` goes on with the heading above it: the same type, and the heading
    stops short of a title's end (a long line, or one ending on a lower-case word)."""
    text, above = line.text.strip(), heading.text.strip()
    if not text or text.startswith("#") or _style(line) != _style(heading):
        return False
    if not (_apart_by_type(line, body, bold_apart) and len(text.split()) <= MAX_WORDS):
        return False
    return text[0].islower() or (len(above) > 40 and above[-1].isalpha() and
                                 above.split()[-1][0].islower())


def _set_apart(line: _Line, body: float, bold_apart: bool) -> bool:
    """A short line, starting like a title, whose letters are all bold (where bold sets
    text apart) or all larger than the body text; not a contents line ("2. INTRODUZIONE
    ......"), a lone code nor the tail of a parenthesis."""
    text = line.text.strip()
    if len(text) < 3 or len(text.split()) > MAX_WORDS or not body:
        return False
    if len(text.split()) == 1 and any(c.isdigit() for c in text):
        return False  # a code in bold on its line ("CAP1.PA.LA03"), a year: a label
    if not (text[0].isupper() or text[0].isdigit()) or text[-1] in ",;" \
            or _BULLET.match(text) or text.startswith("#") or _LEADER.search(text) \
            or (text.endswith(")") and "(" not in text):
        return False
    return _apart_by_type(line, body, bold_apart)


def _apart_by_type(line: _Line, body: float, bold_apart: bool) -> bool:
    letters = [(size, bold) for c, size, bold in line.chars if c.isalpha()]
    if len(letters) < 3:
        return False
    return (bold_apart and all(bold for _, bold in letters)) \
        or all(size >= body * LARGER for size, _ in letters)


__all__ = ["PageTypography"]
