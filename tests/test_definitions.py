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
