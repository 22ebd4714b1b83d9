"""Corpus boilerplate: the lines a corpus's web, text and Markdown files share at their top
and bottom (site menus, breadcrumb trails, "Potrebbe interessarti" lists, cookie banners,
footers of a crawled site) are dropped at ingest, as a PDF's running lines are.

What is boilerplate is counted, not listed. A line of a file is a *candidate* when

- the same line (spaces and case aside) is in at least ``max(min_files, share x files)``
  of the corpus's web, text and Markdown files (``corpus_lines`` in boilerplate.yaml);
- it is a breadcrumb trail ("Home > Servizi > Centro diurno") whose first step ("Home >")
  starts a trail in that many files;
- it names another file of the corpus by that file's title (its first ``#`` heading): a
  menu entry or a "Potrebbe interessarti" item pointing to another page; and the lines
  under such a link that the page it names holds too (a card's excerpt of that page);
- it names the file itself, but not as a heading (the last step of a breadcrumb).

Candidates are dropped only in the file's top and bottom runs (from the first line down and
from the last line up, until a line that is not a candidate): a line that is repeated but
sits between lines of the file's own, in its body, is content and stays. A file's own title
is never dropped. A file that would be left with headings only (a section page that lists
its pages) keeps its links and excerpts; if even that leaves nothing, it keeps its text. A
repeated line that carries data (a digit or an "@": the PEC, address or phone of a site's
footer) and that no file holds in its body is kept once, as a PDF's running lines are, in
the first file of the corpus that holds it, so that the corpus still answers "qual è la PEC
dell'ambito?"; menus, trails, cookie banners and link lists are kept nowhere.

PDFs are neither counted nor stripped: their running lines are found page by page
(:func:`cleaning.running_lines`), and chapters of one plan share headings ("Contesto
normativo e strategico", "Cosa devono fare le PA") that answer questions.

Incremental ingest: the census is known before any file is chunked. It is rebuilt at the
start of every run from the corpus's web, text and Markdown files, reading again only those
whose bytes changed (the line hashes of the others are kept in ``line_census.json`` in the
index folder, with the order of its lines). A file's chunks depend on which of its lines
are candidates and which data lines it keeps, so :meth:`LineCensus.fingerprint` (a hash of
those) enters the hash the manifest keeps for it: when a line becomes boilerplate or stops
being one (files added, changed or removed move the counts and the floor; a page quoted by a
card changes its text), or another file becomes the one keeping a data line, exactly the
files holding that line are indexed again, and every other file is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datafiles import load_yaml
from .cleaning import clean_text, edge_runs
from .readers import Page, read_pages

CENSUS_NAME = "line_census.json"
CENSUS_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_CENSUS_VERSION = 3
_TRAIL = re.compile(r"\s[>›»/]\s")  # a step of a breadcrumb trail ("Home / Servizi")
_MARKERS = re.compile(r"^(?:#{1,6}|[-•*])\s+")  # heading and list-item marks
_DATA = re.compile(r"[\d@]")  # a line with a number or an address carries data
_OWN_TITLE, _SELF_LINK, _EXCERPT, _LINK = ("\x00own title", "\x00self link", "\x00excerpt",
                                           "\x00link")
log = logging.getLogger(__name__)


def _hash(kind: str, text: str) -> str:
    return hashlib.blake2b(f"{kind}\x1f{text}".encode("utf-8"), digest_size=8).hexdigest()


def _normal(line: str) -> str:
    return " ".join(line.split()).lower()


@dataclass(frozen=True)
class LineKeys:
    """How one line is counted: ``line`` (its text), ``trail`` (the first step of a
    breadcrumb trail, or None), ``named`` (its text without heading or list marks, compared
    with the titles of the other files: the same key as ``line`` for a line without marks),
    ``heading`` (a ``#`` line), ``data`` (a digit or an "@" in it)."""

    line: str
    trail: str | None
    named: str
    heading: bool = False
    data: bool = False

    @classmethod
    def of(cls, line: str) -> "LineKeys | None":
        """None for a line too short to count (one or two characters)."""
        text = _normal(line)
        if len(text) <= 2:
            return None
        steps = _TRAIL.split(text, maxsplit=1)
        trail = _hash("trail", steps[0]) if len(steps) > 1 else None
        return cls(_hash("line", text), trail, _hash("line", _MARKERS.sub("", text)),
                   text.startswith("#"), bool(_DATA.search(text)))

    def as_list(self) -> list[str | int | None]:
        """The census file's row: line, trail, named, flags (heading 1, data 2)."""
        return [self.line, self.trail, self.named, int(self.heading) + 2 * int(self.data)]

    @classmethod
    def from_list(cls, raw: list[Any]) -> "LineKeys":
        """The keys of an :meth:`as_list` row read back from JSON (untyped)."""
        return cls(str(raw[0]), raw[1], str(raw[2]), bool(raw[3] & 1), bool(raw[3] & 2))


class FileLines:
    """What the census keeps of one file: the hash of its bytes and the keys of its lines
    in order (``sequence``); from them, the sets of its line, trail, unmarked (``named``,
    those that differ from ``lines``) and data keys, and its title: the first ``#`` heading
    (Markdown's, or HTML's h1-h6 as the reader writes them; None without one)."""

    def __init__(self, digest: str, sequence: list[LineKeys | None]) -> None:
        self.digest = digest
        self.sequence = sequence
        keys = [k for k in sequence if k is not None]
        self.lines = frozenset(k.line for k in keys)
        self.trails = frozenset(k.trail for k in keys if k.trail)
        self.named = frozenset(k.named for k in keys) - self.lines
        self.data = frozenset(k.line for k in keys if k.data)
        self.title = next((k.named for k in keys if k.heading), None)
        self.keys = self.lines | self.trails | self.named

    @classmethod
    def read(cls, path: Path, data: bytes, digest: str) -> "FileLines":
        return cls(digest, _sequence(read_pages(path, data)))

    def as_dict(self) -> dict[str, str | list[list[str | int | None] | None]]:
        return {"digest": self.digest,
                "lines": [k.as_list() if k else None for k in self.sequence]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "FileLines":
        return cls(str(raw["digest"]),
                   [LineKeys.from_list(k) if k else None for k in raw["lines"]])


def _page_lines(page: Page) -> list[str]:
    return clean_text(page.text, printed=False).split("\n")  # as the chunker cleans it


def _sequence(pages: list[Page]) -> list[LineKeys | None]:
    return [LineKeys.of(line) for page in pages for line in _page_lines(page)]


class LineCensus:
    """Which lines of each web, text and Markdown file of a corpus are boilerplate (see the
    module's docstring); :meth:`strip` drops them from a file's pages."""

    def __init__(self, files: dict[str, FileLines], min_files: int = 3,
                 share: float = 0.3) -> None:
        if min_files < 2:
            raise ValueError(f"min_files must be at least 2, got {min_files!r}")
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        self.files = files
        self.min_files = min_files
        self.share = share
        self._by_digest = {entry.digest: entry for entry in files.values()}  # copies once
        self.floor = max(min_files, share * len(self._by_digest))
        counts: dict[str, int] = {}
        for entry in self._by_digest.values():
            for key in entry.keys:  # a marked line counts as written and without marks
                counts[key] = counts.get(key, 0) + 1
        self.frequent = frozenset(k for k, n in counts.items() if n >= self.floor)
        self.titles: dict[str, set[str]] = {}
        for entry in files.values():
            if entry.title:
                self.titles.setdefault(entry.title, set()).add(entry.digest)
        self.keeper = self._keepers()

    def _keepers(self) -> dict[str, str]:
        """For each frequent data line that no file holds in its body (where it stays),
        the file that keeps it: the first holder, in the order the ingest meets them (a
        copy of a file is skipped by the ingest and never keeps a line)."""
        holders: dict[str, list[str]] = {}
        in_body: set[str] = set()
        seen: set[str] = set()
        for source, entry in self.files.items():
            held = entry.data & self.frequent
            if entry.digest in seen or not held:
                continue
            seen.add(entry.digest)
            dropped = self._drops(entry, entry.sequence)
            for index, key in enumerate(entry.sequence):
                if key is not None and key.line in held and index not in dropped:
                    in_body.add(key.line)
            for line in held:
                holders.setdefault(line, []).append(source)
        return {line: sources[0] for line, sources in holders.items() if line not in in_body}

    @classmethod
    def from_settings(cls, files: dict[str, FileLines]) -> "LineCensus":
        rule = load_yaml("boilerplate.yaml")["corpus_lines"]
        return cls(files, int(rule["min_files"]), float(rule["share"]))

    @classmethod
    def build(cls, corpus_dir: Path, paths: list[Path], cache: Path | None = None,
              limit_bytes: int | None = None) -> "LineCensus":
        """The census of the web, text and Markdown files among ``paths`` (files of
        ``corpus_dir``); files that cannot be read are left out (the ingest reports them),
        and so are files over ``limit_bytes`` or ``max_file_kb`` of boilerplate.yaml (a
        long text is no page of a site: it is neither counted nor stripped). ``cache``
        keeps the line keys of every file for the next run."""
        known = _load(cache)
        files: dict[str, FileLines] = {}
        cap = int(load_yaml("boilerplate.yaml")["corpus_lines"]["max_file_kb"]) * 1024
        if limit_bytes is not None:
            cap = min(cap, limit_bytes)
        for path in paths:
            if path.suffix.lower() not in CENSUS_SUFFIXES:
                continue
            source = path.relative_to(corpus_dir).as_posix()
            try:
                if path.stat().st_size > cap:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            digest = hashlib.sha256(data).hexdigest()
            entry = known.get(source)
            if entry is None or entry.digest != digest:
                try:
                    entry = FileLines.read(path, data, digest)
                except Exception:  # noqa: BLE001 - the per-file loop reports this file
                    continue
            files[source] = entry
        if cache is not None:
            _save(cache, files)
        return cls.from_settings(files)

    def _running(self, entry: FileLines) -> frozenset[str]:
        """Keys of the lines of ``entry`` that are candidates wherever they sit in a run:
        frequent lines and trails, and lines naming another file by its title."""
        named = {key for key in entry.lines | entry.named
                 if self.titles.get(key, set()) - {entry.digest}}
        return (entry.keys & self.frequent) | named

    def _linked(self, key: str, entry: FileLines) -> list[FileLines]:
        return [self._by_digest[d] for d in self.titles.get(key, ()) if d != entry.digest]

    def candidates(self, source: str) -> frozenset[str]:
        """The keys of the lines of ``source`` that may be dropped: those of
        :meth:`_running`, and the lines it shares with the files it names (the excerpt
        under a link: a card of "Potrebbe interessarti" quotes the page it points to).
        Empty for a file the census does not hold (PDFs, unreadable files)."""
        entry = self.files.get(source)
        if entry is None:
            return frozenset()
        running = self._running(entry)
        excerpts = {key for named in running for linked in self._linked(named, entry)
                    for key in entry.lines & linked.lines}
        return running | excerpts

    def kept_in(self, source: str) -> frozenset[str]:
        """The data lines that ``source`` keeps: frequent ones it is the first to hold and
        no file holds in its body."""
        entry = self.files.get(source)
        if entry is None:
            return frozenset()
        return frozenset(k for k in entry.data if self.keeper.get(k) == source)

    def fingerprint(self, source: str) -> str:
        """A hash of the candidate lines ``source`` holds and of those it keeps; "" when it
        holds none. It changes when one of its lines becomes boilerplate or stops being
        one, or when ``source`` starts or stops keeping one."""
        held = sorted(self.candidates(source)) + [f"kept:{k}" for k in sorted(self.kept_in(source))]
        if not held:
            return ""
        return hashlib.sha256("\n".join(held).encode()).hexdigest()[:16]

    def strip(self, source: str, pages: list[Page]) -> list[Page]:
        """``pages`` without the boilerplate lines at the top and bottom of ``source`` (see
        :meth:`_drops`), but the data lines it keeps; the same list when nothing goes."""
        entry = self.files.get(source)
        if entry is None or not self.candidates(source):
            return pages
        kept = self.kept_in(source)
        out: list[Page] = []
        changed = False
        for page in pages:
            lines = _page_lines(page)
            sequence = [LineKeys.of(line) for line in lines]
            drop = {i for i in self._drops(entry, sequence)
                    if (key := sequence[i]) is None or key.line not in kept}
            changed = changed or bool(drop)
            out.append(Page("\n".join(line for i, line in enumerate(lines) if i not in drop),
                            page.number, page.ocr))
        return out if changed else pages

    def _drops(self, entry: FileLines, sequence: list[LineKeys | None]) -> set[int]:
        """The lines of ``sequence`` (a text of ``entry``) in its edge runs of candidates.
        A text that would be left with headings only (a section page listing its pages,
        each with its excerpt) keeps its links and excerpts and loses only the frequent
        lines around them; if even that leaves nothing, it keeps them all."""
        for links_stay in (False, True):
            running = (self._running(entry) | {_SELF_LINK, _EXCERPT}) if not links_stay \
                else (entry.keys & self.frequent) | {_SELF_LINK}
            drop = set(edge_runs(self._keyed(sequence, entry, links_stay), running, _as_is))
            if any(key is not None and not key.heading and index not in drop
                   for index, key in enumerate(sequence)):
                return drop
        return set()

    def _keyed(self, sequence: list[LineKeys | None], entry: FileLines,
               links_stay: bool = False) -> list[list[str] | None]:
        """Each line's keys as :func:`cleaning.edge_runs` reads them (None: passed over).
        The file's own title as a heading stops a run; as a list item it is the last step
        of a breadcrumb (``_SELF_LINK``). A line found in the file that the link above it
        names is that link's excerpt (``_EXCERPT``), until a line of the file's own. With
        ``links_stay``, links and excerpts stop a run (``_LINK``)."""
        keyed: list[list[str] | None] = []
        linked: list[FileLines] = []
        for key in sequence:
            if key is None:
                keyed.append(None)
                continue
            if key.named == entry.title:
                keyed.append([_OWN_TITLE] if key.heading else [_SELF_LINK])
                linked = []
                continue
            keys = [k for k in (key.line, key.trail, key.named) if k]
            targets = self._linked(key.named, entry)
            if targets:
                linked = targets
                keys = [_LINK] if links_stay else keys
            elif not self.frequent.isdisjoint(keys):
                pass  # boilerplate between the cards ("Leggi di più") or after them
            elif any(key.line in other.lines for other in linked):
                keys = [_LINK] if links_stay else keys + [_EXCERPT]
            else:
                linked = []  # a line of the file's own ends the card
            keyed.append(keys)
        return keyed


def _as_is(keys: list[str] | None) -> list[str] | None:
    return keys


def _load(cache: Path | None) -> dict[str, FileLines]:
    if cache is None or not cache.is_file():
        return {}
    try:
        raw = json.loads(cache.read_text(encoding="utf-8"))
        if raw.get("version") != _CENSUS_VERSION:
            return {}
        return {source: FileLines.from_dict(entry) for source, entry in raw["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("line census %s unreadable, counting again: %s", cache, exc)
        return {}


def _save(cache: Path, files: dict[str, FileLines]) -> None:
    """Written whole to a temporary file, then renamed: a crash leaves the old census."""
    body = {"version": _CENSUS_VERSION,
            "files": {source: entry.as_dict() for source, entry in sorted(files.items())}}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        tmp.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError as exc:  # only a cache: the next run counts again
        log.warning("cannot save the line census %s: %s", cache, exc)
