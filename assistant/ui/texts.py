"""The Italian strings of the web interface, from ``assistant/data/ui_it.yaml``."""

from __future__ import annotations

from typing import Any

from ..datafiles import load_yaml

UI_STRINGS = "ui_it.yaml"


def strings() -> dict[str, Any]:
    """The whole parsed file (read once per process)."""
    parsed: dict[str, Any] = load_yaml(UI_STRINGS)
    return parsed


def text(key: str, **values: Any) -> str:
    """The string at a dotted ``key`` ("chat.send"), formatted with ``values``."""
    node: Any = strings()
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key!r} is not a string in {UI_STRINGS}")
    return node.format(**values) if values else node


def section(key: str) -> Any:
    """A whole sub-tree of the file (lists and mappings: examples, situations, columns)."""
    node: Any = strings()
    for part in key.split("."):
        node = node[part]
    return node
