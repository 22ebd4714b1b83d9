"""The passages where the documents define an acronym, for questions asking what it means
("Che cosa vuol dire RTD?"): a list of acronyms is one long run of names, which ranks low
for any one of them, yet it is where the corpus says what the acronym stands for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .expansion import Expansion, acronym_key
from .passages import DEFINITION
from .text import normalize


def defining_ids(question: str, expansions: Sequence[Expansion],
                 chunk_acronyms: Mapping[str, Mapping[str, str]], limit: int = 2) -> list[str]:
    """Ids of the first ``limit`` chunks (in index order) that define an acronym the
    question asks the meaning of; none when it does not ask what one means."""
    if limit < 1 or not DEFINITION.search(normalize(question)):
        return []
    wanted = {acronym_key(e.term) for e in expansions if e.is_acronym}
    if not wanted:
        return []
    return [cid for cid, found in chunk_acronyms.items()
            if wanted.intersection(acronym_key(a) for a in found)][:limit]


__all__ = ["defining_ids"]
