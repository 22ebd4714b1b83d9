"""The corpus catalog: what each document is (title, type, ambito, comuni, region, year),
and, optionally, whom citizens of each ambito can contact (``contatti``).

``corpus/catalog.yaml`` maps file paths (relative to the corpus folder) to entries. A file
without an entry still ingests, titled after its file name. :func:`update_document` edits
one entry (validated, under a lock, written atomically); the next ingest re-indexes that
document, since its entry is part of its hash.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from ..datafiles import load_yaml
from ..errors import ConfigError
from ..text import normalize

CATALOG_NAME = "catalog.yaml"
LOCK_NAME = ".catalog.yaml.lock"
EDITABLE = ("title", "type", "ambito", "comuni", "year")
MAX_FIELD_CHARS = {"title": 300, "type": 80, "ambito": 120, "comune": 80}
MAX_COMUNI = 200
YEARS = (1900, 2100)


@dataclass(frozen=True)
class DocumentInfo:
    title: str
    doc_type: str = "documento"
    ambito: str | None = None
    comuni: tuple[str, ...] = ()
    region: str | None = None
    province: str | None = None
    year: int | None = None
    url: str | None = None

    def as_metadata(self) -> dict[str, str | int]:
        """Flat metadata for the store (Chroma accepts str, int, float, bool only)."""
        meta: dict[str, str | int] = {"title": self.title, "doc_type": self.doc_type}
        for key in ("ambito", "region", "province", "url"):
            value = getattr(self, key)
            if value:
                meta[key] = value
        if self.year:
            meta["year"] = int(self.year)
        if self.comuni:
            meta["comuni"] = "|".join(self.comuni)
        return meta

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def title_from_filename(path: str) -> str:
    stem = Path(path).stem
    words = re.sub(r"[_\-]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path


def _message(key: str, **values: Any) -> str:
    template: str = load_yaml("catalog_it.yaml")["errors"][key]
    return template.format(**values)


def _error(key: str, **values: Any) -> ConfigError:
    """A catalog error whose detail is the Italian sentence ``catalog_it.yaml`` gives."""
    facts = {("cause" if k == "detail" else k): v for k, v in values.items()}
    return ConfigError(_message(key, **values), setting="catalog", reason=key, **facts)


@dataclass(frozen=True)
class Contact:
    """Whom citizens of an ambito can contact (the PUA, the social services' desk)."""

    ambito: str
    nome: str | None = None        # "Punto Unico di Accesso dell'Ambito di Casarano"
    indirizzo: str | None = None
    telefono: str | None = None
    orari: str | None = None
    email: str | None = None
    sito: str | None = None

    FIELDS = ("nome", "indirizzo", "telefono", "orari", "email", "sito")

    @classmethod
    def from_raw(cls, ambito: str, raw: Any) -> "Contact":
        if not isinstance(raw, Mapping):
            raise _error("bad_contact", ambito=ambito, detail=_message("contact_not_mapping"))
        unknown = [str(k) for k in raw if k not in cls.FIELDS]
        if unknown:
            raise _error("bad_contact", ambito=ambito, detail=_message(
                "contact_unknown_field", field=unknown[0], known=", ".join(cls.FIELDS)))
        values = {k: " ".join(str(raw[k]).split()) for k in cls.FIELDS if raw.get(k)}
        phone = values.get("telefono")
        if phone and not re.fullmatch(r"[0-9+()./\- ,;e]{5,80}", phone):
            raise _error("bad_contact", ambito=ambito,
                         detail=_message("contact_bad_phone", value=phone))
        return cls(ambito=ambito, **values)

    def is_empty(self) -> bool:
        return not any(getattr(self, k) for k in self.FIELDS)


@dataclass
class Catalog:
    entries: dict[str, DocumentInfo] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)

    @classmethod
    def load(cls, corpus_dir: Path) -> "Catalog":
        path = Path(corpus_dir) / CATALOG_NAME
        if not path.is_file():
            return cls()
        try:
            return cls.parse(path.read_text(encoding="utf-8"), path)
        except OSError as exc:
            raise _error("unreadable", path=path, detail=exc.strerror or exc) from exc

    @classmethod
    def parse(cls, text: str, path: Path | str = CATALOG_NAME) -> "Catalog":
        """A catalog from the text of a ``catalog.yaml``."""
        path = Path(path)
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}", setting="catalog") from exc
        docs = data.get("documents", data) if isinstance(data, dict) else None
        if isinstance(data, dict) and "documents" not in data:
            docs = {k: v for k, v in data.items() if k != "contatti"}
        if not isinstance(docs, dict):
            raise ConfigError(f"{path}: expected a mapping 'documents: {{file: entry}}'",
                              setting="catalog")
        entries = {str(name): _entry(name, raw, path) for name, raw in docs.items()}
        raw_contacts = data.get("contatti") or {}
        if not isinstance(raw_contacts, dict):
            raise _error("bad_contact", ambito="?", detail=_message("contact_not_mapping"))
        contacts = {str(a): Contact.from_raw(str(a), raw) for a, raw in raw_contacts.items()}
        return cls(entries, {a: c for a, c in contacts.items() if not c.is_empty()})

    def info(self, source: str) -> DocumentInfo:
        return self.entries.get(source) or DocumentInfo(title=title_from_filename(source))

    def ambiti(self) -> dict[str, tuple[str, ...]]:
        """Each ambito named in the catalog with its comuni."""
        out: dict[str, set[str]] = {}
        for info in self.entries.values():
            if info.ambito:
                out.setdefault(info.ambito, set()).update(info.comuni)
        return {k: tuple(sorted(v)) for k, v in sorted(out.items())}

    def contacts_for(self, ambito: str | None) -> Contact | None:
        """The contacts the catalog gives for an ambito (case and accents ignored)."""
        wanted = normalize(ambito or "").strip()
        if not wanted:
            return None
        return next((c for a, c in self.contacts.items() if normalize(a).strip() == wanted),
                    None)

    def contacts_for_comune(self, comune: str | None) -> Contact | None:
        """The contacts of the ambito a comune belongs to (or that the name itself is)."""
        wanted = normalize(comune or "").strip()
        for ambito, comuni in self.ambiti().items():
            if wanted in {normalize(c) for c in comuni}:
                return self.contacts_for(ambito)
        return self.contacts_for(comune)


def _entry(name: object, raw: Any, path: Path) -> DocumentInfo:
    raw = dict(raw or {})
    comuni = raw.pop("comuni", None) or ()
    year = raw.pop("year", None)
    known = {k: raw.pop(k) for k in ("ambito", "region", "province", "url") if k in raw}
    return DocumentInfo(
        title=str(raw.pop("title", None) or title_from_filename(str(name))),
        doc_type=str(raw.pop("type", None) or raw.pop("doc_type", None) or "documento"),
        comuni=tuple(str(c) for c in comuni),
        year=_year(year, path, str(name)),
        **known,
    )


def _year(value: object, path: Path, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip()[:4])
    except ValueError as exc:
        raise ConfigError(f"{path}: year of {name!r} must be a number, got {value!r}",
                          setting="catalog") from exc


# ---- editing one entry -------------------------------------------------------------------
def clean_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The edited fields, checked and normalised ("" or None clears a field; comuni may be
    a list or a comma-separated text). Raises ConfigError with an Italian detail."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in EDITABLE:
            raise _error("unknown_field", field=key, known=", ".join(EDITABLE))
        if key == "comuni":
            out[key] = _clean_comuni(value)
        elif key == "year":
            out[key] = _clean_year(value)
        else:
            text = _clean_text(key, value, MAX_FIELD_CHARS[key])
            if key == "title" and not text:
                raise _error("empty_title")
            out[key] = text or None
    return out


def _clean_text(name: str, value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    if re.search(r"[\x00-\x1f\x7f\u2028\u2029]", text):
        raise _error("control_chars", field=name)
    text = " ".join(text.split())
    if len(text) > limit:
        raise _error("too_long", field=name, length=len(text), limit=limit)
    return text


def _clean_comuni(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise _error("bad_comuni", value=str(value)[:80])
    comuni = [_clean_text("comuni", c, MAX_FIELD_CHARS["comune"]) for c in value]
    comuni = list(dict.fromkeys(c for c in comuni if c))
    if len(comuni) > MAX_COMUNI:
        raise _error("too_many_comuni", count=len(comuni), limit=MAX_COMUNI)
    return comuni


def _clean_year(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}", text) or not YEARS[0] <= int(text) <= YEARS[1]:
        raise _error("bad_year", low=YEARS[0], high=YEARS[1], value=text[:20])
    return int(text)


@contextmanager
def _catalog_lock(corpus_dir: Path) -> Iterator[None]:
    """One editor of a corpus's catalog at a time (across processes)."""
    with open(corpus_dir / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def update_document(corpus_dir: Path, source: str, changes: Mapping[str, Any]) -> DocumentInfo:
    """Change one document's entry (title, type, ambito, comuni, year) in ``catalog.yaml``.

    The values are validated first; the file is rewritten under a lock, through a
    temporary file replaced atomically, and parsed back before it replaces the old one, so
    a failure leaves the catalog as it was. Other entries, ``contatti`` and the comment
    lines at the top of the file are kept. Returns the document's new entry.
    """
    corpus_dir = Path(corpus_dir)
    source = str(source or "")
    parts = Path(source).parts
    if not source or Path(source).is_absolute() or ".." in parts \
            or any(p.startswith(".") for p in parts) or source == CATALOG_NAME:
        raise _error("bad_source", source=source[:200])
    if not (corpus_dir / source).is_file():
        raise _error("unknown_document", source=source[:200])
    cleaned = clean_changes(changes)
    path = corpus_dir / CATALOG_NAME
    with _catalog_lock(corpus_dir):
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
        except OSError as exc:
            raise _error("unreadable", path=path, detail=exc.strerror or exc) from exc
        Catalog.parse(text, path)  # the current file must be valid before it is edited
        data = (yaml.safe_load(text) if text else None) or {}
        if "documents" not in data:
            contatti = data.pop("contatti", None)
            data = {"documents": data, **({"contatti": contatti} if contatti else {})}
        docs = data["documents"] = dict(data.get("documents") or {})
        entry = dict(docs.get(source) or {})
        if "type" in cleaned:
            entry.pop("doc_type", None)
        for key, value in cleaned.items():
            if value in (None, []):
                entry.pop(key, None)
            else:
                entry[key] = value
        docs[source] = entry
        new_text = _header(text) + yaml.safe_dump(data, allow_unicode=True, sort_keys=False,
                                                  width=100)
        catalog = Catalog.parse(new_text, path)
        _write_atomically(path, new_text)
    return catalog.info(source)


def _header(text: str) -> str:
    """The comment lines at the top of a catalog file (kept across edits)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _error("unwritable", path=path, detail=exc.strerror or exc) from exc
