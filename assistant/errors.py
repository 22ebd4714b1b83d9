"""Errors raised by the assistant.

They carry a machine-readable ``code`` and the facts needed to explain them. They become
user-facing Italian messages only at the edges (CLI, UI), through :mod:`assistant.messages`.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error the assistant raises on purpose."""

    code = "error"

    def __init__(self, detail: str = "", **facts: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.facts = facts


class ConfigError(AssistantError):
    """A setting has a value the assistant cannot use."""

    code = "config"


class DocumentError(AssistantError):
    """A file of the corpus cannot be read; the rest of the corpus is unaffected."""

    code = "document"

    def __init__(self, reason: str, detail: str = "", **facts: object) -> None:
        super().__init__(detail or reason, **facts)
        self.reason = reason  # a key of the "skip_reasons" table in strings_it.yaml


class IndexMissingError(AssistantError):
    """The index folder holds no index yet: run ``ingest`` first."""

    code = "index_missing"


class EmbedderError(AssistantError):
    """The embedding model cannot be loaded or run."""

    code = "embedder"


class QuestionError(AssistantError):
    """The question cannot be processed (empty, too long)."""

    code = "question"

    def __init__(self, reason: str, detail: str = "", **facts: object) -> None:
        super().__init__(detail or reason, **facts)
        self.reason = reason


class LLMError(AssistantError):
    """The optional LLM backend failed (down, timeout, bad reply)."""

    code = "llm"


class IndexBusyError(AssistantError):
    """Another ingest (this or another process) is writing the same index; it was waited
    for ``waited`` seconds. Facts: ``index``, ``waited``, ``holder`` (who holds it)."""

    code = "index_busy"


class DiskFullError(AssistantError):
    """The disk holding the index (or the corpus) is full: the ingest stopped; what was
    indexed before stays as it was. Facts: ``where`` (a path)."""

    code = "disk_full"


class StoreUnavailableError(AssistantError):
    """The Chroma store stopped answering (server down, connection lost) or refused a
    write: the ingest stopped; the documents indexed before stay. Facts: ``detail``."""

    code = "store_unavailable"


class InputFileError(AssistantError):
    """A file given on the command line (``--questions``, ``--history``) cannot be used.
    ``reason``: missing, unreadable, too_large, not_text, not_json, not_turns (the message
    is ``error_input_file_<reason>`` in strings_it.yaml). Facts: ``path``."""

    code = "input_file"

    def __init__(self, reason: str, detail: str = "", **facts: object) -> None:
        super().__init__(detail or reason, **facts)
        self.reason = reason


class UploadError(AssistantError):
    """An uploaded file is refused; ``reason`` is a key of ``upload_refusals`` in
    strings_it.yaml. Nothing of it is stored."""

    code = "upload"

    def __init__(self, reason: str, detail: str = "", **facts: object) -> None:
        super().__init__(detail or reason, **facts)
        self.reason = reason
