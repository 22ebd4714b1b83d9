"""The assistant: one object that ingests, retrieves and answers, for CLI, UI and evals."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .answering import Answer, EvidenceScorer, ExtractiveAnswerer, listing_topic
from .config import Settings
from .conversation import Turn, answer_hint, rewrite
from .embedding import Embedder, make_embedder
from .errors import IndexMissingError, QuestionError
from .expansion import QueryExpander
from .ingestion.pipeline import MANIFEST_NAME, IngestReport, Ingestor
from .retrieval import BM25_SUBDIR, BM25Index, Filters, Hit, Retriever, place_names
from .sections import listed_section_ids
from .store import ChunkStore, Manifest
from .text import normalize, stem, terms, words

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
        self._lock = threading.RLock()
        self._bm25 = BM25Index(Path(self.settings.index_dir) / BM25_SUBDIR)
        self._state_version: str | None = None
        self._checked_at: float | None = None
        self.places: dict[str, tuple[str, str]] = {}
        self.region_of: dict[str, str] = {}
        self.expander = QueryExpander()
        self.scorer = EvidenceScorer()

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
        extractive = ExtractiveAnswerer(self.settings.max_sentences, self.settings.min_evidence,
                                        self.scorer)
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
        with self._lock:
            try:
                report = Ingestor(self.settings, self.store, self.embedder).run(corpus_dir,
                                                                                progress)
            finally:
                release = getattr(self.embedder, "close", None)
                if release is not None:  # embedding workers live for one ingest
                    release()
            self._checked_at = None  # the version decides whether anything is rebuilt
            self.refresh()
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
        time.
        """
        with self._lock:
            now = time.monotonic()
            if not force and self._checked_at is not None \
                    and now - self._checked_at < self.settings.state_check_seconds:
                return
            manifest: Manifest | None = None
            if self.settings.store == "http":  # shared by every process (docs/scale-out.md)
                version = f"{self.store.get_state().get('version')}:{self.store.count()}"
            else:
                manifest = self.manifest()
                if not manifest.path.exists() \
                        and not (Path(self.settings.index_dir) / "chroma").exists():
                    raise IndexMissingError(str(self.settings.index_dir),
                                            index=str(self.settings.index_dir))
                version = f"{manifest.version()}:{self.store.count()}"
            self._checked_at = now
            if not force and version == self._state_version:
                return
            loaded = not force and self._bm25.load()
            if not loaded or self._bm25.version != version:
                # the manifest is read before the store: a document that changes after it
                # changes its entry, so the next refresh sees it
                sources = _source_hashes(manifest if manifest is not None
                                         else self.manifest())
                if not (loaded and self._update_lexical(version, sources)):
                    chunks, vectors = self.store.dump()
                    self._bm25.build(chunks, version, vectors, sources)
            elif self._bm25.vectors is None and self._bm25.ids:
                # a lexical index saved without the vectors of exact filtered search
                vectors = self.store.vectors(self._bm25.ids)
                if vectors is not None:
                    self._bm25.attach_vectors(vectors)
            self._derive_state()
            self._state_version = version

    def _update_lexical(self, version: str, sources: dict[str, str]) -> bool:
        """Bring the loaded lexical index up to date by dropping and adding only the
        chunks that changed: those whose id is new or gone, and every chunk of a document
        whose manifest entry changed (a catalog edit keeps the chunk ids but changes title
        and metadata) or that the manifest does not list (perhaps being written). False
        when a full build is needed instead: the index was saved without what an update
        needs, or more than half of the store changed."""
        bm25 = self._bm25
        if bm25.sources is None or bm25.chunk_acronyms is None or not bm25.ids:
            return False
        order = self.store.ids()
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
        try:
            return bm25.update(chunks, removed, version, vectors, order=order,
                               sources=sources)
        except (OSError, ValueError, IndexError) as exc:  # unreadable token lists
            log.warning("lexical index rebuilt in full: %s", exc)
            return False

    def _derive_state(self) -> None:
        self.scorer.df = self._bm25.df
        self.scorer.n = max(1, len(self._bm25.ids))
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
        """The places a question names, as filters: one filter per distinct place.

        A comune stands for its ambito ("Matino" -> Casarano); a region for its documents;
        a region that contains a named ambito adds nothing. Explicit filters win. Returns the
        filters to search with (several for a question comparing places) and the name of
        the place when there is exactly one.
        """
        base = dict(doc_type=filters.doc_type, year=filters.year)
        if filters.ambito or filters.source or filters.region:
            return [filters], None
        if filters.comune:
            field, value = self.places.get(normalize(filters.comune), ("ambito", filters.comune))
            return [Filters(**{field: value}, **base)], filters.comune
        text = " " + " ".join(words(question)) + " "
        found: dict[tuple[str, str], str] = {}
        for name, target in self.places.items():
            if f" {' '.join(words(name))} " in text:
                if target not in found or len(name) > len(found[target]):
                    found[target] = name
        ambito_regions = {self.region_of.get(v) for f, v in found if f == "ambito"}
        targets = [t for t in found if not (t[0] == "region" and t[1] in ambito_regions)]
        if not targets:
            return [filters], None
        chosen = [Filters(**{field: value}, **base) for field, value in targets]
        name = found[targets[0]] if len(targets) == 1 else None
        return chosen, name

    def ask(self, question: str, history: list[Turn] | None = None,
            filters: Filters | None = None) -> Answer:
        """Answer one question (with the conversation so far), citing the passages used."""
        prepared = self._prepare(question, history, filters)
        answer = self.answerer.answer(prepared.question, prepared.hits, prepared.expansions,
                                      prepared.searched, ignore_terms=prepared.ignore)
        return self._finish(answer, prepared)

    def ask_stream(self, question: str, history: list[Turn] | None = None,
                   filters: Filters | None = None) -> Iterator[tuple[str, Any]]:
        """``("delta", text)`` events as the answer is written, then ``("final", Answer)``.

        The extractive answerer has no partial output: its answer comes sentence by
        sentence from the final one. Show the final answer in place of the deltas.
        """
        prepared = self._prepare(question, history, filters)
        stream = getattr(self.answerer, "answer_stream", None)
        if stream is None:
            answer = self._finish(self.answerer.answer(
                prepared.question, prepared.hits, prepared.expansions, prepared.searched,
                ignore_terms=prepared.ignore), prepared)
            for line in answer.answer.splitlines(keepends=True):
                yield ("delta", line)
            yield ("final", answer)
            return
        for kind, value in stream(prepared.question, prepared.hits, prepared.expansions,
                                  prepared.searched, ignore_terms=prepared.ignore):
            yield (kind, self._finish(value, prepared) if kind == "final" else value)

    def _prepare(self, question: str, history: list[Turn] | None,
                 filters: Filters | None) -> "_Prepared":
        question = self.check_question(question)
        self.refresh()
        searched = rewrite(question, history or [], self.places)
        scopes, place = self.resolve_places(searched, filters or Filters())
        expansions = self.expander.expand(searched)
        extra = QueryExpander.extra_terms(expansions)
        dense_query = searched
        if expansions:
            dense_query += " (" + "; ".join(p for e in expansions for p in e.added[:2]) + ")"
        hint = answer_hint(question, history or [], self.places)
        if hint:
            dense_query += " " + hint
            extra += terms(hint)
        # the citizen's own words count twice against the words an expansion adds
        lexical = terms(searched) * 2 + extra
        hits = self._retrieve(dense_query, scopes, lexical)
        hits += self._listed_sections(searched, hits)
        ignore = {stem(w) for w in words(place)} if place else set()
        return _Prepared(question, searched, scopes[0], place, expansions, hits, ignore)

    @staticmethod
    def _finish(answer: Answer, prepared: "_Prepared") -> Answer:
        ambito = prepared.filters.ambito
        if prepared.place and not answer.refused and ambito \
                and normalize(ambito) != normalize(prepared.place):
            note = _place_note(prepared.place, ambito)
            answer.notice = f"{note} {answer.notice}" if answer.notice else note
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


@dataclass
class _Prepared:
    question: str
    searched: str
    filters: Filters
    place: str | None
    expansions: list
    hits: list[Hit]
    ignore: set[str]


def _place_note(comune: str, ambito: str) -> str:
    from . import messages

    return messages.text("answer_intro_place", comune=comune.title(), ambito=ambito)


__all__ = ["Assistant"]
