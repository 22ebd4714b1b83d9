"""A turn of a conversation; how a follow-up leans on it is decided by
:class:`assistant.query.QueryAnalyzer`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""
