"""Adapters that let LlamaIndex and Chroma use our embedders (never their defaults)."""

from __future__ import annotations

from typing import Any, Dict, List

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .base import Embedder


class LlamaIndexEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model backed by one of our :class:`Embedder` objects."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "AssistantEmbedding"

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._embedder.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._embedder.embed_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._embedder.embed_passages(texts).tolist()


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
