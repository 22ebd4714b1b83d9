"""The one chunk type: what the chunker makes, the store keeps and a search returns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A passage of one document with the metadata the store keeps beside it.

    The chunker sets ``source``, ``page`` (0 for a format without pages), ``section`` (""
    outside any heading) and ``ordinal`` (position in the document); ingestion adds the
    document's catalogue fields (title, doc_type, ambito, comuni, region, province, year,
    url, date). ``score`` is how well a search found it matches the question (higher is
    better); 0 outside a search.
    """

    id: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if isinstance(page, (int, float)) and page > 0 else None

    @property
    def section(self) -> str | None:
        return self.metadata.get("section") or None

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source)

    @property
    def ordinal(self) -> int:
        return int(self.metadata.get("ordinal") or 0)

    def embed_text(self, title: str) -> str:
        """What is embedded for search: title and section give the text its context."""
        head = " — ".join(x for x in (title, self.section) if x)
        return f"{head}\n{self.text}" if head else self.text

    def with_document(self, document: dict[str, Any]) -> "Chunk":
        """This chunk with its document's metadata added (the chunk's own fields win)."""
        return replace(self, metadata={**document, **self.metadata})


def chunk_metadata(source: str, page: int | None, section: str | None,
                   ordinal: int) -> dict[str, Any]:
    """The fields the chunker sets, as the store keeps them: page 0 and section "" stand
    for none (metadata values are never ``None``)."""
    return {"source": source, "page": page or 0, "section": section or "",
            "ordinal": ordinal}
