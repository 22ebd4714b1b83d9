"""The lexical index is updated after an ingest, not rebuilt: only the chunks that changed
are read from the store and tokenised. The result must be the index a full build over the
same store gives (same rows in the same order, df, scores, acronyms, vector groups), and a
full build must still happen when an update cannot (token lists missing or unreadable,
another analyzer, most of the store changed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, HashingEmbedder, IndexState, Settings
from assistant.ingestion.pipeline import Ingestor
from assistant.retrieval import Filters
from assistant.chunk import Chunk
from assistant.text import terms
from test_chroma_server import chroma_server, http_settings  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["assistenza domiciliare integrata anziani", "PNRR Galatina disabilità",
             "telesoccorso Zollino costo", "punto unico di accesso", "Matino Casarano",
             "servizio civile universale", "parola_assente xyzzy"]
FILTERS = [Filters(), Filters(ambito="Casarano"), Filters(region="Puglia"),
           Filters(source="galatina_pnrr_m5c2.txt"), Filters(year=2021)]
SERVICES = ["trasporto sociale per disabili", "centro diurno per minori",
            "sportello di segretariato sociale", "mediazione familiare",
            "pronto intervento sociale", "servizio civile universale", "asili nido comunali"]


def _filler(index: int, define: str) -> str:
    """A document of about six chunks; ``define`` is a sentence defining an acronym."""
    paragraphs = [define]
    for i in range(36):
        service = SERVICES[(index + i) % len(SERVICES)]
        paragraphs.append(f"Nel {2019 + i % 5} il Comune numero {index} ha finanziato il "
                          f"servizio di {service} con {1000 * (i + index + 1)} euro per "
                          f"{10 + i} utenti, secondo la scheda {index}-{i} del piano.")
    return "Documento di prova\n\n" + "\n\n".join(paragraphs) + "\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Four demo documents and eight fillers (about 90 chunks); two fillers define the
    same acronym differently, so the first one in the store's order wins."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("casarano_piano_sociale_2022_2024.txt", "galatina_pnrr_m5c2.txt",
                 "lista_interventi_piano_nazionale_2021_2023.txt",
                 "marche_por_fse_potenziamento_ats.txt", "catalog.yaml"):
        shutil.copy(ROOT / "corpus" / name, folder / name)
    for i in range(8):
        define = {0: "Il Punto Unico di Accesso (PUA) accoglie i cittadini.",
                  1: "La Porta Unica di Accesso (PUA) accoglie le domande."}.get(
            i, "Nessuna sigla qui.")
        (folder / f"filler_{i}.txt").write_text(_filler(i, define), encoding="utf-8")
    return folder


def _settings(tmp_path: Path, **extra) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                    embedder="hashing", **extra)


def _spy_dump(bot: Assistant) -> list:
    """Record the ``ids`` argument of every ``store.dump`` call (None = the whole store)."""
    calls: list = []
    original = bot.store.dump

    def dump(*args, **kwargs):
        calls.append(kwargs.get("ids"))
        return original(*args, **kwargs)

    bot.store.dump = dump
    return calls


def _fresh_build(bot: Assistant) -> IndexState:
    """A full build over the bot's store, in memory (not seen by :func:`_spy_dump`)."""
    chunks, vectors = type(bot.store).dump(bot.store)
    return IndexState.build(chunks, bot.state.version, vectors)


def _accepted(state: IndexState, filters: Filters):
    return None if filters.is_empty() else state.facts.accepts(filters)


def _dense(state: IndexState, vector, k: int, filters: Filters):
    found = state.vectors.search(vector, k, state.facts.accepts(filters))
    return None if found is None else [(state.ids[row], sim) for row, sim in found]


def assert_same_index(updated: IndexState, built: IndexState) -> None:
    assert updated.ids == built.ids == updated.lexical.ids
    assert updated.facts.meta == built.facts.meta
    assert updated.facts.df == built.facts.df == updated.lexical.df
    assert list(updated.facts.acronyms.items()) == list(built.facts.acronyms.items())
    assert updated.facts.chunk_acronyms == built.facts.chunk_acronyms
    assert (updated.vectors is None) == (built.vectors is None)
    if built.vectors is not None:
        assert np.array_equal(updated.vectors.order, built.vectors.order)
        assert np.array_equal(np.asarray(updated.vectors.vectors), built.vectors.vectors)
    vector = HashingEmbedder().embed_query("assistenza domiciliare")
    for question in QUESTIONS:
        query = terms(question)
        for filters in FILTERS:
            a = updated.lexical.scores(query, _accepted(updated, filters))
            b = built.lexical.scores(query, _accepted(built, filters))
            assert (a is None) == (b is None), question
            if a is not None:  # the same rows with the same scores, to the last bit
                assert np.array_equal(a, b), question
            assert updated.lexical.search(query, 10, _accepted(updated, filters)) == \
                built.lexical.search(query, 10, _accepted(built, filters)), (question, filters)
            if not filters.is_empty():
                assert _dense(updated, vector, 10, filters) == \
                    _dense(built, vector, 10, filters)


def _change_corpus(corpus: Path) -> None:
    """Add a document, change one's text, delete one, and retitle one in the catalog
    (its chunk ids stay, its title and metadata change)."""
    shutil.copy(ROOT / "corpus" / "val_enza_avviso_1_2019_pais.txt", corpus)
    with open(corpus / "galatina_pnrr_m5c2.txt", "a", encoding="utf-8") as fh:
        fh.write("\nIl servizio di telesoccorso del Comune di Zollino costa 12 euro al mese.\n")
    (corpus / "marche_por_fse_potenziamento_ats.txt").unlink()
    catalog = (corpus / "catalog.yaml").read_text(encoding="utf-8")
    catalog = catalog.replace("lista interventi\"", "elenco degli interventi rinnovato\"")
    assert "rinnovato" in catalog
    (corpus / "catalog.yaml").write_text(catalog, encoding="utf-8")


def test_update_after_another_process_ingested_equals_a_full_build(tmp_path, corpus):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    before = len(bot.state.ids)
    assert before > 80 and bot.state.facts.acronyms["PUA"].startswith("Punto")
    _change_corpus(corpus)
    report = Ingestor(bot.settings, bot.store, bot.embedder).run(corpus)  # no refresh
    assert report.files_indexed == 3 and report.files_removed == 1

    reader = Assistant(_settings(tmp_path), embedder=HashingEmbedder())  # another process
    calls = _spy_dump(reader)
    reader.refresh()
    assert None not in calls, "the whole store was read again"
    added = calls[0]
    assert 0 < len(added) < len(reader.state.ids) / 2
    # the retitled document's chunks keep their ids but were read again
    lista = [m for m in reader.state.facts.meta if m["source"].startswith("lista_interventi")]
    assert lista and all("rinnovato" in m["title"] for m in lista)
    assert not any(m["source"].startswith("marche") for m in reader.state.facts.meta)
    assert_same_index(reader.state, _fresh_build(reader))
    # what was saved is the same index, for the next process
    again = IndexState.load(tmp_path / "index" / "bm25")
    assert again is not None and again.version == reader.state.version
    assert_same_index(again, _fresh_build(reader))
    # the answering side sees the new document
    hits = reader.retriever.retrieve("telesoccorso Zollino", 3)
    assert hits and hits[0].chunk.source == "galatina_pnrr_m5c2.txt"


def test_refresh_after_adding_one_file_reads_only_that_file(tmp_path, corpus):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    calls = _spy_dump(bot)
    shutil.copy(ROOT / "corpus" / "val_enza_avviso_1_2019_pais.txt", corpus)
    assert bot.ingest(corpus).files_indexed == 1
    val_enza = [cid for cid, m in zip(bot.state.ids, bot.state.facts.meta)
                if m["source"] == "val_enza_avviso_1_2019_pais.txt"]
    assert len(calls) == 1 and sorted(calls[0]) == sorted(val_enza)
    assert_same_index(bot.state, _fresh_build(bot))
    # nothing changed: nothing is read
    bot.ingest(corpus)
    assert len(calls) == 1
    # the token lists of the previous version are gone from the folder
    folder = tmp_path / "index" / "bm25"
    named = json.loads((folder / "ids.json").read_text())
    assert {p.name for p in folder.glob("tokens-*")} == {
        f"{named['tokens']}.npy", f"{named['tokens']}.offsets.npy",
        f"{named['tokens']}.vocab.json"}
    assert [p.name for p in folder.glob("model*")] == [named["model"]]


def test_removed_documents_leave_terms_acronyms_and_vectors(tmp_path, corpus):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    assert "ADI" in bot.state.facts.acronyms  # defined by the Casarano plan only
    matino = terms("Matino")[0]
    assert matino in bot.state.facts.df
    calls = _spy_dump(bot)
    (corpus / "casarano_piano_sociale_2022_2024.txt").unlink()
    (corpus / "filler_0.txt").unlink()  # the first definition of PUA
    assert bot.ingest(corpus).files_removed == 2
    assert calls == [[]]  # removals read nothing from the store but the ids
    state = bot.state
    assert not any(m["source"].startswith("casarano") for m in state.facts.meta)
    acronyms = state.facts.acronyms
    assert "ADI" not in acronyms and acronyms["PUA"].startswith("Porta")
    assert matino not in state.facts.df and state.lexical.search([matino], 5) == []
    assert state.vectors is not None and len(state.vectors) == len(state.ids)
    assert bot.corpus_acronyms == acronyms  # the derived state follows
    assert_same_index(state, _fresh_build(bot))


def test_update_in_memory_matches_build_over_the_final_chunks():
    """Without a store: a chunk re-added under its id with new metadata replaces the old
    one, and the chunks take the order given."""
    def chunk(cid: str, text: str, title: str = "Piano", ambito: str = "A") -> Chunk:
        return Chunk(cid, text, {"source": f"{ambito}.txt", "title": title,
                                       "ambito": ambito, "section": ""})

    first = [chunk("a", "Assistenza domiciliare integrata (ADI) per anziani"),
             chunk("b", "Trasporto sociale per disabili", ambito="B"),
             chunk("c", "Centro diurno per minori e famiglie"),
             chunk("d", "")]
    rng = np.random.default_rng(1)
    vectors = {c.id: rng.normal(size=8).astype(np.float32) for c in first}
    index = IndexState.build(first, "v1", np.stack([vectors[c.id] for c in first]))
    added = [chunk("c", "Centro diurno per minori e famiglie", title="Nuovo titolo"),
             chunk("e", "Assistenza domiciliare agli anziani (ADI) e telesoccorso",
                   ambito="B")]
    vectors.update({c.id: rng.normal(size=8).astype(np.float32) for c in added})
    final = [added[1], first[1], first[3], added[0]]
    updated = index.updated(added, ["a"], "v2", np.stack([vectors[c.id] for c in added]),
                            order=[c.id for c in final])
    assert updated is not None
    built = IndexState.build(final, "v2", np.stack([vectors[c.id] for c in final]))
    assert_same_index(updated, built)
    acronyms = updated.facts.acronyms
    assert acronyms.get("ADI") != "Assistenza domiciliare integrata"  # "a" left
    assert updated.version == "v2" and updated.facts.meta[3]["title"] == "Nuovo titolo"
    assert index.version == "v1" and len(index.ids) == 4  # the old state is untouched
    # an order naming a chunk that is neither kept nor added (or one twice): refused
    assert updated.updated([], ["b"], "v3", order=["e", "zzz", "d", "c"]) is None
    assert updated.updated([], ["b"], "v3", order=["e", "d", "d"]) is None


@pytest.mark.parametrize("damage", ["corrupt", "missing", "old-format", "analyzer"])
def test_a_damaged_or_old_saved_index_falls_back_to_a_full_build(tmp_path, corpus, damage):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    folder = tmp_path / "index" / "bm25"
    data = json.loads((folder / "ids.json").read_text())
    stem = data["tokens"]
    if damage == "corrupt":
        (folder / f"{stem}.npy").write_bytes(b"not a numpy file")
    elif damage == "missing":
        (folder / f"{stem}.offsets.npy").unlink()
    else:
        if damage == "old-format":  # saved before token lists existed
            for key in ("tokens", "sources", "chunk_acronyms"):
                data.pop(key)
        else:
            data["analyzer"] = "it-0"
        (folder / "ids.json").write_text(json.dumps(data))
    shutil.copy(ROOT / "corpus" / "val_enza_avviso_1_2019_pais.txt", corpus)
    Ingestor(bot.settings, bot.store, bot.embedder).run(corpus)
    reader = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    calls = _spy_dump(reader)
    reader.refresh()
    assert None in calls  # the whole store, once
    assert_same_index(reader.state, _fresh_build(reader))
    assert any(m["source"].startswith("val_enza") for m in reader.state.facts.meta)
    # and the next change is an update again
    (corpus / "filler_3.txt").unlink()
    Ingestor(reader.settings, reader.store, reader.embedder).run(corpus)
    calls.clear()
    reader.sync.recheck()  # as after state_check_seconds
    reader.refresh()
    assert calls == [[]]
    assert_same_index(reader.state, _fresh_build(reader))


def test_most_of_the_store_changed_means_a_full_build(tmp_path, corpus):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    calls = _spy_dump(bot)
    for path in corpus.glob("filler_*.txt"):
        path.write_text(path.read_text(encoding="utf-8") + "\nAggiunta finale.\n",
                        encoding="utf-8")
    (corpus / "casarano_piano_sociale_2022_2024.txt").unlink()
    bot.ingest(corpus)
    assert calls == [None]
    assert_same_index(bot.state, _fresh_build(bot))


def test_store_ids_come_in_the_order_of_the_dump(tmp_path, corpus):
    bot = Assistant(_settings(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    (corpus / "filler_2.txt").unlink()
    shutil.copy(ROOT / "corpus" / "val_enza_avviso_1_2019_pais.txt", corpus)
    bot.ingest(corpus)
    chunks, _ = bot.store.dump(batch=7)
    assert bot.store.ids(batch=11) == [c.id for c in chunks]
    some = [chunks[5].id, "missing", chunks[1].id]
    picked, vectors = bot.store.dump(ids=some, batch=2)
    assert [c.id for c in picked] == [chunks[5].id, chunks[1].id]
    assert vectors is not None and vectors.shape[0] == 2


def test_a_reader_of_a_chroma_server_updates_its_cache_without_reading_everything(
        chroma_server, tmp_path, corpus):  # noqa: F811 - the fixture imported above
    writer = Assistant(http_settings(tmp_path, chroma_server, "w", collection="incremental"),
                       embedder=HashingEmbedder())
    writer.store.reset()
    writer.ingest(corpus)
    reader = Assistant(http_settings(tmp_path, chroma_server, "r", collection="incremental"),
                       embedder=HashingEmbedder())
    reader.refresh()
    calls = _spy_dump(reader)
    _change_corpus(corpus)
    writer.ingest(corpus)
    reader.sync.recheck()  # as after state_check_seconds
    reader.refresh()
    assert calls and None not in calls
    assert_same_index(reader.state, _fresh_build(reader))
    assert reader.state.ids == writer.state.ids
    assert reader.state.facts.df == writer.state.facts.df
