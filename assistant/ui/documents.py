"""The corpus as the web interface sees it: documents served safely, uploads saved safely.

Only files the index lists (``assistant.documents()``) and that lie inside the corpus
folder are ever served; text documents are shown escaped, never as live HTML. Uploaded
files keep only a cleaned base name: directories, ``..`` and hidden names are refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import messages
from ..errors import AssistantError, DocumentError, UploadError
from ..ingestion.catalog import Catalog
from ..ingestion.office import check_office_head
from ..ingestion.readers import SUPPORTED_SUFFIXES, check_pdf_head, decode_text, read_pages
from ..text import normalize
from . import render, texts

if TYPE_CHECKING:
    from ..core import Assistant

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

    def __init__(self, assistant: Assistant) -> None:
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
    # (name, where its previous version was kept) for every replaced file
    versions: list[tuple[str, str]] = field(default_factory=list)


VERSIONS_DIR = ".versioni"  # hidden: ingest and the document route never see it
VERSIONS_LOG = "versioni.jsonl"
CONTENT_PROBE = 65536  # bytes read to check that the content matches the extension


class Uploader:
    """Copies uploaded files into the corpus folder after checking name, type, content and
    size; nothing is stored unless every check passes.

    A name that exists is refused unless ``save(..., replace=True)`` (an operator's
    explicit choice): the old file then goes to ``versions_dir`` (default
    ``<corpus>/.versioni``, which ingest ignores) under a timestamped name, recorded in
    its ``versioni.jsonl``. The corpus (old versions included) may not grow past
    ``quota_mb`` through uploads. Uploaded files lying in one of ``temp_dirs`` (by default
    Gradio's upload folder) are deleted once handled, saved or refused.
    """

    def __init__(self, corpus_dir: Path, max_file_mb: float,
                 suffixes: Sequence[str] = SUPPORTED_SUFFIXES, quota_mb: float = 2000.0,
                 versions_dir: Path | None = None,
                 temp_dirs: Sequence[Path] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not max_file_mb or max_file_mb <= 0:
            raise ValueError(f"max_file_mb must be positive, got {max_file_mb!r}")
        if not quota_mb or quota_mb <= 0:
            raise ValueError(f"quota_mb must be positive, got {quota_mb!r}")
        self.corpus_dir = Path(corpus_dir)
        self.max_file_mb = float(max_file_mb)
        self.quota_mb = float(quota_mb)
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.versions_dir = Path(versions_dir) if versions_dir else self.corpus_dir / VERSIONS_DIR
        self.temp_dirs = [Path(d) for d in (temp_dirs if temp_dirs is not None
                                            else gradio_upload_dirs())]
        self._clock = clock
        self._lock = threading.Lock()  # one upload writes the corpus at a time

    @classmethod
    def for_settings(cls, settings: Any) -> "Uploader":
        return cls(settings.corpus_dir, settings.max_file_mb,
                   quota_mb=settings.upload_quota_mb)

    def save(self, files: Sequence[Any], replace: bool = False) -> UploadOutcome:
        """``files``: paths (the name is their base name) or ``(name, path)`` pairs.
        ``replace``: an existing document of the same name is replaced (its old version
        kept); without it such a file is refused."""
        outcome = UploadOutcome()
        for item in files or []:
            name, path = _name_and_path(item)
            try:
                with self._lock:
                    reason = self._refusal(name, path) or self._store(name, path, replace,
                                                                      outcome)
            finally:
                self._discard_temp(path)
            if reason:
                outcome.refused.append((name, reason))
        return outcome

    def withdraw(self, name: str, version: str | None = None) -> None:
        """Take a just-saved file out of the corpus again (the ingest refused it), putting
        back the previous ``version`` it replaced, if any."""
        clean = safe_filename(name)
        if clean is None:
            return
        target = self.corpus_dir / clean
        with self._lock:
            if version and Path(version).is_file():
                os.replace(version, target)
            elif target.is_file():
                target.unlink()

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
        return self._content_refusal(path, suffix) or self._quota_refusal(size)

    def _content_refusal(self, path: Path, suffix: str) -> str | None:
        """The content must be what the extension says: a PDF starts with ``%PDF-``, a
        Word or OpenDocument file as a ZIP; a text, Markdown or HTML file decodes as text
        (no program, no binary data)."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(CONTENT_PROBE)
        except OSError as exc:
            return messages.skip_reason("unreadable", exc.strerror or str(exc))
        try:
            if suffix == ".pdf":
                check_pdf_head(head)
            elif suffix in (".docx", ".odt"):
                check_office_head(head, "not_docx" if suffix == ".docx" else "not_odt")
            else:
                decode_text(head)  # refuses programs, other formats and binary data
        except DocumentError as exc:
            detail = messages.skip_reason(exc.reason, exc.detail, **exc.facts)
            return messages.for_error(UploadError("content", detail, suffix=suffix))
        return None

    def _quota_refusal(self, size: int) -> str | None:
        used = _folder_bytes(self.corpus_dir)
        if used + size > self.quota_mb * 1024 * 1024:
            return messages.for_error(UploadError(
                "quota", used=f"{used / 1048576:.0f}", quota=_number(self.quota_mb)))
        return None

    def _store(self, name: str, source: Path, replace: bool,
               outcome: UploadOutcome) -> str | None:
        """Copy into the corpus (through a hidden temporary file); the reason on refusal."""
        target = self.corpus_dir / safe_filename(name)  # type: ignore[operator]
        if target.exists() and not replace:
            return messages.for_error(UploadError("exists", name=target.name))
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.corpus_dir, prefix=".upload-", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            if not replace:
                try:
                    os.link(tmp, target)  # fails if the name appeared meanwhile
                except FileExistsError:
                    return messages.for_error(UploadError("exists", name=target.name))
                outcome.saved.append((target.name, False))
                return None
            kept = self._keep_version(target) if target.exists() else None
            os.replace(tmp, target)
            outcome.saved.append((target.name, kept is not None))
            if kept is not None:
                outcome.versions.append((target.name, str(kept)))
            return None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                return messages.for_error(UploadError("disk_full"))
            return messages.skip_reason("unreadable", exc.strerror or str(exc))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _keep_version(self, target: Path) -> Path:
        """Move the current ``target`` into the versions folder and record it."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self._clock()))
        kept = self.versions_dir / f"{target.stem}.{stamp}{target.suffix}"
        n = 1
        while kept.exists():
            n += 1
            kept = self.versions_dir / f"{target.stem}.{stamp}-{n}{target.suffix}"
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        os.replace(target, kept)
        record = {"name": target.name, "kept_as": kept.name, "sha256": digest,
                  "bytes": kept.stat().st_size, "replaced_at": stamp}
        with open(self.versions_dir / VERSIONS_LOG, "a", encoding="utf-8") as log_file:
            log_file.write(json.dumps(record, ensure_ascii=False) + "\n")
        return kept

    def _discard_temp(self, path: Path) -> None:
        """Delete an uploaded file left in Gradio's upload folder (and its folder, when
        it is then empty); files elsewhere are never touched."""
        try:
            resolved = path.resolve()
        except OSError:
            return
        for folder in self.temp_dirs:
            try:
                root = folder.resolve()
            except OSError:
                continue
            if resolved != root and resolved.is_relative_to(root):
                with contextlib.suppress(OSError):
                    resolved.unlink()
                    if resolved.parent != root:
                        resolved.parent.rmdir()
                return


def gradio_upload_dirs() -> list[Path]:
    """Where Gradio keeps uploaded files: ``GRADIO_TEMP_DIR`` or ``<tmp>/gradio``."""
    return [Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")]


def _folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).stat().st_size
    return total


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
