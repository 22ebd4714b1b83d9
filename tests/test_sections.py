"""Questions that ask to list a document's headings get every heading, not only the
retrieved ones."""

from __future__ import annotations

from assistant.answering import ExtractiveAnswerer, listed_sections, listing_topic
from assistant.retrieval import Hit
from assistant.sections import first_chunks_of_sections
from assistant.store import StoredChunk

AREAS = ["Il Sistema di Welfare d'accesso", "Invecchiamento attivo",
         "Le pari opportunità e la conciliazione vita-lavoro"]


def _chunk(i: int, section: str, text: str, source: str = "piano.txt") -> StoredChunk:
    return StoredChunk(f"{source}-{i}", text, {"source": source, "title": "Piano di zona",
                                               "section": section, "ordinal": i})


def _plan() -> list[StoredChunk]:
    chunks = [_chunk(0, "La programmazione", "Il piano è diviso per aree strategiche.")]
    for n, area in enumerate(AREAS):
        chunks.append(_chunk(2 * n + 1, f"L'area strategica: {area}",
                             f"Prima frase dell'area {n}. Seconda frase."))
        chunks.append(_chunk(2 * n + 2, f"L'area strategica: {area}", f"Seguito {n}."))
    chunks.append(_chunk(9, "L'area strategica: Altro", "Altro.", source="altro.txt"))
    return chunks


def test_listing_topic():
    assert listing_topic("Quali sono le aree strategiche del piano di Casarano?") == (
        "aree strategiche", ["are", "strateg"])
    assert listing_topic("Elencami gli obiettivi del progetto") == ("obiettivi", ["obiett"])
    assert listing_topic("Quali sono i servizi per anziani?") is None  # generic: no list
    assert listing_topic("Quali progetti PNRR ha presentato Galatina?") is None
    assert listing_topic("Quali sono gli importi delle aree?") is None  # asks an amount
    assert listing_topic("Come faccio la domanda?") is None


def test_every_heading_of_the_document_is_found_in_order():
    chunks = _plan()
    ids = [c.id for c in reversed(chunks)]  # the index's order is not the document's
    meta = [c.metadata for c in reversed(chunks)]
    assert first_chunks_of_sections(ids, meta, "piano.txt", {"are", "strateg"}) == [
        "piano.txt-1", "piano.txt-3", "piano.txt-5"]
    assert first_chunks_of_sections(ids, meta, "piano.txt", {"obiett"}) == []
    assert first_chunks_of_sections(ids, meta, "piano.txt", set()) == []


def test_the_answer_lists_each_heading_with_its_first_sentence():
    chunks = {c.id: c for c in _plan()}
    hits = [Hit(chunks[i], 1.0) for i in ("piano.txt-5", "piano.txt-0", "piano.txt-1",
                                          "piano.txt-2", "piano.txt-3", "altro.txt-9")]
    question = "Quali sono le aree strategiche del piano?"
    assert [h.chunk.id for h in listed_sections(question, hits)] == [
        "piano.txt-1", "piano.txt-3", "piano.txt-5"]
    answer = ExtractiveAnswerer(min_evidence=0.0).answer(question, hits)
    assert answer.notice.startswith("«Piano di zona» ha 3 sezioni su «aree strategiche»")
    assert answer.answer.splitlines() == [
        f"L'area strategica: {area}: Prima frase dell'area {n}. [{n + 1}]"
        for n, area in enumerate(AREAS)]
    assert [c.source for c in answer.citations] == ["piano.txt"] * 3


def test_one_heading_is_not_a_list():
    chunks = {c.id: c for c in _plan()}
    hits = [Hit(chunks["piano.txt-1"], 1.0), Hit(chunks["piano.txt-0"], 0.5)]
    assert listed_sections("Quali sono le aree strategiche?", hits) == []


def test_the_assistant_lists_every_strategic_area_of_the_plan(fake_assistant):
    """The retrieved passages hold two or three of the seven areas of the Casarano plan;
    the answer lists all seven, each cited to its own section, and every line is grounded."""
    from tests.test_robust_serving import assert_grounded

    answer = fake_assistant.ask("Quali aree strategiche ha il piano di Matino?")
    lines = answer.answer.splitlines()
    assert "7 sezioni" in answer.notice
    assert len(lines) == 7 and len(answer.citations) == 7
    assert all(line.startswith("L’area strategica: ") for line in lines)
    assert {c.source for c in answer.citations} == {"casarano_piano_sociale_2022_2024.txt"}
    assert "Matino" in (answer.notice or "")
    assert_grounded(answer)
