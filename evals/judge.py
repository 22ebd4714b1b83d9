"""LLM-judged metrics: faithfulness and answer relevancy, from an OpenAI-compatible
``/chat/completions`` endpoint (llama.cpp server, Ollama, vLLM, a hosted API).

Enabled with ``--judge`` or ``ASSISTANT_LLM_JUDGE=1``; the endpoint, model and key are the
assistant's ``llm_base_url``, ``llm_model``, ``llm_api_key`` and ``llm_timeout`` settings.
:class:`FakeJudge` is the deterministic stand-in for tests.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant import Settings
from assistant.errors import ConfigError, LLMError

PROMPTS_FILE = Path(__file__).resolve().parent / "judge_prompts.yaml"
ENV_FLAG = "ASSISTANT_LLM_JUDGE"
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_MAX_CONTEXT_CHARS = 6000


@lru_cache(maxsize=1)
def default_prompts() -> dict[str, str]:
    return yaml.safe_load(PROMPTS_FILE.read_text(encoding="utf-8"))


def judge_requested(flag: bool, env: dict[str, str]) -> bool:
    """``--judge`` given, or ``ASSISTANT_LLM_JUDGE`` set to a true value."""
    return flag or env.get(ENV_FLAG, "").strip().lower() in ("1", "true", "yes", "on")


class LLMJudge:
    """Scores an answer from 0 to 1 with one chat-completion request per metric."""

    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 30.0,
                 max_tokens: int = 200, client: Any = None,
                 prompts: dict[str, str] | None = None) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"judge base_url must be an http(s) URL, got {base_url!r}",
                              setting="llm_base_url")
        if not model:
            raise ConfigError(f"judge model must be named, got {model!r}", setting="llm_model")
        if timeout <= 0:
            raise ConfigError(f"judge timeout must be positive, got {timeout!r}",
                              setting="llm_timeout")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.prompts = prompts or default_prompts()
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> "LLMJudge":
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                   settings.llm_timeout, client=client)

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    def faithfulness(self, question: str, answer: str, contexts: list[str]) -> float:
        joined = "\n---\n".join(contexts)[:_MAX_CONTEXT_CHARS]
        return self.score("faithfulness", question=question, answer=answer, contexts=joined)

    def relevancy(self, question: str, answer: str) -> float:
        return self.score("relevancy", question=question, answer=answer)

    def score(self, metric: str, **values: str) -> float:
        prompt = self.prompts[metric].format(**values)
        reply = self.complete(self.prompts["system"], prompt)
        return parse_score(reply)

    def complete(self, system: str, user: str) -> str:
        """One chat completion; :class:`LLMError` for any transport or format problem."""
        import httpx

        body = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": user}]}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.client.post(f"{self.base_url}/chat/completions", json=body,
                                        headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise LLMError(f"judge endpoint {self.base_url} unreachable: {exc}",
                           url=self.base_url) from exc
        if response.status_code != 200:
            raise LLMError(f"judge endpoint answered HTTP {response.status_code}: "
                           f"{response.text[:200]}", url=self.base_url)
        try:
            return str(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"judge reply is not a chat completion: {response.text[:200]}",
                           url=self.base_url) from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def parse_score(reply: str) -> float:
    """The score of a judge reply: ``{"score": x}`` (possibly inside other text) or the first
    number; 0-10 and 0-100 scales are brought to 0-1."""
    value: Any = None
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    if match:
        try:
            value = json.loads(match.group(0)).get("score")
        except (ValueError, AttributeError):
            value = None
    if value is None:
        number = _NUMBER.search(reply)
        value = number.group(0).replace(",", ".") if number else None
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise LLMError(f"judge reply holds no score: {reply[:200]!r}") from exc
    if score > 10:
        score /= 100
    elif score > 1:
        score /= 10
    return min(1.0, max(0.0, score))


class FakeJudge:
    """Deterministic judge for tests: fixed scores, calls recorded."""

    name = "fake"

    def __init__(self, faithfulness: float = 1.0, relevancy: float = 1.0) -> None:
        self.values = {"faithfulness": faithfulness, "relevancy": relevancy}
        self.calls: list[tuple[str, str]] = []

    def describe(self) -> str:
        return "fake judge"

    def faithfulness(self, question: str, answer: str, contexts: list[str]) -> float:
        self.calls.append(("faithfulness", question))
        return self.values["faithfulness"]

    def relevancy(self, question: str, answer: str) -> float:
        self.calls.append(("relevancy", question))
        return self.values["relevancy"]

    def close(self) -> None:
        return None
