"""Variants measured by ``bench.run`` next to the shipped code: prototypes of proposed
speed-ups (each says what it would change) and, once one is adopted, the code it
replaced, so that a run still shows before and after on the same machine.

Adopted so far: ``process-use`` (passage batches over forked worker processes with one
BLAS thread each) is ``assistant.embedding.models.USEEmbedder`` since it learned
``submit_passages``; ``parallel-use`` (the same over threads) is its fallback where fork
is unavailable.
"""

from __future__ import annotations

from typing import Any

from assistant.embedding.models import USEEmbedder


class InProcessUSE(USEEmbedder):
    """The embedder as shipped before the worker pool: every batch of passages in this
    process (two BLAS threads), and no background submission, so ingestion embeds a
    document only after parsing and chunking all of it."""

    pool_min_batch = 10 ** 9

    def __getattribute__(self, name: str) -> Any:
        if name == "submit_passages":
            raise AttributeError(name)
        return super().__getattribute__(name)


VARIANTS = {"inprocess-use": InProcessUSE}


def make_variant(name: str | None, settings: Any) -> Any:
    """The embedder a benchmark variant names (None: the shipped default)."""
    if not name:
        return None
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {name!r}")
    return VARIANTS[name](batch_size=settings.embed_batch_size)
