"""Retrieval: dense (Chroma, or the kept vectors inside a filter), lexical (BM25, Italian
stems) and their fusion (scaled scores or reciprocal ranks), with filters by ambito,
comune, document type and year; a question naming several places gets the best passages
of each, and one asking to list a document's headings the first passage of each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunk import Chunk
from .embedding import Embedder
from .sections import listed_section_ids
from .store import ChunkStore
from .text import terms

if TYPE_CHECKING:  # these modules import Filters and Hit from here
    from .config import Settings
    from .corpus_facts import CorpusFacts
    from .index_sync import IndexState
    from .lexical import LexicalIndex
    from .query import Query
    from .vector_cache import VectorCache

FUSIONS = ("rrf", "scores")
# passages of the best document searched for a kind of fact the hits lack
ELSEWHERE_CANDIDATES = 8
MODES = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class Filters:
    """Restrictions on what may be retrieved. ``comune`` is resolved to its ambito."""

    ambito: str | None = None
    comune: str | None = None
    doc_type: str | None = None
    year: int | None = None
    source: str | None = None
    region: str | None = None

    def is_empty(self) -> bool:
        return not any((self.ambito, self.comune, self.doc_type, self.year, self.source,
                        self.region))

    def stored_fields(self) -> list[tuple[str, Any]]:
        """The restrictions as (chunk metadata field, value); ``comune`` is not one of them
        (it must be resolved to its ambito first)."""
        return [(key, getattr(self, key)) for key in ("ambito", "doc_type", "year", "source",
                                                       "region") if getattr(self, key)]

    def where(self) -> dict[str, Any] | None:
        """A Chroma ``where`` clause."""
        clauses = [{key: value} for key, value in self.stored_fields()]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (or None)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float = 0.0




@dataclass(frozen=True)
class RetrievalOptions:
    """How a :class:`Retriever` searches: ``mode`` (``dense``, ``bm25`` or ``hybrid``),
    ``top_k`` passages a question gets, ``candidates`` each side proposes, and the fusion:
    ``"scores"`` mixes each candidate's scaled BM25 score and cosine, ``dense_share`` for
    the dense side; ``"rrf"`` adds reciprocal ranks (``rrf_k``), the dense ranking weighted
    by ``dense_weight``."""

    mode: str = "hybrid"
    top_k: int = 5
    candidates: int = 20
    rrf_k: int = 60
    dense_weight: float = 1.0
    fusion: str = "scores"
    dense_share: float = 0.2

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be dense, bm25 or hybrid, got {self.mode!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be rrf or scores, got {self.fusion!r}")
        if not 0.0 <= self.dense_share <= 1.0:
            raise ValueError(f"dense_share must be between 0 and 1, got {self.dense_share!r}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates!r}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetrievalOptions:
        return cls(settings.retriever, settings.top_k, settings.candidates, settings.rrf_k,
                   settings.dense_weight, settings.fusion, settings.dense_share)


DEFINING_PASSAGES = 2  # passages defining an acronym put first (a list and its repeat)


class Retriever:
    """Top chunks for a question over one index state: the ``store`` (texts, and the dense
    search without a filter), the ``lexical`` index, the corpus ``facts`` (rows, filter
    masks, headings) and the kept ``vectors`` (exact dense search inside a filter, cosines
    of lexical candidates; None: the store's filtered query, and rank fusion)."""

    def __init__(self, store: ChunkStore, embedder: Embedder, lexical: LexicalIndex,
                 facts: CorpusFacts, vectors: VectorCache | None = None,
                 options: RetrievalOptions | None = None) -> None:
        if store is None or embedder is None or lexical is None or facts is None:
            raise ValueError("store, embedder, lexical and facts are required, got "
                             f"{store!r:.40}, {embedder!r:.40}, {lexical!r:.40}, {facts!r:.40}")
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.facts = facts
        self.vectors = vectors
        self.options = options or RetrievalOptions()

    @classmethod
    def for_state(cls, store: ChunkStore, embedder: Embedder, state: IndexState,
                  options: RetrievalOptions | None = None) -> Retriever:
        """A retriever over one :class:`~assistant.index_sync.IndexState`."""
        return cls(store, embedder, state.lexical, state.facts, state.vectors, options)

    def with_options(self, **changes: Any) -> Retriever:
        """The same retriever searching otherwise (``mode="bm25"``, ``fusion="rrf"``...)."""
        return Retriever(self.store, self.embedder, self.lexical, self.facts, self.vectors,
                         replace(self.options, **changes))

    # ---- an analysed question ------------------------------------------------------------
    def passages(self, query: Query) -> list[Hit]:
        """The passages for an analysed question: :meth:`search` over its scopes, first the
        passage that defines an acronym the question asks the meaning of, and for a
        question listing a document's headings the first passage of each such heading."""
        hits = self.search(query.dense_text, list(query.scopes), list(query.lexical_terms))
        first = self.defining(query, hits)
        if first:
            moved = {h.chunk.id for h in first}
            hits = first + [h for h in hits if h.chunk.id not in moved]
        hits = hits + self.asked_elsewhere(query, hits)
        return hits + self.listed_sections(query.searched, hits)

    def asked_elsewhere(self, query: Query, hits: list[Hit]) -> list[Hit]:
        """When the question asks a kind of fact (a deadline, an amount, hours) that no
        retrieved passage holds, the passage of the best-ranked document that holds it and
        best matches the question's words: a notice gives "Chi può fare domanda" and
        "Scadenza" in sections of their own, and a question in a citizen's words reaches the
        first only. Crisp kinds (a phone number, an e-mail, a web address) are not looked
        for: another office's number is not the answer."""
        from . import detectors

        specs = detectors.kinds()
        wanted = [specs[k] for k in detectors.asked(query.focus)[0]
                  if k in specs and not specs[k].crisp and not specs[k].loose]
        if not wanted or not hits or not query.lexical_terms:
            return []
        if all(any(kind.pattern.search(h.chunk.text) for h in hits) for kind in wanted):
            return []
        accepted = self.facts.accepts(Filters(source=hits[0].chunk.source))
        masks = [self.facts.accepts(scope) for scope in query.scopes or (Filters(),)]
        accepted = accepted & np.logical_or.reduce(masks)
        scores = self.lexical.scores(list(query.lexical_terms), accepted)
        have = {h.chunk.id for h in hits}
        ranked = [cid for cid, _ in self.lexical.top(scores, ELSEWHERE_CANDIDATES)
                  if cid not in have]
        for chunk in self.store.get(ranked) if ranked else []:
            if any(kind.pattern.search(chunk.text) for kind in wanted):
                return [Hit(chunk, min(h.score for h in hits))]
        return []

    def defining(self, query: Query, hits: list[Hit]) -> list[Hit]:
        """The passages (within the question's scopes) where the documents define an acronym
        the question asks the meaning of ("Che cosa vuol dire RTD?"), scored as the best
        hit: a list of acronyms ranks low for any one of its names, yet it says what each
        stands for (:func:`assistant.definitions.defining_ids`)."""
        from .definitions import defining_ids

        defined = self.facts.chunk_acronyms or {}
        if not defined or not query.expansions:
            return []
        # every chunk defining it (the question is checked first: most ask something else),
        # then the first two the question's scopes accept
        candidates = defining_ids(query.searched, query.expansions, defined, len(defined))
        if not candidates:
            return []
        masks = [self.facts.accepts(scope) for scope in query.scopes or [Filters()]]
        ids = [cid for cid, row in zip(candidates, self.facts.rows(candidates))
               if row is not None and any(mask[row] for mask in masks)][:DEFINING_PASSAGES]
        if not ids:
            return []
        top = max((h.score for h in hits), default=1.0)
        found = {h.chunk.id: h for h in hits}
        fetched = {c.id: c for c in self.store.get([c for c in ids if c not in found])}
        return [replace(found[cid], score=top) if cid in found else Hit(fetched[cid], top)
                for cid in ids if cid in found or cid in fetched]

    def search(self, text: str, scopes: list[Filters],
               lexical_terms: list[str] | None = None) -> list[Hit]:
        """Top ``top_k`` chunks; for several scopes (a question naming several places) the
        best of each, interleaved."""
        k = self.options.top_k
        if len(scopes) == 1:
            return self.retrieve(text, k, scopes[0], lexical_terms=lexical_terms)
        per_scope = max(2, -(-k // len(scopes)) + 1)
        lists = [self.retrieve(text, per_scope, scope, lexical_terms=lexical_terms)
                 for scope in scopes]
        merged: list[Hit] = []
        seen: set[str] = set()
        for rank in range(per_scope):
            for hits in lists:
                if rank < len(hits) and hits[rank].chunk.id not in seen:
                    seen.add(hits[rank].chunk.id)
                    merged.append(hits[rank])
        return merged[:k + len(scopes)]

    def listed_sections(self, question: str, hits: list[Hit]) -> list[Hit]:
        """For a question asking to list what a document's headings name ("quali sono le
        aree strategiche del piano?"), the first passage of every such heading of the
        best-ranked document that has one, from the corpus facts (the retrieved passages
        hold only a few of them)."""
        from .answering import listing_topic  # answering imports this module

        topic = listing_topic(question)
        if topic is None or not hits:
            return []
        found = listed_section_ids(self.facts.ids, self.facts.meta,
                                   dict.fromkeys(h.chunk.source for h in hits), set(topic[1]))
        have = {h.chunk.id for h in hits}
        missing = [cid for cid in found if cid not in have]
        return [Hit(chunk, 0.0) for chunk in self.store.get(missing)] if missing else []

    # ---- one scope -----------------------------------------------------------------------
    def retrieve(self, question: str, k: int, filters: Filters | None = None,
                 extra_terms: list[str] | None = None,
                 lexical_terms: list[str] | None = None) -> list[Hit]:
        """Top ``k`` chunks for ``question`` (embedded for the dense side). The lexical
        side searches ``lexical_terms`` when given, else the question's terms plus
        ``extra_terms``."""
        filters = filters or Filters()
        options = self.options
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        vector = None
        if options.mode in ("dense", "hybrid"):
            vector = self.embedder.embed_query(question)
            dense = self._dense(vector, filters)
        all_lexical = None
        if options.mode in ("bm25", "hybrid"):
            query_terms = lexical_terms if lexical_terms is not None else \
                terms(question) + list(extra_terms or [])
            accepted = None if filters.is_empty() else self.facts.accepts(filters)
            all_lexical = self.lexical.scores(query_terms, accepted)
            lexical = self.lexical.top(all_lexical, options.candidates)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense)}
        bm25_rank = {cid: r for r, (cid, _) in enumerate(lexical)}
        dense_scores = dict(dense)
        scores = None
        if options.fusion == "scores" and dense and lexical and vector is not None:
            scores = self._score_fusion(vector, dense_scores, dict(lexical), all_lexical)
        if scores is None:  # reciprocal-rank fusion (or a single retriever)
            scores = {}
            for rank_map, weight in ((dense_rank, options.dense_weight), (bm25_rank, 1.0)):
                for cid, rank in rank_map.items():
                    scores[cid] = scores.get(cid, 0.0) + weight / (options.rrf_k + rank + 1)
        order = sorted(scores, key=lambda cid: -scores[cid])[:k]
        # every hit carries its cosine, whichever retriever found it: the answer model reads
        # it (lexical-only search embeds the question for this, from the kept vectors)
        missing = [cid for cid in order if cid not in dense_scores]
        if missing and self.embedder is not None:
            if vector is None:
                vector = self.embedder.embed_query(question)
            dense_scores.update(self.cosines(vector, missing) or {})
        # texts and metadata only for the chunks kept
        known = {c.id: c for c in self.store.get(order)}
        return [Hit(_scored(known[cid], dense_scores.get(cid, 0.0)), scores[cid],
                     dense_rank.get(cid), bm25_rank.get(cid), dense_scores.get(cid, 0.0))
                for cid in order if cid in known]

    def cosines(self, vector: np.ndarray, ids: list[str]) -> dict[str, float] | None:
        """Cosine of ``vector`` with each chunk of ``ids`` the state holds, from the kept
        vectors; None when there are none (or of another dimension)."""
        if self.vectors is None:
            return None
        found = [(cid, row) for cid, row in zip(ids, self.facts.rows(ids)) if row is not None]
        sims = self.vectors.cosines(vector, [row for _, row in found])
        if sims is None:
            return None
        return {cid: float(sim) for (cid, _), sim in zip(found, sims)}

    def _score_fusion(self, vector: np.ndarray, dense: dict[str, float],
                      lexical: dict[str, float],
                      all_lexical: np.ndarray | None) -> dict[str, float] | None:
        """Both retrievers' scores for every candidate either of them found (the BM25 score
        of a dense candidate, the cosine of a lexical one), each scaled to 0..1 over the
        candidates and mixed, ``dense_share`` for the dense side. Unlike rank fusion, a
        chunk that one retriever ranks far ahead is not overtaken by one that both rank
        middling. None when no vectors are kept (rank fusion then)."""
        union = list(dict.fromkeys([*lexical, *dense]))
        missing = [cid for cid in union if cid not in dense]
        cosines = self.cosines(vector, missing) if missing else {}
        if cosines is None:
            return None
        cos = {**cosines, **dense}
        bm = dict(lexical)
        for cid, row in zip(union, self.facts.rows(union)):
            if cid not in bm:
                bm[cid] = float(all_lexical[row]) if all_lexical is not None \
                    and row is not None else 0.0
        top_bm = max(bm.values()) or 1.0
        low = min(cos.get(c, 0.0) for c in union)
        span = (max(cos.get(c, 0.0) for c in union) - low) or 1.0
        share = self.options.dense_share
        return {cid: (1 - share) * bm[cid] / top_bm + share * (cos.get(cid, low) - low) / span
                for cid in union}

    def _dense(self, vector: np.ndarray, filters: Filters) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the nearest chunks: the store's HNSW index without a
        filter; with one, an exact scan of the rows the filter accepts (kept vectors and
        corpus facts), or the store's filtered query when no vectors are kept."""
        where = None
        if not filters.is_empty():
            found = self.vectors.search(vector, self.options.candidates,
                                        self.facts.accepts(filters)) \
                if self.vectors is not None else None
            if found is not None:
                ids = self.facts.ids
                return [(ids[row], sim) for row, sim in found]
            where = filters.where()
        return self.store.search_ids(vector, self.options.candidates, where)


def _scored(chunk: Chunk, score: float) -> Chunk:
    return chunk if chunk.score == score else Chunk(chunk.id, chunk.text,
                                                          chunk.metadata, score)
