"""Assistente per i piani sociali di zona: Italian questions about local social-services plans,
answered from the documents with citations.

Public API::

    from assistant import Assistant, Settings, Filters, Turn
    bot = Assistant(Settings(corpus_dir="corpus", index_dir="index"))
    bot.ingest()
    answer = bot.ask("Che servizi ci sono per gli anziani a Matino?")
"""

from .answering import Answer, Citation, ExtractiveAnswerer
from .config import Settings
from .conversation import Turn
from .core import Assistant
from .embedding import Embedder, HashingEmbedder, make_embedder
from .errors import (AssistantError, ConfigError, DocumentError, EmbedderError,
                     IndexMissingError, LLMError, QuestionError)
from .ingestion.pipeline import IngestReport
from .llamaindex import HybridRetriever
from .retrieval import Filters

__all__ = [
    "Answer", "Assistant", "AssistantError", "Citation", "ConfigError", "DocumentError",
    "Embedder", "EmbedderError", "ExtractiveAnswerer", "Filters", "HashingEmbedder",
    "HybridRetriever", "IndexMissingError", "IngestReport", "LLMError", "QuestionError",
    "Settings", "Turn", "make_embedder",
]
