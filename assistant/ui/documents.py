"""The corpus as the web interface sees it: documents served safely, uploads saved safely.

Only files the index lists (``assistant.documents()``) and that lie inside the corpus
folder are ever served; text documents are shown escaped, never as live HTML. Uploaded
files keep only a cleaned base name: directories, ``..`` and hidden names are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .. import messages
from ..errors import AssistantError
from ..ingestion.catalog import Catalog
from ..ingestion.readers import SUPPORTED_SUFFIXES, read_pages
from ..text import normalize
from . import render, texts

_WORD = re.compile(r"\w+", re.UNICODE)
_CHUNK_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")
RESERVED_NAMES = frozenset({"catalog.yaml", "readme.md"})


@dataclass(frozen=True)
class DocumentView:
    """What the document route answers: a PDF file, an HTML page, or nothing."""

    kind: str  # "pdf", "html" or "missing"
    path: Path | None = None
    html: str = ""


class DocumentLibrary:
    """Resolves and renders the indexed documents of an :class:`~assistant.Assistant`."""

    def __init__(self, assistant: Any) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        self.assistant = assistant

    @property
    def corpus_dir(self) -> Path:
        return Path(self.assistant.settings.corpus_dir)

    def listed(self) -> dict[str, dict[str, Any]]:
        return {d["source"]: d for d in self.assistant.documents()}

    def resolve(self, source: str) -> Path | None:
        """The file of an indexed document, or None (unknown, outside the corpus, gone)."""
        if not source or "\x00" in source or source not in self.listed():
            return None
        root = self.corpus_dir.resolve()
        path = (root / source).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def view(self, source: str, passage_id: str | None = None) -> DocumentView:
        path = self.resolve(source)
        if path is None:
            return DocumentView("missing", html=render.not_found_page())
        if path.suffix.lower() == ".pdf":
            return DocumentView("pdf", path=path)
        try:
            pages = read_pages(path)
        except AssistantError:
            return DocumentView("missing", html=render.not_found_page())
        text = "\n\n".join(p.text for p in pages)
        span = None
        if passage_id:
            chunk_text = self._chunk_text(source, passage_id)
            span = find_passage(text, chunk_text) if chunk_text else None
        doc = self.listed().get(source, {})
        title = str(doc.get("title") or source)
        home = "../" * (source.count("/") + 1)  # back to the app from documenti/<source>
        return DocumentView("html", path=path, html=render.document_page(
            title, self._details(source), text, span, bool(passage_id), home_url=home))

    def _chunk_text(self, source: str, chunk_id: str) -> str | None:
        if not _CHUNK_ID.match(chunk_id):
            return None
        try:
            chunks = self.assistant.store.get([chunk_id])
        except Exception:  # noqa: BLE001 - an unknown id is not an error for the reader
            return None
        for chunk in chunks:
            if chunk.source == source:
                return chunk.text
        return None

    def _details(self, source: str) -> str:
        try:
            info = Catalog.load(self.corpus_dir).info(source)
        except AssistantError:
            return source
        parts = [info.doc_type] if info.doc_type else []
        if info.ambito:
            parts.append(texts.text("answer.source_ambito", ambito=info.ambito))
        elif info.region:
            parts.append(info.region)
        if info.year:
            parts.append(str(info.year))
        parts.append(source)
        return " · ".join(parts)


def find_passage(text: str, passage: str, probe: int = 8) -> tuple[int, int] | None:
    """Character span of ``passage`` in ``text``, matching words (case, accents and
    punctuation aside), since the indexed passage was cleaned and re-flowed."""
    doc = [(m.start(), m.end(), normalize(m.group(0))) for m in _WORD.finditer(text)]
    needle = [normalize(w) for w in _WORD.findall(passage or "")]
    if not doc or not needle:
        return None
    keys = [k for _, _, k in doc]
    k = min(probe, len(needle))
    start = _find(keys, needle[:k], 0)
    if start is None:
        return None
    tail = needle[-k:]
    end_index = _find(keys, tail, start)
    if end_index is None or end_index - start > len(needle) * 2:
        last = min(len(doc), start + len(needle)) - 1
    else:
        last = end_index + len(tail) - 1
    end = doc[last][1]
    trailing = re.match(r"[^\w\s]{1,3}", text[end:])  # the closing ")." of the passage
    return doc[start][0], end + (trailing.end() if trailing else 0)


def _find(keys: list[str], probe: list[str], begin: int) -> int | None:
    n = len(probe)
    first = probe[0]
    for i in range(begin, len(keys) - n + 1):
        if keys[i] == first and keys[i:i + n] == probe:
            return i
    return None


# ---- uploads -----------------------------------------------------------------------------
def safe_filename(name: str) -> str | None:
    """A base name safe to create in the corpus folder, or None when the name is refused.

    Names with ``..`` components, hidden names and empty names are refused; directories
    (also Windows ones) are dropped; characters other than letters, digits, space and
    ``. - _ ( )`` become ``_``.
    """
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    parts = name.split("/")
    if any(part.strip() == ".." for part in parts):
        return None
    base = parts[-1].strip()
    if not base or base.startswith("."):
        return None
    base = re.sub(r"[^\w .()\-]+", "_", base, flags=re.UNICODE)
    base = re.sub(r"\s+", " ", base).strip(" ")
    if not base or base.startswith(".") or base.lower() in RESERVED_NAMES:
        return None
    if len(base) > 150:
        stem, suffix = os.path.splitext(base)
        base = stem[:150 - len(suffix)] + suffix
    return base


@dataclass
class UploadOutcome:
    saved: list[tuple[str, bool]] = field(default_factory=list)  # (name, replaced an old one)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, Italian reason)


class Uploader:
    """Copies uploaded files into the corpus folder after checking name, type and size."""

    def __init__(self, corpus_dir: Path, max_file_mb: float,
                 suffixes: Sequence[str] = SUPPORTED_SUFFIXES) -> None:
        if not max_file_mb or max_file_mb <= 0:
            raise ValueError(f"max_file_mb must be positive, got {max_file_mb!r}")
        self.corpus_dir = Path(corpus_dir)
        self.max_file_mb = float(max_file_mb)
        self.suffixes = tuple(s.lower() for s in suffixes)

    def save(self, files: Sequence[Any]) -> UploadOutcome:
        """``files``: paths (the name is their base name) or ``(name, path)`` pairs."""
        outcome = UploadOutcome()
        for item in files or []:
            name, path = _name_and_path(item)
            reason = self._refusal(name, path)
            if reason:
                outcome.refused.append((name, reason))
                continue
            target = self.corpus_dir / safe_filename(name)  # type: ignore[operator]
            replaced = target.exists()
            self._copy(path, target)
            outcome.saved.append((target.name, replaced))
        return outcome

    def _refusal(self, name: str, path: Path) -> str | None:
        clean = safe_filename(name)
        if clean is None:
            return texts.text("documents.bad_name")
        suffix = Path(clean).suffix.lower()
        if suffix not in self.suffixes:
            suffix = suffix or "(nessuna)"
            return messages.skip_reason("unsupported", suffix, suffix=suffix)
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        if size < 0 or not path.is_file():
            return messages.skip_reason("unreadable", clean)
        if size > self.max_file_mb * 1024 * 1024:
            return messages.skip_reason("too_large", f"{size / 1048576:.1f} MB",
                                        limit_mb=_number(self.max_file_mb))
        if size == 0:
            return messages.skip_reason("empty", clean)
        root = self.corpus_dir.resolve()
        if not (root / clean).resolve().is_relative_to(root):
            return texts.text("documents.bad_name")
        return None

    def _copy(self, source: Path, target: Path) -> None:
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.corpus_dir, prefix=".upload-", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _name_and_path(item: Any) -> tuple[str, Path]:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return str(item[0]), Path(item[1])
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
    else:  # an object with the file's path as .name (Gradio's older file wrappers)
        path = Path(getattr(item, "name"))
    return path.name, path


def _number(value: float) -> str:
    return f"{value:g}"
