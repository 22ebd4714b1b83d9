"""What the indexed corpus says about itself, read once per index state from the chunks'
metadata and terms: the chunk ids and metadata (row masks for filters), the places it
names, the acronyms it defines, its document frequencies (for the answerer) and the
facets the interface offers as filters. Nothing here reads the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .answer_features import CorpusStats
from .chunk import Chunk
from .text import normalize

if TYPE_CHECKING:  # retrieval imports this module
    from .retrieval import Filters

MAX_MASKS = 256  # filters kept per state: questions name the same few places again and again


@dataclass(frozen=True)
class Facets:
    """What the filters offer, read from the indexed passages' metadata."""

    comuni: tuple[tuple[str, str], ...] = ()   # (comune, ambito)
    ambiti: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    years: tuple[int, ...] = ()


def place_names(meta_rows: Sequence[Mapping[str, Any]],
                aliases: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Place name (normalised) -> the filter it stands for: ``("ambito", X)`` for an ambito
    and each of its comuni, ``("region", R)`` for a region, from the catalog metadata
    stored with the chunks. ``aliases`` maps extra words to regions ("nazionale": "Italia")."""
    places: dict[str, tuple[str, str]] = {}
    regions: set[str] = set()
    for meta in meta_rows:
        if meta.get("region"):
            regions.add(str(meta["region"]))
        ambito = meta.get("ambito")
        if not ambito:
            continue
        places.setdefault(normalize(str(ambito)), ("ambito", str(ambito)))
        for comune in str(meta.get("comuni", "")).split("|"):
            if comune.strip():
                places.setdefault(normalize(comune.strip()), ("ambito", str(ambito)))
    for region in regions:
        places.setdefault(normalize(region), ("region", region))
    for alias, region in (aliases or {}).items():
        if region in regions:
            places.setdefault(normalize(alias), ("region", region))
    return places


def union_acronyms(ids: Sequence[str], found: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Acronym -> phrase over the chunks in ``ids`` order; the first chunk defining one
    wins."""
    acronyms: dict[str, str] = {}
    for cid in ids:
        for acro, phrase in found.get(cid, {}).items():
            acronyms.setdefault(acro, phrase)
    return acronyms


def facets_of(meta_rows: Sequence[Mapping[str, Any]]) -> Facets:
    """The comuni (with their ambito), ambiti, document types and years of these chunks."""
    comuni: dict[str, str] = {}
    ambiti: set[str] = set()
    doc_types: set[str] = set()
    years: set[int] = set()
    for meta in meta_rows:
        ambito = str(meta.get("ambito") or "").strip()
        if ambito:
            ambiti.add(ambito)
            for comune in str(meta.get("comuni") or "").split("|"):
                if comune.strip():
                    comuni.setdefault(comune.strip(), ambito)
        if meta.get("doc_type"):
            doc_types.add(str(meta["doc_type"]))
        year = meta.get("year")
        if isinstance(year, (int, float)) and year > 0:
            years.add(int(year))
    return Facets(tuple(sorted(comuni.items())), tuple(sorted(ambiti)),
                  tuple(sorted(doc_types)), tuple(sorted(years, reverse=True)))


class CorpusFacts:
    """The facts of the chunks ``ids`` (rows in that order, the lexical index's), with
    their ``meta``, the ``df`` of their terms and, per chunk that defines some, the
    acronyms it defines (``chunk_acronyms``; None for an index saved before they were
    kept; ``acronyms``, their union, is then as saved). What derives from them is computed on
    first use and kept: the facts do not change."""

    def __init__(self, ids: Sequence[str], meta: Sequence[dict[str, Any]], df: dict[str, int],
                 chunk_acronyms: dict[str, dict[str, str]] | None,
                 place_aliases: Mapping[str, str] | None = None,
                 acronyms: dict[str, str] | None = None) -> None:
        if len(meta) != len(ids):
            raise ValueError(f"meta must have one entry per chunk ({len(ids)}), "
                             f"got {len(meta)}")
        self.ids = list(ids)
        self.meta = list(meta)
        self.df = df
        self.chunk_acronyms = chunk_acronyms
        self.place_aliases = dict(place_aliases or {})
        # acronym -> phrase the documents define (the first chunk in row order wins): as
        # saved, else the union of ``chunk_acronyms``
        self.acronyms = acronyms if acronyms is not None \
            else union_acronyms(self.ids, chunk_acronyms or {})
        self._columns: dict[str, np.ndarray] = {}
        self._masks: dict[tuple[tuple[str, Any], ...], np.ndarray] = {}

    @classmethod
    def build(cls, chunks: Sequence[Chunk], df: dict[str, int],
              place_aliases: Mapping[str, str] | None = None) -> CorpusFacts:
        """The facts of ``chunks`` (their acronyms found in their texts)."""
        from .expansion import acronyms_defined_in

        found = {c.id: acr for c in chunks if (acr := acronyms_defined_in(c.text))}
        return cls([c.id for c in chunks], [c.metadata for c in chunks], df, found,
                   place_aliases)

    def updated(self, kept_rows: np.ndarray, added: Sequence[Chunk], perm: np.ndarray,
                df: dict[str, int]) -> CorpusFacts | None:
        """The facts of the rows ``kept_rows`` followed by ``added``, in the order ``perm``,
        with the new ``df``; None when the acronyms of each chunk are not known (an index
        saved before they were kept)."""
        from .expansion import acronyms_defined_in

        if self.chunk_acronyms is None:
            return None
        kept = [self.ids[i] for i in kept_rows.tolist()]
        names = kept + [c.id for c in added]
        keep = set(kept)
        chunk_acronyms = {cid: found for cid, found in self.chunk_acronyms.items()
                          if cid in keep}
        for chunk in added:
            found = acronyms_defined_in(chunk.text)
            if found:
                chunk_acronyms[chunk.id] = found
        meta_all = [self.meta[i] for i in kept_rows.tolist()] + [c.metadata for c in added]
        order = perm.tolist()
        return CorpusFacts([names[i] for i in order], [meta_all[i] for i in order], df,
                           chunk_acronyms, self.place_aliases)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def stats(self) -> CorpusStats:
        """Document frequencies as the answerer reads them."""
        return CorpusStats(self.df, max(1, len(self.ids)))

    @cached_property
    def places(self) -> dict[str, tuple[str, str]]:
        """Place name (normalised) -> ``("ambito", X)`` or ``("region", R)``
        (:func:`place_names`, with the aliases of ``search.yaml``)."""
        return place_names(self.meta, self.place_aliases)

    @cached_property
    def region_of(self) -> dict[str, str]:
        """Ambito -> its region."""
        return {str(m.get("ambito")): str(m.get("region")) for m in self.meta
                if m.get("ambito") and m.get("region")}

    @cached_property
    def facets(self) -> Facets:
        """What the interface's filters offer."""
        return facets_of(self.meta)

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.ids)}

    def rows(self, ids: Sequence[str]) -> list[int | None]:
        """Position of each chunk id in ``ids`` (None for one these facts do not hold)."""
        rows = self._rows
        return [rows.get(cid) for cid in ids]

    def accepts(self, filters: Filters) -> np.ndarray:
        """Row mask of the chunks ``filters`` accepts, from per-field columns built once
        (and kept per filter)."""
        key = tuple(filters.stored_fields())
        masks = self._masks
        mask = masks.get(key)
        if mask is None:
            mask = np.ones(len(self.ids), dtype=bool)
            for field, value in key:
                mask &= self._column(field) == value
            if len(masks) >= MAX_MASKS:
                masks.clear()
            masks[key] = mask
        return mask

    def _column(self, key: str) -> np.ndarray:
        if key not in self._columns:
            self._columns[key] = np.array([m.get(key) for m in self.meta], dtype=object)
        return self._columns[key]

    def saved_fields(self) -> dict[str, Any]:
        """What the index file keeps of these facts."""
        return {"meta": self.meta, "acronyms": self.acronyms,
                "chunk_acronyms": self.chunk_acronyms}
