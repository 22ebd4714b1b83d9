"""Access to the package's data files (strings, glossary, boilerplate, prompts)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=None)
def load_yaml(name: str) -> Any:
    """Parse ``assistant/data/<name>`` once per process."""
    text = resources.files("assistant").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def read_text(name: str) -> str:
    return resources.files("assistant").joinpath("data").joinpath(name).read_text(encoding="utf-8")
