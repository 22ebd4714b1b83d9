"""Questions asking what an acronym means bring the passage that defines it."""

from assistant.definitions import defining_ids
from assistant.expansion import Expansion

DEFINED = {"c1": {"PUA": "Punto Unico di Accesso"},
           "c7": {"RTD": "Responsabile per la Transizione al Digitale", "OT": "Obiettivo tematico"},
           "c9": {"RTD": "Responsabile per la Transizione al Digitale"},
           "c12": {"RTD": "Responsabile per la Transizione al Digitale"}}
RTD = Expansion("RTD", "Responsabile per la Transizione al Digitale",
                ("Responsabile per la Transizione al Digitale",))


def test_a_definition_question_gets_the_first_defining_chunks():
    assert defining_ids("Che cosa vuol dire RTD?", [RTD], DEFINED) == ["c7", "c9"]
    assert defining_ids("Cosa significa R.T.D.?", [RTD], DEFINED, limit=1) == ["c7"]


def test_other_questions_and_everyday_expansions_get_none():
    assert defining_ids("Chi nomina il RTD nel comune?", [RTD], DEFINED) == []
    badante = Expansion("badante", "assistente familiare", ("assistente familiare",))
    assert defining_ids("Che cosa vuol dire badante?", [badante], DEFINED) == []
    assert defining_ids("Che cosa vuol dire RTD?", [RTD], {}) == []
    assert defining_ids("Che cosa vuol dire RTD?", [RTD], DEFINED, limit=0) == []


def test_the_list_of_acronyms_answers_what_an_acronym_means(fake_settings, tmp_path):
    from assistant import Assistant, HashingEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # a long list (every entry spells its acronym) in which RTD is one name among many
    entries = [f"{w[0].upper()}{v[0].upper()}{z[0].upper()} {w} {v} {z}"
               for w in ("Banca", "Centro", "Fondo", "Gruppo", "Nucleo", "Ufficio")
               for v in ("Locale", "Operativo", "Misto", "Agile")
               for z in ("Esterno", "Interno")]
    (corpus / "acronimi.txt").write_text(
        "Elenco degli acronimi\n\n" + " ".join(entries[:20]) + " RTD Responsabile per la "
        "Transizione al Digitale " + " ".join(entries[20:]) + "\n", encoding="utf-8")
    (corpus / "piano.txt").write_text("Governare la trasformazione digitale\n\n" + "\n\n".join(
        f"Nel {2020 + i} il RTD, responsabile della transizione digitale del comune, "
        "coordina la transizione al digitale dell'ente; il RTD è responsabile verso il "
        "sindaco." for i in range(8)) + "\n", encoding="utf-8")
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    bot.ingest(corpus)
    query = bot.analyze("Che cosa vuol dire RTD?")
    hits = bot.retrieve(query)
    assert hits[0].chunk.source == "acronimi.txt"
    assert hits[0].score == max(h.score for h in hits)
    assert len({h.chunk.id for h in hits}) == len(hits)  # moved first, not repeated
    assert not bot.ask("Che cosa vuol dire RTD?").refused
    # a question that does not ask what it means gets no such passage first
    other = bot.retrieve(bot.analyze("Con chi lavora il RTD nel comune?"))
    assert other[0].chunk.source == "piano.txt"
