"""Generated answers, grounded in the retrieved passages and checked before they are shown.

Flow of :meth:`LLMAnswerer.answer_stream` (``answer`` and ``stream`` are built on it):

1. The extractive answerer runs first. When it refuses (evidence too weak) the LLM is not
   called: the refusal is the answer.
2. The numbered passages go to the model inside ``<passaggio>`` delimiters (see
   :mod:`.prompt`), with the Italian rules of ``data/prompt_it.txt``.
3. The reply is checked claim by claim (see :mod:`.check`) while it arrives; only kept claims
   are streamed, so the text a user sees never holds an unchecked sentence.
4. Any failure (server down, timeout, HTTP error, empty or malformed reply, no valid
   citation, an invented number) gives the extractive answer with a notice saying why.
"""

from __future__ import annotations

import threading
from typing import Any, Generator, Iterator, Literal, Protocol, Sequence

from .. import messages
from ..answering import Answer, Citation, ExtractiveAnswerer, citation_for, sentences
from ..config import Settings
from ..datafiles import load_yaml
from ..errors import LLMError
from ..expansion import Expansion
from ..retrieval import Hit
from ..text import terms
from .backend import ChatBackend, bounded, make_backend
from .check import (AnswerChecker, CheckResult, Claim, ClaimSieve, format_claim, join_claims,
                    separator, split_claims)
from .prompt import Prompt, PromptBuilder

Delta = tuple[Literal["delta"], str]    # a checked piece of the answer, to append
Final = tuple[Literal["final"], Answer]  # the answer to show in place of the deltas
Event = Delta | Final                    # ("delta", str) ... then ("final", Answer)


class FallbackAnswerer(Protocol):
    """The answerer that runs before the model and stands in for it on any doubt
    (:class:`~assistant.answering.ExtractiveAnswerer`). When it also has ``refusal()``, that
    words the refusal for a reply saying the passages hold no answer."""

    def answer(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               searched: str | None = None, ignore_terms: set[str] | None = None,
               query: Any = None) -> Answer: ...


class LLMAnswerer:
    """Answers with a language model, falling back to the extractive answer on any doubt."""

    name = "llm"

    def __init__(self, settings: Settings, fallback: FallbackAnswerer | None = None,
                 backend: ChatBackend | None = None, prompts: PromptBuilder | None = None,
                 timeout: float | None = None) -> None:
        if not isinstance(settings, Settings):
            raise ValueError(f"settings must be a Settings, got {settings!r:.80}")
        if fallback is not None and not callable(getattr(fallback, "answer", None)):
            raise ValueError(f"fallback must have an answer() method, got {fallback!r:.80}")
        if backend is not None and not isinstance(backend, ChatBackend):
            raise ValueError(f"backend must have complete() and stream(), got {backend!r:.80}")
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.settings = settings
        self.fallback: FallbackAnswerer = fallback or ExtractiveAnswerer(settings.max_sentences,
                                                       settings.min_evidence)
        self.timeout = float(timeout or settings.llm_timeout)
        self._backend = backend
        self._prompts = prompts
        self._lock = threading.Lock()

    # ---- lazily built parts --------------------------------------------------------------
    @property
    def backend(self) -> ChatBackend:
        with self._lock:
            if self._backend is None:
                self._backend = make_backend(self.settings)
            return self._backend

    @property
    def prompts(self) -> PromptBuilder:
        with self._lock:
            if self._prompts is None:
                self._prompts = PromptBuilder()
            return self._prompts

    def warm_up(self) -> None:
        """Import the client libraries and read the prompt now (no request is sent)."""
        _ = self.backend, self.prompts

    # ---- the answerer interface ----------------------------------------------------------
    def answer(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               searched: str | None = None, **options: Any) -> Answer:
        """The checked answer (the reply is requested whole, within ``llm_timeout``).
        ``options`` (e.g. ``ignore_terms``) go to the extractive answerer."""
        for event in self._run(question, hits, expansions, searched, False, options):
            if event[0] == "final":
                return event[1]
        raise AssertionError("answer stream ended without a final answer")  # pragma: no cover

    def answer_stream(self, question: str, hits: list[Hit],
                      expansions: list[Expansion] | None = None,
                      searched: str | None = None, **options: Any) -> Iterator[Event]:
        """``("delta", text)`` for each checked piece of the answer as it arrives (to append
        to what is shown), then ``("final", Answer)``: show the final answer in place of the
        deltas, since it may be the extractive fallback. At most ``llm_timeout`` seconds
        pass without news."""
        yield from self._run(question, hits, expansions, searched, True, options)

    def stream(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               searched: str | None = None,
               **options: Any) -> Generator[str, None, Answer | None]:
        """The answer text in pieces; the generator's return value is the final Answer
        (``answer = yield from answerer.stream(...)``)."""
        final: Answer | None = None
        for event in self.answer_stream(question, hits, expansions, searched, **options):
            if event[0] == "delta":
                yield event[1]
            else:
                final = event[1]
        return final

    # ---- the work ------------------------------------------------------------------------
    def _run(self, question: str, hits: list[Hit], expansions: list[Expansion] | None,
             searched: str | None, streaming: bool,
             options: dict[str, Any]) -> Iterator[Event]:
        expansions = list(expansions or [])
        searched = searched or question
        extractive = self.fallback.answer(question, hits, expansions, searched,
                                                  **options)
        if extractive.refused or not hits:
            extractive.answerer = self.name
            yield "final", extractive
            return
        prompt = self.prompts.build(question, hits, expansions, searched)
        checker = AnswerChecker(list(prompt.passages))
        try:
            backend = self.backend  # built (imports done) before the clock starts
            if streaming:
                result = yield from self._checked_stream(backend, prompt, checker)
            else:
                reply = "".join(bounded(lambda: [backend.complete(prompt.messages())],
                                        self.timeout, url=self.settings.llm_base_url))
                if not reply.strip():
                    raise LLMError("empty reply", reason="empty")
                result = checker.check(reply)
        except LLMError as error:
            yield "final", self._fallback(extractive, error)
            return
        except Exception as error:  # noqa: BLE001 - never crash on a bad reply
            yield "final", self._fallback(extractive, LLMError(
                f"{type(error).__name__}: {error}", reason="error", kind=type(error).__name__))
            return
        yield "final", self._final(question, hits, expansions, searched, extractive, result)

    def _checked_stream(self, backend: ChatBackend, prompt: Prompt,
                        checker: AnswerChecker) -> Generator[Delta, None, CheckResult]:
        """Streams kept claims as soon as they are complete; returns the CheckResult.
        An invented number stops the stream (and the request)."""
        result = CheckResult()
        sieve = ClaimSieve(checker, result)
        buffer = ""
        done = 0  # claims of the buffer already judged
        last: Claim | None = None
        pieces = bounded(lambda: backend.stream(prompt.messages()), self.timeout,
                         idle=True, url=self.settings.llm_base_url)
        try:
            finished = False
            while not finished:
                try:
                    buffer += next(pieces)
                except StopIteration:
                    finished = True
                claims = split_claims(buffer)
                ready = len(claims) if finished else _complete(claims)
                for claim in claims[done:ready]:
                    for item in sieve.feed(claim):
                        yield "delta", separator(last, item) + format_claim(item)
                        last = item
                    if result.invented is not None:
                        return result
                done = max(done, ready)
        finally:
            pieces.close()
        sieve.close()
        if not buffer.strip():
            raise LLMError("empty reply", reason="empty")
        result.says_no_answer = not result.cited and checker.says_absent(buffer)
        return result

    def _final(self, question: str, hits: list[Hit], expansions: list[Expansion],
               searched: str, extractive: Answer, result: CheckResult) -> Answer:
        if result.invented is not None:
            return self._fallback(extractive, LLMError(
                f"number {result.invented} not in the cited passages", reason="invented_number",
                number=result.invented))
        if not result.cited:
            if result.says_no_answer:
                refusal = getattr(self.fallback, "refusal", None)
                if callable(refusal):
                    answer: Answer = refusal(question, searched, expansions,
                                             extractive.evidence, hits)
                    answer.answerer = self.name
                    return answer
            if "unsupported" in result.reasons:
                return self._fallback(extractive, LLMError(
                    "no claim supported by the passage it cites", reason="unsupported"))
            return self._fallback(extractive, LLMError("no valid citation",
                                                       reason="no_citation"))
        answer = Answer(question, join_claims(result.kept), False,
                        _citations(result.kept, hits), expansions, searched,
                        evidence=extractive.evidence, hits=hits, answerer=self.name)
        if result.dropped:
            data = load_yaml("llm_it.yaml")
            count = len(result.dropped)
            key = "dropped_unsupported" if "unsupported" in result.reasons else "dropped"
            answer.notice = (data[key + "_one"] if count == 1
                             else data[key].format(count=count))
        return answer

    def _fallback(self, extractive: Answer, error: LLMError) -> Answer:
        extractive.answerer = "extractive-fallback"
        extractive.notice = messages.text("llm_fallback", detail=fallback_detail(error))
        return extractive


def fallback_detail(error: LLMError) -> str:
    """The Italian reason shown in the fallback notice."""
    details: dict[str, str] = load_yaml("llm_it.yaml")["fallback_details"]
    facts = dict(error.facts)
    reason = str(facts.pop("reason", "error"))
    template = details.get(reason, details["error"])
    facts.setdefault("kind", reason)
    try:
        return template.format(**facts)
    except (KeyError, IndexError, ValueError):
        return details["error"].format(kind=reason)


def _complete(claims: list[Claim]) -> int:
    """How many of the claims parsed from a partial reply are certainly complete: all but
    the last, and not the one before a fragment that may still be its marker ("[1")."""
    ready = max(0, len(claims) - 1)
    if ready and claims[-1].raw.lstrip().startswith("["):
        ready -= 1
    return ready


def _citations(claims: Sequence[Claim], hits: list[Hit]) -> list[Citation]:
    """One citation per cited passage, in order of first use, numbered as in the text,
    with the passage sentences closest to the claims that cite it as highlights."""
    out: dict[int, Citation] = {}
    for claim in claims:
        for n in claim.markers:
            hit = hits[n - 1]
            citation = out.get(n)
            if citation is None:
                citation = out[n] = citation_for(hit, n)
            for sentence in _supporting_sentences(claim.text, hit.chunk.text):
                if sentence not in citation.highlights:
                    citation.highlights.append(sentence)
    return list(out.values())


def _supporting_sentences(claim: str, passage: str) -> list[str]:
    """The passage sentences a claim draws on: those whose terms the claim mostly repeats,
    or else the one sharing most terms with it."""
    wanted = set(terms(claim))
    chosen, best, best_score = [], None, 0
    for sentence in sentences(passage):
        have = set(terms(sentence))
        shared = len(wanted & have)
        if have and shared / len(have) >= 0.6:
            chosen.append(sentence)
        if shared > best_score:
            best, best_score = sentence, shared
    return chosen or ([best] if best else [])
