"""Italian user messages, from ``data/strings_it.yaml``; used only at the edges."""

from __future__ import annotations

from typing import Any

from .datafiles import load_yaml
from .errors import (AssistantError, ConfigError, DocumentError, EmbedderError,
                     IndexMissingError, QuestionError)


def text(key: str, **values: Any) -> str:
    template: str = load_yaml("strings_it.yaml")[key]
    return template.format(**values) if values else template


def skip_reason(reason: str, detail: str = "", **facts: Any) -> str:
    reasons: dict[str, str] = load_yaml("strings_it.yaml")["skip_reasons"]
    template = reasons.get(reason, reason)
    try:
        return template.format(detail=detail, **facts)
    except (KeyError, IndexError):
        return template


def for_error(error: AssistantError) -> str:
    """The Italian sentence a user sees for an error."""
    if isinstance(error, QuestionError):
        key = "question_empty" if error.reason == "empty" else "question_too_long"
        return text(key, **error.facts)
    if isinstance(error, IndexMissingError):
        return text("index_missing", index=error.facts.get("index", error.detail))
    if isinstance(error, ConfigError):
        return text("config_error", detail=error.detail)
    if isinstance(error, EmbedderError):
        return text("embedder_error", detail=error.detail)
    if isinstance(error, DocumentError):
        return skip_reason(error.reason, error.detail, **error.facts)
    return _keyed(error) or str(error)


def _keyed(error: AssistantError) -> str | None:
    """``error_<code>_<reason>`` or ``error_<code>`` of strings_it.yaml, filled with the
    error's detail and facts (the errors of assistant/errors.py that carry their own key)."""
    strings = load_yaml("strings_it.yaml")
    reason = getattr(error, "reason", None)
    keys = ([f"error_{error.code}_{reason}"] if reason else []) + [f"error_{error.code}"]
    for key in keys:
        template = strings.get(key)
        if isinstance(template, str):
            try:
                return template.format(**{"detail": error.detail, **error.facts})
            except (KeyError, IndexError, ValueError):
                return template
    return None
