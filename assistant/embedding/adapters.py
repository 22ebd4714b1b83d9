"""The adapter that lets Chroma use our embedders (never its default model)."""

from __future__ import annotations

from typing import Any, Dict

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from .base import Embedder


class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """A Chroma embedding function over our embedder, passed on create *and* on reopen,
    so Chroma never falls back to its default model (which would download weights)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return [self._embedder.embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        return "assistant-embedder"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> Dict[str, Any]:
        return {"embedder": self._embedder.name}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "ChromaEmbeddingFunction":
        raise ValueError(
            "this collection's embeddings come from the assistant's embedder "
            f"{config.get('embedder')!r}: open it through the assistant"
        )
