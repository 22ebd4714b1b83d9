"""The assistant: one object that ingests, retrieves and answers, for CLI, UI and evals."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .answer_features import CorpusStats
from .answering import Answer, ExtractiveAnswerer, listing_topic
from .config import Settings
from .conversation import Turn
from .embedding import Embedder, make_embedder
from .errors import AssistantError, IndexMissingError, QuestionError
from .expansion import QueryExpander
from .ingestion.pipeline import MANIFEST_NAME, Ingestor, IngestReport
from .passages import config as answering_config
from .query import Query, QueryAnalyzer
from .retrieval import BM25_SUBDIR, BM25Index, Filters, Hit, Retriever, place_names
from .sections import listed_section_ids
from .store import ChunkStore, Manifest
from .text import normalize
from .typos import Corrector

log = logging.getLogger(__name__)


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
        self._refresh_lock = threading.Lock()  # one thread builds a new state at a time
        self._bm25 = BM25Index(Path(self.settings.index_dir) / BM25_SUBDIR)
        self._state_version: str | None = None
        self._checked_at: float | None = None
        self.places: dict[str, tuple[str, str]] = {}
        self.region_of: dict[str, str] = {}
        self.expander = QueryExpander()
        self.stats = CorpusStats()
        self._catalog: Any = None
        self.analyzer = QueryAnalyzer(expander=self.expander)

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
                                        stats=lambda: self.stats,
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
                    corpus_dir, progress, publish=self._publish)
            finally:
                release = getattr(self.embedder, "close", None)
                if release is not None:  # embedding workers live for one ingest
                    release()
        self._checked_at = None  # the version decides whether anything is rebuilt
        try:
            self.refresh()
        except OSError as exc:  # e.g. the lexical index could not be saved: a full disk
            from .store import store_failure

            raise store_failure(exc, self.settings) from exc
        return report

    def manifest(self) -> Manifest:
        """The manifest file, or for a Chroma server the manifest shared in the server."""
        if self.settings.store == "http":
            return self.store.manifest(Path(self.settings.index_dir) / MANIFEST_NAME)
        return Manifest(Path(self.settings.index_dir) / MANIFEST_NAME)

    def refresh(self, force: bool = False) -> None:
        """Bring the lexical index, places and acronyms in line with the store.

        Questions call it too: the check (manifest and store count) runs at most every
        ``settings.state_check_seconds``, so another process's ingest is seen within that
        time. While an ingest writes the index (the write lock is held) the state in use
        stays: it is the last consistent one. A new state is built aside and swapped in at
        once; a question that finds another thread building it answers from the current
        state instead of waiting (only the first state, or ``force``, is waited for).
        """
        from .locking import IndexWriteLock

        now = time.monotonic()
        with self._lock:
            if not force and self._checked_at is not None and self._state_version \
                    is not None and now - self._checked_at < self.settings.state_check_seconds:
                return
            self._checked_at = now
        waited = force or self._state_version is None
        if not self._refresh_lock.acquire(blocking=waited):
            return  # another thread builds the new state: answer from the current one
        try:
            with IndexWriteLock(Path(self.settings.index_dir)).reading() as free:
                if not free and self._state_version is not None and not force:
                    return  # an ingest is writing: keep the last consistent state
                manifest, version = self._read_version()
                if not force and version == self._state_version:
                    return
                try:
                    bm25 = self._state_for(version, manifest, force, writing=not free)
                except OSError as exc:  # the new state could not be saved: a full disk
                    from .store import store_failure

                    if self._state_version is None:
                        raise store_failure(exc, self.settings) from exc
                    log.warning("index state kept, the new one could not be built: %s", exc)
                    return
                self._swap(bm25, bm25.version or version)
        finally:
            self._refresh_lock.release()

    def _read_version(self) -> tuple[Manifest | None, str]:
        """The manifest (None for a Chroma server) and the version of the stored state."""
        if self.settings.store == "http":  # shared by every process (docs/scale-out.md)
            return None, f"{self.store.get_state().get('version')}:{self.store.count()}"
        manifest = self.manifest()
        if not manifest.path.exists() \
                and not (Path(self.settings.index_dir) / "chroma").exists():
            raise IndexMissingError(str(self.settings.index_dir),
                                    index=str(self.settings.index_dir))
        return manifest, f"{manifest.version()}:{self.store.count()}"

    def _state_for(self, version: str, manifest: Manifest | None, force: bool,
                   writing: bool = False) -> BM25Index:
        """A lexical index for ``version``, built aside (the one in use is not touched):
        the saved one when it is that version, or while an ingest is ``writing`` (it is
        the last consistent state); else the saved one updated, or a full build. Only
        the chunks of documents the manifest lists, and not retired, are indexed."""
        bm25 = BM25Index(Path(self.settings.index_dir) / BM25_SUBDIR)
        loaded = not force and bm25.load()
        if loaded and (bm25.version == version or writing):
            if bm25.vectors is None and bm25.ids:
                # a lexical index saved without the vectors of exact filtered search
                vectors = self.store.vectors(bm25.ids)
                if vectors is not None and not writing:
                    bm25.attach_vectors(vectors)
            return bm25
        # the manifest is read before the store: a document that changes after it
        # changes its entry, so the next refresh sees it
        manifest = manifest if manifest is not None else self.manifest()
        sources = _source_hashes(manifest)
        retired = _retired_ids(manifest)
        if not (loaded and self._update_lexical(version, sources, bm25, retired)):
            chunks, vectors = _listed_only(*self.store.dump(), sources, retired)
            bm25.build(chunks, version, vectors, sources)
        return bm25

    def _publish(self) -> None:
        """Called by the ingest once every new version is stored and before the old ones
        are deleted: build the new state (retired chunks and deleted documents left out)
        and switch to it. Its version is the one the store will have once the ingest
        has deleted them, so the refresh after the ingest finds nothing to do."""
        manifest = self.manifest()
        chunks = sum(int(entry.get("chunks", 0)) for entry in manifest.files.values())
        if self.settings.store == "http":
            version = f"{self.store.get_state().get('version')}:{chunks}"
        else:
            version = f"{manifest.version()}:{chunks}"
        with self._refresh_lock:
            if version != self._state_version:  # an ingest that changed nothing: no work
                self._swap(self._state_for(version, manifest, force=False), version)

    def _swap(self, bm25: BM25Index, version: str) -> None:
        """Make ``bm25`` the state questions use, with what derives from it, at once."""
        with self._lock:
            self._bm25 = bm25
            self._derive_state()
            self._state_version = version
            self.store.show_only(bm25.ids)

    def _update_lexical(self, version: str, sources: dict[str, str],
                        bm25: BM25Index | None = None,
                        retired: frozenset[str] = frozenset()) -> bool:
        """Bring ``bm25`` (a loaded lexical index, by default the one in use) up to date
        by dropping and adding only the chunks that changed: those whose id is new or
        gone, and every chunk of a document whose manifest entry changed (a catalog edit
        keeps the chunk ids but changes title and metadata) or that the manifest does not
        list (perhaps being written). ``retired`` chunks (old versions still stored) are
        left out. False when a full build is needed instead: the index was saved without
        what an update needs, or more than half of the store changed."""
        bm25 = bm25 if bm25 is not None else self._bm25
        if bm25.sources is None or bm25.chunk_acronyms is None or not bm25.ids:
            return False
        # chunks of documents the manifest no longer lists (deleted, not yet out of the
        # store) are known by their metadata: left out without being read again
        unlisted = {cid for cid, meta in zip(bm25.ids, bm25.meta)
                    if meta.get("source") not in sources}
        order = [cid for cid in self.store.ids() if cid not in retired and cid not in unlisted]
        present = set(order)
        dirty = {s for s in set(bm25.sources) | set(sources)
                 if bm25.sources.get(s) != sources.get(s)}
        removed = [cid for cid, meta in zip(bm25.ids, bm25.meta)
                   if cid not in present or meta.get("source") in dirty
                   or meta.get("source") not in sources]
        kept = set(bm25.ids).difference(removed)
        added = [cid for cid in order if cid not in kept]
        if len(removed) + len(added) > max(len(order), len(bm25.ids)) // 2:
            return False
        chunks, vectors = self.store.dump(ids=added)
        if len(chunks) != len(added):  # deleted meanwhile: the store is being written
            return False
        listed, vectors = _listed_only(chunks, vectors, sources, frozenset())
        if len(listed) != len(chunks):  # chunks of a document not (or no longer) listed
            dropped = {c.id for c in chunks}.difference(c.id for c in listed)
            order = [cid for cid in order if cid not in dropped]
        try:
            return bm25.update(listed, removed, version, vectors, order=order,
                               sources=sources)
        except (OSError, ValueError, IndexError) as exc:  # unreadable token lists
            log.warning("lexical index rebuilt in full: %s", exc)
            return False

    def _derive_state(self) -> None:
        self._catalog = None  # contacts are read again after an ingest
        self.stats = CorpusStats(self._bm25.df, max(1, len(self._bm25.ids)))
        from .datafiles import load_yaml

        aliases = load_yaml("search.yaml").get("place_aliases", {})
        self.places = place_names(self._bm25.meta, aliases)
        self.region_of = {str(m.get("ambito")): str(m.get("region")) for m in self._bm25.meta
                          if m.get("ambito") and m.get("region")}
        # acronyms the corpus defines itself, found when the lexical index was built
        defined = dict(self._bm25.acronyms)
        self.corpus_acronyms = defined
        self.expander = QueryExpander(
            corpus_acronyms=defined if self.settings.expand_acronyms else None,
            use_glossary=self.settings.expand_acronyms,
            use_everyday=self.settings.expand_everyday)
        self.analyzer = QueryAnalyzer(
            self.places, self.region_of, self.expander, self._bm25.df,
            Corrector(self._bm25.df, self.places) if self.settings.correct_typos else None,
            answering_config()["generic"])

    @property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self._bm25, self.settings.retriever,
                         self.settings.candidates, self.settings.rrf_k,
                         self.settings.dense_weight, self.settings.fusion,
                         self.settings.dense_share)

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

    def ask(self, question: str, history: list[Turn] | None = None,
            filters: Filters | None = None) -> Answer:
        """Answer one question (with the conversation so far), citing the passages used."""
        query, hits = self._prepare(question, history, filters)
        if query.language != "it":
            return self._other_language(query)
        answer = self.answerer.answer(query.text, hits, list(query.expansions), query.searched,
                                      ignore_terms=set(query.ignore), query=query)
        return self._finish(answer, query)

    @staticmethod
    def _other_language(query: Query) -> Answer:
        from .language import refusal_text

        return Answer(query.text, refusal_text(query.language), True,
                      searched_question=query.searched)

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[tuple[str, Any]]:
        """``("delta", text)`` events as the answer is written, then ``("final", Answer)``.

        The extractive answerer has no partial output: its answer comes line by line (one
        cited sentence a line) from the final one.
        """
        query, hits = self._prepare(question, history, filters)
        if query.language != "it":
            answer = self._other_language(query)
            yield ("delta", answer.answer)
            yield ("final", answer)
            return
        args = (query.text, hits, list(query.expansions), query.searched)
        options = {"ignore_terms": set(query.ignore), "query": query}
        stream = getattr(self.answerer, "answer_stream", None)
        if stream is None:
            answer = self._finish(self.answerer.answer(*args, **options), query)
            for line in answer.answer.splitlines(keepends=True):
                yield ("delta", line)
            yield ("final", answer)
            return
        for kind, value in stream(*args, **options):
            yield (kind, self._finish(value, query) if kind == "final" else value)

    def _prepare(self, question: str, history: list[Turn] | None,
                 filters: Filters | None) -> tuple[Query, list[Hit]]:
        query = self.analyze(question, history, filters)
        return query, self.retrieve(query) if query.language == "it" else []

    def retrieve(self, query: Query) -> list[Hit]:
        """The passages for an analysed question (and, for a question listing a document's
        headings, the first passage of each such heading)."""
        hits = self._retrieve(query.dense_text, list(query.scopes), list(query.lexical_terms))
        return hits + self._listed_sections(query.searched, hits)

    def _contact(self, query: Query) -> str:
        """The contacts the catalog gives for the question's ambito, as one line."""
        from .ingestion.catalog import Catalog

        ambito = query.filters.ambito
        if not ambito:
            return ""
        if self._catalog is None:  # read once per state of the index
            try:
                self._catalog = Catalog.load(Path(self.settings.corpus_dir))
            except AssistantError:
                self._catalog = Catalog()
        contact = self._catalog.contacts_for(ambito)
        if contact is None or contact.is_empty():
            return ""
        return ", ".join(getattr(contact, k) for k in contact.FIELDS if getattr(contact, k))

    def _finish(self, answer: Answer, query: Query) -> Answer:
        """Notices the answer owes the citizen: which ambito's plan answers a question about
        a comune, and which words were read as typos of the documents' words."""
        from . import messages

        notes = []
        ambito = query.filters.ambito
        if query.place and not answer.refused and ambito \
                and normalize(ambito) != normalize(query.place):
            notes.append(messages.text("answer_intro_place", comune=query.place.title(),
                                       ambito=ambito))
        if answer.refused:
            contact = self._contact(query)
            if contact:
                answer.answer += " " + messages.text("refusal_contact", contact=contact)
        if query.corrections:
            notes.append(messages.text("typo_notice", words=", ".join(
                f"«{fixed}»" for _typed, fixed in query.corrections)))
        if notes:
            answer.notice = " ".join(notes + ([answer.notice] if answer.notice else []))
        return answer

    def _listed_sections(self, question: str, hits: list[Hit]) -> list[Hit]:
        """For a question asking to list what a document's headings name ("quali sono le
        aree strategiche del piano?"), the first passage of every such heading of the
        best-ranked document that has one, from the lexical index's metadata (the
        retrieved passages hold only a few of them)."""
        topic = listing_topic(question)
        if topic is None or not hits:
            return []
        found = listed_section_ids(self._bm25.ids, self._bm25.meta,
                                   dict.fromkeys(h.chunk.source for h in hits), set(topic[1]))
        have = {h.chunk.id for h in hits}
        missing = [cid for cid in found if cid not in have]
        return [Hit(chunk, 0.0) for chunk in self.store.get(missing)] if missing else []

    def _retrieve(self, query: str, scopes: list[Filters], lexical: list[str]) -> list[Hit]:
        """Top chunks; a question naming several places gets the best of each, interleaved."""
        k = self.settings.top_k
        if len(scopes) == 1:
            return self.retriever.retrieve(query, k, scopes[0], lexical_terms=lexical)
        per_scope = max(2, -(-k // len(scopes)) + 1)
        lists = [self.retriever.retrieve(query, per_scope, scope, lexical_terms=lexical)
                 for scope in scopes]
        merged: list[Hit] = []
        seen: set[str] = set()
        for rank in range(per_scope):
            for hits in lists:
                if rank < len(hits) and hits[rank].chunk.id not in seen:
                    seen.add(hits[rank].chunk.id)
                    merged.append(hits[rank])
        return merged[:k + len(scopes)]

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


def _source_hashes(manifest: Manifest) -> dict[str, str]:
    """Each document the manifest lists, with what changes when it is indexed again."""
    return {source: f"{entry.get('hash')}:{entry.get('chunks')}"
            for source, entry in manifest.files.items()}


def _retired_ids(manifest: Manifest) -> frozenset[str]:
    """Chunks of old versions an ingest keeps until its switch (manifest ``retired``)."""
    return frozenset(cid for entry in manifest.files.values()
                     for cid in entry.get("retired") or ())


def _listed_only(chunks: list, vectors: Any, sources: dict[str, str],
                 retired: frozenset[str]) -> tuple[list, Any]:
    """``chunks`` (and their rows of ``vectors``) of documents in ``sources`` and not
    ``retired``: what a consistent state holds."""
    keep = [i for i, chunk in enumerate(chunks)
            if chunk.source in sources and chunk.id not in retired]
    if len(keep) == len(chunks):
        return chunks, vectors
    return [chunks[i] for i in keep], (None if vectors is None else vectors[keep])


__all__ = ["Assistant"]
