"""Corpus boilerplate: the lines a corpus's web, text and Markdown files share at their top
and bottom (site menus, breadcrumb trails, "Potrebbe interessarti" lists, cookie banners,
footers of a crawled site) are dropped at ingest, as a PDF's running lines are.

What is boilerplate is counted, not listed. A line of a file is a *candidate* when

- the same line (spaces and case aside) is in at least ``max(min_files, share x files)``
  of the corpus's web, text and Markdown files (``corpus_lines`` in boilerplate.yaml);
- it is a breadcrumb trail ("Home > Servizi > Centro diurno") whose first step ("Home >")
  starts a trail in that many files;
- it names another file of the corpus by that file's title (its first ``#`` heading): a
  menu entry or a "Potrebbe interessarti" item pointing to another page.

Candidates are dropped only in the file's top and bottom runs (from the first line down and
from the last line up, until a line that is not a candidate): a line that is repeated but
sits between lines of the file's own, in its body, is content and stays. A file's own title
is never dropped, and a file that would be left with nothing keeps its text. A repeated
line that carries data (a digit or an "@": the PEC, address or phone of a site's footer) is
kept once, as a PDF's running lines are, in the first file of the corpus that holds it, so
that the corpus still answers "qual è la PEC dell'ambito?"; menus, trails, cookie banners
and link lists are kept nowhere.

PDFs are neither counted nor stripped: their running lines are found page by page
(:func:`cleaning.running_lines`), and chapters of one plan share headings ("Contesto
normativo e strategico", "Cosa devono fare le PA") that answer questions.

Incremental ingest: the census is known before any file is chunked. It is rebuilt at the
start of every run from the corpus's web, text and Markdown files, reading again only those
whose bytes changed (the line hashes of the others are kept in ``line_census.json`` in the
index folder). A file's chunks depend on which of its lines are candidates, so
:meth:`LineCensus.fingerprint` (a hash of those lines) enters the hash the manifest keeps
for it: when a line becomes boilerplate or stops being one (files added, changed or removed
move the counts and the floor), or another file becomes the one keeping a data line, exactly
the files holding that line are indexed again, and every other file is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..datafiles import load_yaml
from .cleaning import clean_text, edge_runs
from .readers import Page, read_pages

CENSUS_NAME = "line_census.json"
CENSUS_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_CENSUS_VERSION = 2
_TRAIL = re.compile(r"\s[>›»/]\s")  # a step of a breadcrumb trail ("Home / Servizi")
_MARKERS = re.compile(r"^(?:#{1,6}|[-•*])\s+")  # heading and list-item marks
_DATA = re.compile(r"[\d@]")  # a line with a number or an address carries data
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
    ``heading`` (a ``#`` line)."""

    line: str
    trail: str | None
    named: str
    heading: bool
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


@dataclass(frozen=True)
class FileLines:
    """What the census keeps of one file: the hash of its bytes, the keys of its lines
    (``named``: only those that differ from ``lines``; ``data``: those of ``lines`` with a
    digit or an "@") and of its title, the first ``#`` heading (Markdown's, or HTML's h1-h6
    as the reader writes them; None without one)."""

    digest: str
    lines: frozenset[str]
    trails: frozenset[str]
    named: frozenset[str]
    title: str | None
    data: frozenset[str] = frozenset()

    @classmethod
    def read(cls, path: Path, data: bytes, digest: str) -> "FileLines":
        pages = read_pages(path, data)
        keys = [k for k in (LineKeys.of(line) for page in pages
                            for line in clean_text(page.text).split("\n")) if k]
        lines = frozenset(k.line for k in keys)
        return cls(digest, lines, frozenset(k.trail for k in keys if k.trail),
                   frozenset(k.named for k in keys) - lines,
                   next((k.named for k in keys if k.heading), None),
                   frozenset(k.line for k in keys if k.data))

    @property
    def keys(self) -> frozenset[str]:
        return self.lines | self.trails | self.named

    def as_dict(self) -> dict:
        return {"digest": self.digest, "lines": sorted(self.lines),
                "trails": sorted(self.trails), "named": sorted(self.named),
                "title": self.title, "data": sorted(self.data)}

    @classmethod
    def from_dict(cls, raw: dict) -> "FileLines":
        return cls(str(raw["digest"]), frozenset(raw["lines"]), frozenset(raw["trails"]),
                   frozenset(raw["named"]), raw.get("title"), frozenset(raw["data"]))


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
        unique = {f.digest: f for f in files.values()}.values()  # copies count once
        self.floor = max(min_files, share * len(unique))
        counts: dict[str, int] = {}
        for entry in unique:
            for key in entry.keys:  # a marked line counts as written and without marks
                counts[key] = counts.get(key, 0) + 1
        self.frequent = frozenset(k for k, n in counts.items() if n >= self.floor)
        self.titles: dict[str, set[str]] = {}
        for entry in files.values():
            if entry.title:
                self.titles.setdefault(entry.title, set()).add(entry.digest)
        self.keeper: dict[str, str] = {}  # data line -> the first file holding it keeps it
        seen: set[str] = set()
        for source, entry in files.items():  # in the order the ingest meets them
            if entry.digest not in seen:  # a copy is skipped by the ingest: never a keeper
                seen.add(entry.digest)
                for key in entry.data & self.frequent:
                    self.keeper.setdefault(key, source)

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

    def candidates(self, source: str) -> frozenset[str]:
        """The keys of the lines of ``source`` that are candidates: frequent lines and
        trails, and lines naming another file by its title (empty for a file the census
        does not hold: PDFs, unreadable files)."""
        entry = self.files.get(source)
        if entry is None:
            return frozenset()
        frequent = entry.keys & self.frequent
        named = {key for key in entry.lines | entry.named
                 if self.titles.get(key, set()) - {entry.digest}}
        return frequent | named

    def kept_in(self, source: str) -> frozenset[str]:
        """The candidates that ``source`` keeps: data lines it is the first to hold."""
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
        """``pages`` without the candidate lines at the top and bottom of ``source``; the
        same list when nothing is dropped."""
        running = self.candidates(source)
        if not running:
            return pages
        own = self.files[source].title
        kept_here = self.kept_in(source)

        def keys_of(line: str) -> list[str] | None:
            key = LineKeys.of(line)
            if key is None:
                return None
            if key.heading and key.named == own:
                return ["own title"]  # never a candidate: stops a run
            return [k for k in (key.line, key.trail, key.named) if k]

        out: list[Page] = []
        changed = False
        for page in pages:
            lines = clean_text(page.text).split("\n")
            drop = {i for i, key in edge_runs(lines, running, keys_of).items()
                    if key not in kept_here}
            kept = "\n".join(line for i, line in enumerate(lines) if i not in drop)
            changed = changed or bool(drop)
            out.append(Page(kept, page.number, page.ocr))
        if not changed:
            return pages
        if not any(line.strip() and not line.startswith("#")
                   for page in out for line in page.text.split("\n")):
            return pages  # nothing of its own left: keep the file as it is
        return out


def _load(cache: Path | None) -> dict[str, FileLines]:
    if cache is None or not cache.is_file():
        return {}
    try:
        raw = json.loads(cache.read_text(encoding="utf-8"))
        if raw.get("version") != _CENSUS_VERSION:
            return {}
        return {source: FileLines.from_dict(entry) for source, entry in raw["files"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
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
