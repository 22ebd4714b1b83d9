"""Cleaning: web boilerplate out, whitespace and typography normalised, sections found."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence, TypeVar

from ..datafiles import load_yaml


@lru_cache(maxsize=2)
def _boilerplate(printed: bool = True) -> re.Pattern[str]:
    """One pattern for the lines of boilerplate.yaml, which may also stand as a heading
    ("## Potrebbe interessarti", as the HTML reader writes an h2) or a list item ("-
    Condividi su Facebook"), and, in a ``printed`` document (a PDF), for its page numbers,
    lines of their own (elsewhere a number alone on its line is a table's cell: "25")."""
    data = load_yaml("boilerplate.yaml")
    lines = "|".join(f"(?:{p})" for p in data["lines"])
    pattern = rf"(?:#{{1,6}}\s+|[-•*]\s+)?(?:{lines})"
    if printed:
        pattern += "|" + "|".join(f"(?:{p})" for p in data["page_numbers"])
    return re.compile(pattern, re.IGNORECASE)


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_BULLET = re.compile(r"^(?:[§•▪●◦\-–*·]|\d{1,2}[.)])\s+")


T = TypeVar("T")
_NUMBER = re.compile(r"\d{1,5}")  # a longer number is never a page number
_MAX_NUMBERS = 6  # the first numbers of a line that may be its page number
_PAGE_SLOT = "\x00"  # marks where a running line carries its page number


def running_keys(line: str, page: int | None) -> list[str]:
    """The keys under which ``line`` may run from page to page: its text, numbers included
    ("dsd-mut-02-v01"), and, for each of its first numbers, its text with that number
    written as an offset from the page's number (``page``): "pag. 4 di 15" on page 4 and
    "pag. 5 di 15" on page 5 share the key "pag. \\x000\\x00 di 15". Lines of two characters
    or less have none."""
    text = _SPACES.sub(" ", line).strip().lower()
    if len(text) <= 2:
        return []
    keys = [text]
    if page is not None:
        for index, match in enumerate(_NUMBER.finditer(text)):
            if index == _MAX_NUMBERS:
                break
            if match.start() and text[match.start() - 1].isdigit() or \
                    text[match.end():match.end() + 1].isdigit():
                continue  # part of a longer number
            offset = int(match.group()) - page
            keys.append(f"{text[:match.start()]}{_PAGE_SLOT}{offset}{_PAGE_SLOT}"
                        f"{text[match.end():]}")
    return keys


def _keys_of_line(raw: str, page: int | None) -> list[str] | None:
    """A line's :func:`running_keys`; ``None`` for a line an edge run passes over (blank,
    or web boilerplate and page numbers that :func:`clean_text` drops anyway)."""
    line = _SPACES.sub(" ", raw).strip()
    if not line or _boilerplate().fullmatch(line):
        return None
    return running_keys(line, page) or None


def edge_runs(lines: Sequence[T], running: set[str] | frozenset[str],
              keys_of: Callable[[T], list[str] | None]) -> dict[int, str]:
    """The lines at the top and at the bottom of a page whose keys (``keys_of(line)``) are
    ``running``, each with its running key: from the first line down, and from the last
    line up, until a line that does not run (lines without keys are passed over). A line
    that runs in the middle of a page, between lines of its own, is the page's content and
    is not listed. Keys are asked only of the lines walked over."""
    found: dict[int, str] = {}
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        for index in order:
            if index in found:
                break  # the two runs met: the whole page runs
            keys = keys_of(lines[index])
            if keys is None:
                continue
            key = next((k for k in keys if k in running), None)
            if key is None:
                break
            found[index] = key
    return found


def _listed(keys: list[str] | None) -> list[str] | None:
    return keys


def running_lines(pages: list[str], numbers: list[int | None] | None = None,
                  share: float | None = None) -> frozenset[str]:
    """Running headers and footers of a printed document of three pages or more: lines at
    the top or bottom of at least ``share`` of its pages (and of three) with the same text,
    numbers included ("DSD-MUT-01-V01"), or with the same text but the page number ("pag. 4
    di 15" on page 4, "pag. 5 di 15" on page 5: the number is the page's own ``numbers``,
    1-based by default, plus one offset). Lines that differ by other numbers ("Telefono
    0833 123456" on one service sheet, "Telefono 0833 654321" on the next) are content.

    Returned as keys of :func:`running_keys`, which :func:`strip_running_lines` compares.
    """
    rule = load_yaml("boilerplate.yaml")["running_lines"]
    share = float(rule["share"]) if share is None else share
    if len(pages) < int(rule["min_pages"]):
        return frozenset()
    numbers = numbers or list(range(1, len(pages) + 1))
    floor = max(int(rule["min_pages"]), share * len(pages))
    keyed = [[_keys_of_line(line, number) for line in text.split("\n")]
             for text, number in zip(pages, numbers)]
    counts = Counter(k for lines in keyed for k in {k for keys in lines if keys for k in keys})
    running = {k for k, n in counts.items() if n >= floor}
    while True:  # keep the keys that run at the edges of enough pages (the set only shrinks)
        counts = Counter(k for lines in keyed
                         for k in set(edge_runs(lines, running, _listed).values()))
        kept = {k for k, n in counts.items() if n >= floor}
        if kept == running:
            return frozenset(kept)
        running = kept


def strip_running_lines(text: str, running: frozenset[str], seen: set[str],
                        number: int | None = None) -> str:
    """``text`` (the page numbered ``number``) without the running lines at its top and
    bottom already ``seen`` on an earlier page: each is kept once, where it first appears
    (a document code such as "DSD-MUT-01-V01" is worth finding; on every page it only
    breaks the text)."""
    if not running:
        return text
    lines = text.split("\n")
    drop = set()
    runs = edge_runs(lines, running, lambda line: _keys_of_line(line, number))
    for index, key in sorted(runs.items()):
        if key in seen:
            drop.add(index)
        seen.add(key)
    return "\n".join(line for index, line in enumerate(lines) if index not in drop)


def clean_text(text: str, printed: bool = True) -> str:
    """Normalise Unicode and whitespace and drop boilerplate lines (and page numbers, in a
    ``printed`` document: a PDF's pages).

    Paragraphs stay separated by one blank line; curly apostrophes are kept (the reader
    sees the document's own text), while search normalises them on its side.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x0c", "\n\n").replace("\u00ad", "")
    text = re.sub(r"(?:\. ?){4,}", " … ", text)  # table-of-contents leaders
    pattern = _boilerplate(printed)
    lines = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line and pattern.fullmatch(line):
            continue
        lines.append(line)
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


_MONTHS = ("gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
           "novembre dicembre").split()
_WRITTEN_DATE = re.compile(
    r"^(?:[•\-–*]\s*)?(?:(?:data|pubblicat[oa](?: il)?|aggiornat[oa](?: il)?)\s*:?\s*)?"
    r"(?:(?:luned|marted|mercoled|gioved|venerd)ì|sabato|domenica)?,?\s*"
    r"(\d{1,2})\s+(" + "|".join(_MONTHS) + r")\s+(\d{4})(?:,?\s+(?:ore\s+)?\d{1,2}[:.]\d{2})?$",
    re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"^(?:[•\-–*]\s*)?(?:data|pubblicat[oa](?: il)?)\s*:?\s*"
    r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})$",
    re.IGNORECASE)


def document_date(first_page: str, lines: int = 12) -> str | None:
    """The date a document carries at its top, as a line of its own ("Lunedì, 29 Aprile
    2024", "venerdì 13 settembre 2019 10:03", "Data: 09.08.22", "Pubblicato il 3 marzo
    2025"), written "29 aprile 2024"; None when its first lines hold no such line."""
    seen = 0
    for raw in first_page.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        seen += 1
        if seen > lines:
            break
        match = _WRITTEN_DATE.match(line)
        if match:
            return f"{int(match.group(1))} {match.group(2).lower()} {match.group(3)}"
        match = _NUMERIC_DATE.match(line)
        if match and 1 <= int(match.group(2)) <= 12:
            year = int(match.group(3))
            year += 2000 if year < 100 else 0
            return f"{int(match.group(1))} {_MONTHS[int(match.group(2)) - 1]} {year}"
    return None


@dataclass(frozen=True)
class Block:
    """A paragraph or list item with the heading it sits under (``None`` before any)."""

    text: str
    section: str | None


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*\.?)\s+[A-ZÀ-Ü][^.;:!?]{2,80}$")


SECTION_PATH = " › "  # joins a title and the subtitle right under it in a section name

_INNER_SENTENCE_END = re.compile(r"[a-zà-ù]{2}[.!?]\s+[A-ZÀ-Ü]")


def looks_like_heading(line: str, next_line: str | None, reflow: bool = False,
                       typeset: bool = False) -> bool:
    """A short line that does not end a sentence, set apart like a title; in a document
    whose headings are marked by type (``typeset``: :mod:`assistant.ingestion.typography`),
    only a marked line.

    In a PDF's text (``reflow``) a next line in lower case continues a wrapped sentence
    ("... con la relativa Checklist. La" / "pagina è strutturata ..."); in web text it is
    the list a title introduces ("L'area strategica: ..." / "con il ...").
    """
    if _MD_HEADING.match(line):
        return True
    if typeset or _INNER_SENTENCE_END.search(line):
        return False  # a sentence ends inside it: prose, not a title
    # a title introducing a list that continues it ("L'area strategica: ..." / "con il ...")
    introduces_list = not reflow and next_line is not None and next_line[:1].islower()
    if introduces_list and line.endswith(".") and not line.endswith(".."):
        line = line[:-1]
    limit = 140 if introduces_list else 90
    if len(line) > limit or len(line) < 3 or _BULLET.match(line) or "," in line:
        return False
    if line[-1] in ".;!?»”\"'’" or (line.endswith(":") and len(line) > 60):
        return False
    max_words = 22 if introduces_list else 12
    if len(line.split()) > max_words or not (line[0].isupper() or line[0].isdigit()):
        return False
    if _NUMBERED_HEADING.match(line):
        return True
    letters = [c for c in line if c.isalpha()]
    if len(letters) > 3 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return True  # "DESCRIZIONE DEL PROGETTO"
    if next_line is None:
        return False
    # a title before a longer paragraph, or before a list that continues it ("con il ...")
    return len(next_line) > max(len(line) * 1.5, 60) and not (reflow and next_line[:1].islower()) \
        or introduces_list


def _units(text: str, reflow: bool, typeset: bool = False) -> list[str]:
    """Paragraph candidates. Web text breaks lines between blocks: each line is a unit.
    PDF text breaks lines by layout (``reflow``): lines are joined back into paragraphs."""
    lines = [line.strip() for line in text.split("\n")]
    if not reflow:
        return [line for line in lines if line]
    width = max((len(line) for line in lines), default=0)
    units: list[str] = []
    current: list[str] = []
    following: list[str | None] = [None] * len(lines)  # next non-empty line, in O(n)
    upcoming: str | None = None
    for index in range(len(lines) - 1, -1, -1):
        following[index] = upcoming
        if lines[index]:
            upcoming = lines[index]
    for index, line in enumerate(lines):
        if not line:
            if current:
                units.append(" ".join(current))
                current = []
            continue
        nxt = following[index]
        starts_new = bool(_BULLET.match(line)) or looks_like_heading(line, nxt, True, typeset) \
            and not current
        ends_prev = bool(current) and current[-1][-1:] in ".:;!?" and len(current[-1]) < 0.8 * width
        marked = bool(_MD_HEADING.match(line))  # set apart by type (ingestion.typography)
        if current and (starts_new or ends_prev or marked or _BULLET.match(line)
                        or _NUMBERED_HEADING.match(line)):
            units.append(" ".join(current))
            current = []
        current.append(line)
        if marked or not current[1:] and looks_like_heading(line, nxt, True, typeset) \
                and not _BULLET.match(line):
            units.append(line)
            current = []
    if current:
        units.append(" ".join(current))
    return units


def split_blocks(text: str, section: str | None = None, reflow: bool = False) -> list[Block]:
    """Paragraphs and list items, each with the heading it sits under.

    ``section`` carries the heading over from a previous page; ``reflow`` joins lines that a
    PDF's layout broke.
    """
    return split_page(text, section, reflow)[0]


def split_page(text: str, section: str | None = None, reflow: bool = False,
               typeset: bool = False) -> tuple[list[Block], str | None]:
    """Like :func:`split_blocks`, also returning the heading in force at the end of the page
    (a heading at the bottom of a page, or alone on it, titles what follows); ``typeset``:
    the document's headings are marked by type, and only they are headings."""
    units = _units(text, reflow, typeset)
    blocks: list[Block] = []
    seen: set[tuple[str | None, str]] = set()
    after_heading = False
    for index, unit in enumerate(units):
        nxt = units[index + 1] if index + 1 < len(units) else None
        if looks_like_heading(unit, nxt, reflow, typeset):
            match = _MD_HEADING.match(unit)
            heading = (match.group(2) if match else unit).strip().rstrip(".")
            # a title directly followed by a subtitle: keep both ("Parte prima › Anziani")
            section = f"{section}{SECTION_PATH}{heading}" if after_heading and section \
                else heading
            after_heading = True
            continue
        after_heading = False
        title_like = len(unit.split()) <= 15 and unit[-1:] not in ".;:!?"
        key = (None, unit) if title_like else (section, unit)
        if key in seen:  # a title repeated by the page ("Potrebbe interessarti: ...")
            continue
        seen.add(key)
        blocks.append(Block(unit, section))
    return blocks, section
