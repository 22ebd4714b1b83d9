"""The assistant: one object that ingests, retrieves and answers, for CLI, UI and evals.

It wires the parts and reads as the path of a question: analysis (:mod:`assistant.query`),
retrieval (:mod:`assistant.retrieval`), answer (:mod:`assistant.answering`). The index
state they read is kept in line with the store by :mod:`assistant.index_sync`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answer_features import CorpusStats
from .answering import Answer, ExtractiveAnswerer
from .config import Settings
from .conversation import Turn
from .corpus_facts import Facets
from .embedding import Embedder, make_embedder
from .errors import AssistantError, QuestionError
from .expansion import QueryExpander
from .index_sync import IndexState, IndexSync
from .ingestion.pipeline import Ingestor, IngestReport
from .notices import AnswerNotices
from .passages import config as answering_config
from .query import Query, QueryAnalyzer
from .retrieval import Filters, Hit, RetrievalOptions, Retriever
from .store import ChunkStore, Manifest
from .text import terms
from .typos import Corrector


@dataclass(frozen=True)
class Search:
    """What :meth:`Assistant.search` found: the passages, the filters searched with (a
    comune resolved to its ambito), the comune asked for (None without one) and the terms
    the expansions of the text added to the lexical search."""

    hits: list[Hit]
    filters: Filters
    place: str | None = None
    added_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Live:
    """What questions read, made once per index state and swapped in whole (never a new
    analyzer with an old retriever)."""

    state: IndexState | None
    expander: QueryExpander
    analyzer: QueryAnalyzer
    stats: CorpusStats
    retriever: Retriever | None = None  # made on first use (it needs the store)


class Assistant:
    """Ingest a corpus and answer Italian questions about it, with citations.

    Dependencies (embedder, store, answerer) can be injected; by default they are built from
    ``settings``. Models load on first use or in :meth:`warm_up`.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 store: ChunkStore | None = None, answerer: Any = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or make_embedder(self.settings)
        self._store = store
        self._answerer = answerer
        self._lock = threading.RLock()  # held only to swap the state questions read
        expander = QueryExpander()
        self._live = _Live(None, expander, QueryAnalyzer(expander=expander), CorpusStats())
        self.sync = IndexSync(self.settings, lambda: self.store, self._install)
        self.notices = AnswerNotices(Path(self.settings.corpus_dir))

    # ---- components ----------------------------------------------------------------------
    @property
    def store(self) -> ChunkStore:
        if self._store is None:
            self._store = ChunkStore(self.settings, self.embedder)
        return self._store

    @property
    def answerer(self) -> Any:
        if self._answerer is None:
            self._answerer = self._make_answerer()
        return self._answerer

    def _make_answerer(self) -> Any:
        from .scope import ScopeCheck

        extractive = ExtractiveAnswerer(self.settings.max_sentences, self.settings.min_evidence,
                                        stats=lambda: self._live.stats,
                                        embedder=self.settings.embedder,
                                        scope=ScopeCheck(self.embedder))
        if self.settings.answerer == "llm":
            from .llm import LLMAnswerer

            return LLMAnswerer(self.settings, fallback=extractive)
        return extractive

    def warm_up(self) -> None:
        """Load the embedding model and the search indexes now rather than on first use."""
        self.embedder.warm_up()
        self.refresh()
        warm = getattr(self.answerer, "warm_up", None)
        if warm is not None:
            warm()

    # ---- the index state -----------------------------------------------------------------
    @property
    def state(self) -> IndexState:
        """The index state questions read now (lexical index, kept vectors, corpus facts);
        empty before the first :meth:`refresh`. It never changes: a new one replaces it."""
        state = self._live.state
        return state if state is not None else IndexState.empty()

    @property
    def retriever(self) -> Retriever:
        """The retriever over the current state (made once per state)."""
        live = self._live
        if live.retriever is not None and live.retriever.store is self._store:
            return live.retriever
        retriever = Retriever.for_state(self.store, self.embedder,
                                        live.state or IndexState.empty(),
                                        RetrievalOptions.from_settings(self.settings))
        with self._lock:
            if self._live is live:
                self._live = _Live(live.state, live.expander, live.analyzer, live.stats,
                                   retriever)
        return retriever

    @property
    def expander(self) -> QueryExpander:
        return self._live.expander

    @property
    def analyzer(self) -> QueryAnalyzer:
        return self._live.analyzer

    @property
    def stats(self) -> CorpusStats:
        """The corpus' document frequencies, as the answerer reads them."""
        return self._live.stats

    @property
    def places(self) -> dict[str, tuple[str, str]]:
        return self.state.facts.places

    @property
    def region_of(self) -> dict[str, str]:
        return self.state.facts.region_of

    @property
    def corpus_acronyms(self) -> dict[str, str]:
        """The acronyms the corpus defines itself."""
        return self.state.facts.acronyms

    def refresh(self, force: bool = False) -> None:
        """Bring the index state in line with the store (``force``: rebuild it from the
        whole store); see :meth:`IndexSync.refresh`. Questions call it too: another
        process's ingest is seen within ``settings.state_check_seconds``."""
        self.sync.refresh(force)

    def manifest(self) -> Manifest:
        """The manifest file, or for a Chroma server the manifest shared in the server."""
        return self.sync.manifest()

    def _install(self, state: IndexState) -> None:
        """Make ``state`` the one questions use, with what derives from it, at once."""
        settings, facts = self.settings, state.facts
        expander = QueryExpander(
            corpus_acronyms=dict(facts.acronyms) if settings.expand_acronyms else None,
            use_glossary=settings.expand_acronyms, use_everyday=settings.expand_everyday)
        analyzer = QueryAnalyzer(
            facts.places, facts.region_of, expander, facts.df,
            Corrector(facts.df, facts.places) if settings.correct_typos else None,
            answering_config()["generic"])
        live = _Live(state, expander, analyzer, state.facts.stats)
        with self._lock:
            self._live = live
            self.notices.forget()  # contacts are read again after an ingest
            self.store.show_only(state.ids)

    # ---- ingestion -----------------------------------------------------------------------
    def ingest(self, corpus_dir: Path | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Bring the index up to date with the corpus, as the only writer of the index
        (another ingest, in this or another process, waits at most
        ``settings.index_lock_timeout`` seconds, then :class:`IndexBusyError`).

        Questions are never held up: they keep answering from the last consistent state
        while the ingest runs, and switch to the new one at once when it is stored."""
        from .locking import IndexWriteLock

        with IndexWriteLock(Path(self.settings.index_dir), self.settings.index_lock_timeout):
            try:
                report = Ingestor(self.settings, self.store, self.embedder).run(
                    corpus_dir, progress, publish=self.sync.publish)
            finally:
                release = getattr(self.embedder, "close", None)
                if release is not None:  # embedding workers live for one ingest
                    release()
        self.sync.recheck()  # the version decides whether anything is rebuilt
        try:
            self.refresh()
        except OSError as exc:  # e.g. the lexical index could not be saved: a full disk
            from .store import store_failure

            raise store_failure(exc, self.settings) from exc
        return report

    # ---- questions -----------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        question = (question or "").strip()
        if not question:
            raise QuestionError("empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError("too_long", length=len(question),
                                limit=self.settings.max_question_chars)
        return question

    def resolve_places(self, question: str, filters: Filters) -> tuple[list[Filters], str | None]:
        """The places a question names, as filters (see :meth:`QueryAnalyzer.resolve_places`)."""
        return self.analyzer.resolve_places(question, filters)

    def analyze(self, question: str, history: list[Turn] | None = None,
                filters: Filters | None = None) -> Query:
        """The analysed question: checked, with the conversation and filters folded in."""
        question = self.check_question(question)
        self.refresh()
        return self.analyzer.analyze(question, history or [], filters)

    def retrieve(self, query: Query) -> list[Hit]:
        """The passages for an analysed question (and, for a question listing a document's
        headings, the first passage of each such heading)."""
        return self.retriever.passages(query)

    def ask(self, question: str, history: list[Turn] | None = None,
            filters: Filters | None = None) -> Answer:
        """Answer one question (with the conversation so far), citing the passages used."""
        query = self.analyze(question, history, filters)
        if query.language != "it":
            return self.notices.other_language(query)
        hits = self.retrieve(query)
        answer = self.answerer.answer(query.text, hits, list(query.expansions), query.searched,
                                      ignore_terms=set(query.ignore), query=query)
        return self.notices.finish(answer, query)

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[tuple[str, Any]]:
        """``("delta", text)`` events as the answer is written, then ``("final", Answer)``.

        The extractive answerer has no partial output: its answer comes line by line (one
        cited sentence a line) from the final one.
        """
        query = self.analyze(question, history, filters)
        if query.language != "it":
            answer = self.notices.other_language(query)
            yield ("delta", answer.answer)
            yield ("final", answer)
            return
        hits = self.retrieve(query)
        args = (query.text, hits, list(query.expansions), query.searched)
        options = {"ignore_terms": set(query.ignore), "query": query}
        stream = getattr(self.answerer, "answer_stream", None)
        if stream is None:
            answer = self.notices.finish(self.answerer.answer(*args, **options), query)
            for line in answer.answer.splitlines(keepends=True):
                yield ("delta", line)
            yield ("final", answer)
            return
        for kind, value in stream(*args, **options):
            yield (kind, self.notices.finish(value, query) if kind == "final" else value)

    # ---- the operator tools --------------------------------------------------------------
    def search(self, text: str, k: int | None = None, filters: Filters | None = None) -> Search:
        """Passages about ``text``, for a keyword search (no conversation, no typo fixing):
        dense and lexical, the lexical side with the terms of ``text`` and those its
        acronyms and everyday words expand to, the best ``k`` (``settings.top_k``) inside
        ``filters`` (a comune stands for its ambito)."""
        self.refresh()
        filters = filters or Filters()
        scopes, place = self.resolve_places(text, filters) if filters.comune \
            else ([filters], None)
        added = QueryExpander.extra_terms(self.expander.expand(text))
        hits = self.retriever.retrieve(text, k or self.settings.top_k, scopes[0],
                                       lexical_terms=terms(text) + added)
        return Search(hits, scopes[0], place, tuple(added))

    def facets(self) -> Facets:
        """What the interface's filters offer (comuni with their ambito, ambiti, document
        types, years), from the current state's facts: nothing is read from the store.
        Empty when there is no index."""
        try:
            self.refresh()
        except AssistantError:
            return Facets()
        return self.state.facts.facets

    def documents(self) -> list[dict[str, Any]]:
        """Indexed documents with title, pages and chunks (from the manifest)."""
        manifest = self.manifest()
        return [{"source": k, **v} for k, v in sorted(manifest.files.items())]

    def close(self) -> None:
        """Release the store and the embedder's worker processes (both reopen on use)."""
        self._store = None
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()


__all__ = ["Assistant", "Search"]
