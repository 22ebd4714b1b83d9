"""Assistente per i piani sociali di zona: Italian questions about local social-services plans,
answered from the documents with citations.

Public API::

    from assistant import Assistant, Settings, Filters, Turn
    bot = Assistant(Settings(corpus_dir="corpus", index_dir="index"))
    bot.ingest()
    answer = bot.ask("Che servizi ci sono per gli anziani a Matino?")

The operator tools use ``bot.search(text, k, filters)`` (a :class:`Search`) and
``bot.facets()`` (a :class:`Facets`, what the filters offer). ``bot.state`` is the index
state questions read now (an :class:`IndexState`: :class:`LexicalIndex`,
:class:`VectorCache`, :class:`CorpusFacts`); ``bot.retriever`` a :class:`Retriever` over it.
Everything listed in ``__all__`` is supported; other names may change.
"""

from .answering import Answer, Citation, ExtractiveAnswerer
from .config import Settings
from .conversation import Turn
from .core import Assistant, Search
from .corpus_facts import CorpusFacts, Facets
from .embedding import Embedder, HashingEmbedder, make_embedder
from .errors import (AssistantError, ConfigError, DocumentError, EmbedderError,
                     IndexMissingError, LLMError, QuestionError)
from .index_sync import IndexState, IndexSync
from .ingestion.pipeline import IngestReport
from .lexical import LexicalIndex
from .llamaindex import HybridRetriever
from .retrieval import Filters, Hit, RetrievalOptions, Retriever
from .vector_cache import VectorCache

__all__ = [
    "Answer", "Assistant", "AssistantError", "Citation", "ConfigError", "CorpusFacts",
    "DocumentError", "Embedder", "EmbedderError", "ExtractiveAnswerer", "Facets", "Filters",
    "HashingEmbedder", "Hit", "HybridRetriever", "IndexMissingError", "IndexState",
    "IndexSync", "IngestReport", "LLMError", "LexicalIndex", "QuestionError",
    "RetrievalOptions", "Retriever", "Search", "Settings", "Turn", "VectorCache",
    "make_embedder",
]
