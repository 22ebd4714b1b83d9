"""Optional generative answers through an LLM server, grounded in the retrieved passages.

``Settings(answerer="llm")`` makes :class:`~assistant.core.Assistant` use
:class:`LLMAnswerer`: the passages go to an OpenAI-compatible server or Ollama (through
LlamaIndex), the reply is checked (citations, numbers) and any failure falls back to the
extractive answer with a notice. See ``docs/llm.md``.
"""

from .answerer import LLMAnswerer, fallback_detail
from .backend import (ChatBackend, LlamaIndexBackend, ScriptedBackend, bounded, classify,
                      make_backend, ollama_host)
from .check import AnswerChecker, CheckResult, Claim, number_readings, number_values, split_claims
from .prompt import Prompt, PromptBuilder, neutralise

__all__ = ["LLMAnswerer", "fallback_detail", "ChatBackend", "LlamaIndexBackend",
           "ScriptedBackend", "bounded", "classify", "make_backend", "ollama_host",
           "AnswerChecker", "CheckResult", "Claim", "number_readings", "number_values",
           "split_claims", "Prompt", "PromptBuilder", "neutralise"]
