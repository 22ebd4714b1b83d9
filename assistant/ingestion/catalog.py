"""The corpus catalog: what each document is (title, type, ambito, comuni, region, year).

``corpus/catalog.yaml`` maps file paths (relative to the corpus folder) to entries. A file
without an entry still ingests, titled after its file name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError

CATALOG_NAME = "catalog.yaml"


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

    def as_dict(self) -> dict:
        return asdict(self)


def title_from_filename(path: str) -> str:
    stem = Path(path).stem
    words = re.sub(r"[_\-]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path


@dataclass
class Catalog:
    entries: dict[str, DocumentInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, corpus_dir: Path) -> "Catalog":
        path = Path(corpus_dir) / CATALOG_NAME
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}", setting="catalog") from exc
        docs = data.get("documents", data) if isinstance(data, dict) else None
        if not isinstance(docs, dict):
            raise ConfigError(f"{path}: expected a mapping 'documents: {{file: entry}}'",
                              setting="catalog")
        entries = {}
        for name, raw in docs.items():
            raw = dict(raw or {})
            comuni = raw.pop("comuni", None) or ()
            year = raw.pop("year", None)
            known = {k: raw.pop(k) for k in ("ambito", "region", "province", "url")
                     if k in raw}
            entries[str(name)] = DocumentInfo(
                title=str(raw.pop("title", None) or title_from_filename(str(name))),
                doc_type=str(raw.pop("type", None) or raw.pop("doc_type", None)
                             or "documento"),
                comuni=tuple(str(c) for c in comuni),
                year=_year(year, path, name),
                **known,
            )
        return cls(entries)

    def info(self, source: str) -> DocumentInfo:
        return self.entries.get(source) or DocumentInfo(title=title_from_filename(source))

    def ambiti(self) -> dict[str, tuple[str, ...]]:
        """Each ambito named in the catalog with its comuni."""
        out: dict[str, set[str]] = {}
        for info in self.entries.values():
            if info.ambito:
                out.setdefault(info.ambito, set()).update(info.comuni)
        return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def _year(value: object, path: Path, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip()[:4])
    except ValueError as exc:
        raise ConfigError(f"{path}: year of {name!r} must be a number, got {value!r}",
                          setting="catalog") from exc
