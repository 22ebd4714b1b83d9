"""The assistant's retrieval as a LlamaIndex retriever, for use in your own LlamaIndex code.

:class:`HybridRetriever` is a :class:`llama_index.core.retrievers.BaseRetriever`: any stock
query engine, chat engine or node postprocessor can sit on it. It does not search a store
of its own: it asks an :class:`~assistant.Assistant` to analyse the question (places,
acronyms, typos, the filters) and to retrieve (dense + BM25, fused), exactly as the
assistant does for its own answers, and hands the passages back as ``NodeWithScore`` whose
``TextNode`` carries our metadata (source, title, page, section, ambito, doc_type, year,
chunk id). Chunks become nodes only here, at this edge: the store keeps its own records.
:meth:`HybridRetriever.to_hits` turns such nodes back into the assistant's ``Hit`` list, so
the extractive and the LLM answerers can answer from what this retriever found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import (FilterCondition, FilterOperator,
                                                  MetadataFilter, MetadataFilters)

from .conversation import Turn
from .retrieval import Filters, Hit
from .chunk import Chunk

if TYPE_CHECKING:
    from .query import Query

# MetadataFilter key -> field of our Filters ("type" is the name the issue and the UI use)
FILTER_FIELDS = {"ambito": "ambito", "comune": "comune", "doc_type": "doc_type",
                 "type": "doc_type", "year": "year", "source": "source", "region": "region"}
CHUNK_ID_KEY = "chunk_id"
# what a Hit holds besides the chunk: kept in the node so that to_hits() gives it back
_RANK_KEYS = ("dense_rank", "bm25_rank", "dense_score", "chunk_score")
# metadata a language model or an embedding model has no use for
_HIDDEN_KEYS = [CHUNK_ID_KEY, *_RANK_KEYS, "ordinal", "url", "date", "comuni", "province"]


@runtime_checkable
class AnalyzingRetriever(Protocol):
    """What the retriever needs of an :class:`~assistant.Assistant`."""

    def analyze(self, question: str, history: list[Turn] | None = None,
                filters: Filters | None = None) -> "Query": ...

    def retrieve(self, query: "Query") -> list[Hit]: ...


class HybridRetriever(BaseRetriever):
    """LlamaIndex retriever over an :class:`~assistant.Assistant`'s hybrid retrieval.

    ``assistant``: an ingested Assistant (anything with its ``analyze`` and ``retrieve``);
    ``filters``: LlamaIndex ``MetadataFilters`` of ``EQ`` filters joined by ``AND``, on
    the keys ambito, comune, doc_type (or type), year, source and region; a comune stands
    for its ambito's documents, as in the assistant. How many passages come back is the
    assistant's ``top_k`` setting. Raises ``ValueError`` naming a bad argument, an
    unsupported key, operator or condition.
    """

    def __init__(self, assistant: AnalyzingRetriever, filters: MetadataFilters | None = None,
                 callback_manager: CallbackManager | None = None) -> None:
        if not isinstance(assistant, AnalyzingRetriever):
            raise ValueError("assistant must have analyze() and retrieve() (an "
                             f"assistant.Assistant), got {assistant!r:.80}")
        if filters is not None and not isinstance(filters, MetadataFilters):
            raise ValueError(f"filters must be a llama_index MetadataFilters, got {filters!r:.80}")
        self.assistant = assistant
        self.metadata_filters = filters
        self.filters = filters_from_metadata(filters)
        super().__init__(callback_manager=callback_manager)

    # ---- main method ---------------------------------------------------------------------
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """The assistant's passages for ``query_bundle.query_str``, best first (its custom
        embeddings, if any, are not used: the assistant embeds the analysed question)."""
        query = self.assistant.analyze(query_bundle.query_str, [], self.filters)
        return [self.to_node(hit) for hit in self.assistant.retrieve(query)]

    # ---- conversions ---------------------------------------------------------------------
    @staticmethod
    def to_node(hit: Hit) -> NodeWithScore:
        """A ``NodeWithScore`` for one of our hits: node id = chunk id, the fused score,
        every chunk metadata field plus the chunk id and the ranks (hidden from the LLM)."""
        chunk = hit.chunk
        metadata: dict[str, Any] = dict(chunk.metadata)
        metadata.update({CHUNK_ID_KEY: chunk.id, "dense_rank": hit.dense_rank,
                         "bm25_rank": hit.bm25_rank, "dense_score": hit.dense_score,
                         "chunk_score": chunk.score})
        node = TextNode(id_=chunk.id, text=chunk.text, metadata=metadata,
                        excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
                        excluded_embed_metadata_keys=list(_HIDDEN_KEYS))
        return NodeWithScore(node=node, score=hit.score)

    @staticmethod
    def to_hits(nodes: Sequence[NodeWithScore]) -> list[Hit]:
        """Our hits back from nodes :meth:`to_node` made (after any postprocessor that
        reorders or drops them), for ``ExtractiveAnswerer.answer`` / ``LLMAnswerer.answer``.
        Raises ``ValueError`` for a node this retriever did not make."""
        hits = []
        for item in nodes:
            metadata = dict(item.node.metadata)
            if metadata.get(CHUNK_ID_KEY) != item.node.node_id:
                raise ValueError("node was not made by HybridRetriever (no matching "
                                 f"{CHUNK_ID_KEY!r} in its metadata): {item.node.node_id!r}")
            extra = {key: metadata.pop(key, None) for key in (CHUNK_ID_KEY, *_RANK_KEYS)}
            chunk = Chunk(item.node.node_id, item.node.get_content(), metadata,
                          float(extra["chunk_score"] or 0.0))
            hits.append(Hit(chunk, float(item.score or 0.0), extra["dense_rank"],
                            extra["bm25_rank"], float(extra["dense_score"] or 0.0)))
        return hits


def filters_from_metadata(filters: MetadataFilters | None) -> Filters:
    """Our :class:`~assistant.Filters` for LlamaIndex ``MetadataFilters``: ``EQ`` filters
    on the keys of :data:`FILTER_FIELDS`, joined by ``AND``; ``ValueError`` naming any
    other key, operator or condition, a nested group, a key given twice with two values,
    or a value of the wrong kind (an empty text, a year that is not a whole number)."""
    if filters is None:
        return Filters()
    if filters.condition not in (None, FilterCondition.AND):
        raise ValueError(f"MetadataFilters condition {_name(filters.condition)!r} is not "
                         "supported: only 'and'")
    values: dict[str, Any] = {}
    for item in filters.filters:
        if not isinstance(item, MetadataFilter):
            raise ValueError("nested MetadataFilters are not supported: list the "
                             "MetadataFilter items in one MetadataFilters")
        field, value = _field_value(item)
        if values.get(field, value) != value:
            raise ValueError(f"filter {field!r} given two values: {values[field]!r} and "
                             f"{value!r}")
        values[field] = value
    return Filters(**values)


def _field_value(item: MetadataFilter) -> tuple[str, Any]:
    field = FILTER_FIELDS.get(item.key)
    if field is None:
        raise ValueError(f"filter key {item.key!r} is not supported: use one of "
                         f"{', '.join(sorted(FILTER_FIELDS))}")
    if item.operator != FilterOperator.EQ:
        raise ValueError(f"filter operator {_name(item.operator)!r} on {item.key!r} is not "
                         "supported: only '==' (FilterOperator.EQ)")
    value = item.value
    if field == "year":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"filter 'year' must be a year such as 2022, got {item.value!r}")
        return field, value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"filter {item.key!r} must be a non-empty text, got {item.value!r}")
    return field, value.strip()


def _name(option: Any) -> str:
    return str(getattr(option, "value", option))


__all__ = ["FILTER_FIELDS", "HybridRetriever", "filters_from_metadata"]
