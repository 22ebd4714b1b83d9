"""The headings of one document that name something, for questions that ask to list them
("Quali sono le aree strategiche del piano?"): the retrieved passages hold only a few of a
plan's sections, the lexical index's metadata holds them all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .text import terms


def first_chunks_of_sections(ids: Sequence[str], meta: Sequence[dict[str, Any]], source: str,
                             wanted: set[str]) -> list[str]:
    """Ids of the first chunk (lowest ``ordinal``) under each heading of ``source`` whose
    stems include every stem of ``wanted``, in the document's order."""
    if not wanted:
        return []
    first: dict[str, tuple[int, str]] = {}
    stems: dict[str, bool] = {}
    for cid, row in zip(ids, meta):
        if row.get("source") != source:
            continue
        section = row.get("section")
        if not section:
            continue
        if section not in stems:
            stems[section] = wanted <= set(terms(str(section)))
        if not stems[section]:
            continue
        ordinal = row.get("ordinal")
        position = int(ordinal) if isinstance(ordinal, (int, float)) else 0
        if section not in first or position < first[section][0]:
            first[section] = (position, cid)
    return [cid for _position, cid in sorted(first.values())]


def listed_section_ids(ids: Sequence[str], meta: Sequence[dict[str, Any]],
                       sources: Iterable[str], wanted: set[str]) -> list[str]:
    """:func:`first_chunks_of_sections` of the first of ``sources`` (best-ranked first)
    with at least two such headings; empty when none has two (one heading is no list)."""
    for source in sources:
        found = first_chunks_of_sections(ids, meta, source, wanted)
        if len(found) >= 2:
            return found
    return []
