"""The seam to the language model: a chat backend that completes or streams a reply.

* :class:`LlamaIndexBackend` wraps a LlamaIndex LLM: ``OpenAILike`` for any OpenAI-compatible
  server (llama.cpp, vLLM, LM Studio, Ollama's ``/v1``) or ``Ollama`` for Ollama's own API.
  :func:`make_backend` builds it from :class:`~assistant.config.Settings`, with no retries,
  no tokenizer and an explicit context window, so nothing is downloaded or probed.
* :class:`ScriptedBackend` is the deterministic fake for tests and demos.
* :func:`bounded` runs a backend call in a worker thread and gives up at the deadline, so a
  slow server never holds the caller longer than the configured timeout; every failure comes
  out as an :class:`~assistant.errors.LLMError` with a ``reason``.
"""

from __future__ import annotations

import enum
import json
import queue
import threading
import time
from typing import (Any, Callable, Generator, Iterable, Iterator, Protocol, Sequence,
                    runtime_checkable)

from ..config import Settings
from ..errors import LLMError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

CONTEXT_WINDOW = 8192


@runtime_checkable
class ChatBackend(Protocol):
    def complete(self, messages: Sequence[Message]) -> str:
        """The whole reply."""

    def stream(self, messages: Sequence[Message]) -> Iterable[str]:
        """The reply in pieces, as the server produces them."""


class LlamaIndexBackend:
    """A LlamaIndex chat LLM behind the :class:`ChatBackend` seam."""

    def __init__(self, llm: Any, description: str = "") -> None:
        if not hasattr(llm, "chat") or not hasattr(llm, "stream_chat"):
            raise ValueError(f"llm must be a LlamaIndex LLM with chat/stream_chat, got {llm!r}")
        self.llm = llm
        self.description = description

    @staticmethod
    def _messages(messages: Sequence[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def complete(self, messages: Sequence[Message]) -> str:
        response = self.llm.chat(self._messages(messages))
        content = response.message.content
        if content is not None and not isinstance(content, str):
            raise LLMError(f"reply content is {type(content).__name__}", reason="malformed")
        return content or ""

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        for response in self.llm.stream_chat(self._messages(messages)):
            if response.delta:
                yield response.delta


def ollama_host(base_url: str) -> str:
    """Ollama's own API lives at the server root: drop a trailing ``/v1`` or ``/api``."""
    url = base_url.rstrip("/")
    for suffix in ("/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def make_backend(settings: Settings) -> LlamaIndexBackend:
    """The configured LLM (``llm_provider``, ``llm_base_url``, ``llm_model`` ...)."""
    if settings.llm_provider == "ollama":
        from llama_index.llms.ollama import Ollama

        host = ollama_host(settings.llm_base_url)
        llm: Any = Ollama(model=settings.llm_model, base_url=host,
                     request_timeout=settings.llm_timeout, context_window=CONTEXT_WINDOW,
                     temperature=0.0, additional_kwargs={"num_predict": settings.llm_max_tokens})
        return LlamaIndexBackend(llm, f"ollama {settings.llm_model} @ {host}")
    from llama_index.llms.openai_like import OpenAILike
    # the openai client imports its resources on first use; do it now, not on the clock
    import openai.resources.chat.completions  # noqa: F401
    import openai.types.chat  # noqa: F401

    llm = OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url,
                     api_key=settings.llm_api_key or "none", is_chat_model=True,
                     is_function_calling_model=False, context_window=CONTEXT_WINDOW,
                     tokenizer=None, timeout=settings.llm_timeout,
                     max_tokens=settings.llm_max_tokens, max_retries=0, temperature=0.0,
                     reuse_client=True)
    return LlamaIndexBackend(llm, f"{settings.llm_model} @ {settings.llm_base_url}")


class ScriptedBackend:
    """A deterministic backend: a fixed reply (or one computed from the messages), given
    whole or in pieces, after an optional delay, or an exception to raise."""

    def __init__(self, reply: str | Callable[[Sequence[Message]], str] = "",
                 error: BaseException | None = None, delay: float = 0.0,
                 piece: int = 12) -> None:
        if not isinstance(reply, str) and not callable(reply):
            raise ValueError(f"reply must be a string or a callable, got {reply!r}")
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay!r}")
        if piece < 1:
            raise ValueError(f"piece must be >= 1, got {piece!r}")
        self.reply, self.error, self.delay, self.piece = reply, error, delay, piece
        self.calls: list[list[Message]] = []

    def _text(self, messages: Sequence[Message]) -> str:
        self.calls.append([dict(m) for m in messages])
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.reply(messages) if callable(self.reply) else self.reply

    def complete(self, messages: Sequence[Message]) -> str:
        return self._text(messages)

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        text = self._text(messages)
        for start in range(0, len(text), self.piece):
            yield text[start:start + self.piece]


# ---- errors --------------------------------------------------------------------------------
def classify(exc: BaseException, url: str = "") -> LLMError:
    """Any failure of a backend call as an :class:`LLMError` with ``reason`` among
    unreachable, timeout, http (with ``status``), malformed, empty, error (with ``kind``)."""
    if isinstance(exc, LLMError):
        return exc
    import httpx

    kinds = [type(e).__name__ for e in _chain(exc)]
    for e in _chain(exc):
        status = getattr(e, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return LLMError(str(e)[:200], reason="http", status=status)
        if isinstance(e, (httpx.TimeoutException, TimeoutError)) or "Timeout" in type(e).__name__:
            return LLMError(str(e)[:200], reason="timeout")
        if isinstance(e, (httpx.ConnectError, ConnectionError, httpx.RemoteProtocolError)) \
                or type(e).__name__ == "APIConnectionError":
            return LLMError(str(e)[:200], reason="unreachable", url=url)
        if isinstance(e, (json.JSONDecodeError, KeyError, IndexError, TypeError,
                          AttributeError, ValueError, httpx.DecodingError)):
            return LLMError(f"{type(e).__name__}: {e}"[:200], reason="malformed")
    return LLMError(f"{type(exc).__name__}: {exc}"[:200], reason="error", kind=kinds[0])


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 6:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


# ---- deadlines -----------------------------------------------------------------------------
class _End(enum.Enum):
    """The marker the worker of :func:`bounded` queues after the last piece."""

    DONE = enum.auto()


_DONE = _End.DONE


def bounded(produce: Callable[[], Iterable[str]], timeout: float, idle: bool = False,
            url: str = "") -> Generator[str, None, None]:
    """The pieces ``produce()`` yields, computed in a worker thread.

    Raises :class:`LLMError` (reason ``timeout``) when nothing arrives in time: within
    ``timeout`` seconds in all (``idle=False``) or between two pieces (``idle=True``, for
    streaming). Closing the generator early tells the worker to stop at its next piece; a
    worker blocked in a read ends by itself at the HTTP client's own timeout.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    pieces: queue.Queue[str | BaseException | _End] = queue.Queue()
    cancel = threading.Event()

    def work() -> None:
        iterator = None
        try:
            iterator = iter(produce())
            for piece in iterator:
                if cancel.is_set():
                    break
                pieces.put(piece)
            pieces.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            pieces.put(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass

    worker = threading.Thread(target=work, name="llm-call", daemon=True)
    deadline = time.monotonic() + timeout
    worker.start()
    try:
        while True:
            left = deadline - time.monotonic()
            try:
                item = pieces.get(timeout=max(0.0, left))
            except queue.Empty:
                raise LLMError(f"no reply within {timeout:g} s", reason="timeout",
                               seconds=timeout) from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                error = classify(item, url)
                if error.facts.get("reason") == "timeout":
                    error.facts.setdefault("seconds", timeout)
                raise error from item
            yield item
            if idle:
                deadline = time.monotonic() + timeout
    finally:
        cancel.set()
