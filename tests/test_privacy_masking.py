"""The personal-data masker (assistant/privacy.py): phones in Italian and Swiss forms, person
names after the phrases that introduce them (and not elsewhere), linear time on hostile input
of a megabyte, and the log filter."""

from __future__ import annotations

import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.privacy import (NameDetector, NameWords, PersonalDataLogFilter,
                               PersonalDataMasker, clip, field_limit, mask_personal_data)

NAME = "[NOME]"
PHONE = "[TELEFONO]"


# ---- phones --------------------------------------------------------------------------------
@pytest.mark.parametrize("number", [
    "3331234567", "333 123 4567", "+39 333 1234567", "0039 347-1234567", "+393331234567",
    "0833 501111", "+39 0833 501111",
    "+41 79 123 45 67", "0041 79 123 45 67", "+41791234567", "079 123 45 67",
    "+41 (0)44 668 18 00", "044 668 18 00", "+41 44 668 18 00",
])
def test_italian_and_swiss_phone_numbers_are_masked(number):
    masked = mask_personal_data(f"Mi chiami al {number} dopo le 17.")
    assert masked == f"Mi chiami al {PHONE} dopo le 17."


@pytest.mark.parametrize("text, secret, label", [
    ("«e-mail mario.rossi@examp» nei documenti", "mario.rossi", "[E-MAIL]"),
    ("«e-mail mario.rossi@» nei documenti", "mario.rossi", "[E-MAIL]"),
    ("«codice fiscale RSSMRA80A0» nei documenti", "RSSMRA80", "[CODICE FISCALE]"),
    ("codice fiscale RSSMRA80A01H5…", "RSSMRA80", "[CODICE FISCALE]"),
])
def test_values_cut_by_a_quote_are_masked_too(text, secret, label):
    """A refusal quotes the question cut short: what is left of a value is masked."""
    masked = mask_personal_data(text)
    assert secret not in masked and label in masked


# ---- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, name, expected", [
    ("Mi chiamo Mario Rossi e abito a Matino.", "Mario Rossi",
     "Mi chiamo [NOME] e abito a Matino."),
    ("mi chiamo anna bianchi, vorrei sapere del SAD", "anna bianchi",
     "mi chiamo [NOME], vorrei sapere del SAD"),
    ("Buongiorno, sono Maria De Luca di Casarano.", "Maria De Luca",
     "Buongiorno, sono [NOME] di Casarano."),
    ("Mio padre Giuseppe Verdi ha 84 anni.", "Giuseppe Verdi", "Mio padre [NOME] ha 84 anni."),
    ("mia madre, Lucia, vive sola", "Lucia", "mia madre, [NOME], vive sola"),
    ("mio figlio Luca ha la 104", "Luca", "mio figlio [NOME] ha la 104"),
    ("La signora Bianchi chiede il SAD", "Bianchi", "La signora [NOME] chiede il SAD"),
    ("il sig. D'Amico ha chiamato", "D'Amico", "il sig. [NOME] ha chiamato"),
    ("Ho parlato con Maria Rossi del PUA.", "Maria Rossi", "Ho parlato con [NOME] del PUA."),
    ("Il mio nome è Nicolò Bianchi.", "Nicolò Bianchi", "Il mio nome è [NOME]."),
    ("Il sottoscritto Mario Rossi dichiara", "Mario Rossi", "Il sottoscritto [NOME] dichiara"),
])
def test_names_after_an_introducing_phrase_are_masked(text, name, expected):
    masked = mask_personal_data(text)
    assert name not in masked
    assert masked == expected


@pytest.mark.parametrize("text", [
    "Sono residente a Matino e ho 80 anni: che aiuti ci sono?",
    "sono residente a Matino",
    "Sono anziano e vivo solo a Casarano.",
    "Gli interventi sono Assistenza domiciliare e Centro diurno.",
    "Mia madre ha 85 anni e abita a Casarano.",
    "Mio padre non è più autosufficiente.",
    "Il sindaco di Matino e il Comune di Galatina.",
    "La sede è in via Giuseppe Mazzini 3, Casarano.",
    "Istituto Maria Ausiliatrice e parrocchia San Giovanni Bosco.",
    "Sono previsti due gruppi appartamento a Galatina.",
    "Mio padre Sindaco",  # a role, not a name
    "Sono felice del servizio.",
    "Documento firmato digitalmente dal dirigente.",
    "Il sottoscritto dichiara di essere residente a Matino.",
    "Mi presento domani allo sportello.",
    "Mio figlio Autistico frequenta il centro diurno.",
    "Il progetto di Vittorio Veneto.",
    "Si elimina la coppia “codice CIG, procedura” con il cestino.",
    "Le voci «PROCEDURA» e «responsabilmente» restano.",
    "Il PUA di Casarano riceve il martedì.",
])
def test_ordinary_words_after_those_phrases_are_kept(text):
    assert mask_personal_data(text) == text


def test_the_detector_words_are_data():
    words = NameWords.from_data({"naming_phrases": ["io mi chiamo"], "relation_phrases": [],
                                 "weak_phrases": [], "first_names": ["zeno"], "not_names": [],
                                 "place_words": []})
    masker = PersonalDataMasker(names=NameDetector(words))
    assert masker.mask("io mi chiamo Zeno Cosini") == "io mi chiamo [NOME]"
    assert masker.mask("Mi chiamo Mario Rossi") == "Mi chiamo Mario Rossi"  # not in this list
    with pytest.raises(ValueError, match="first_names"):
        NameWords.from_data({"naming_phrases": []})
    with pytest.raises(ValueError, match="NameDetector"):
        PersonalDataMasker(names="mi chiamo")


# ---- linear time ---------------------------------------------------------------------------
# What a backtracking pattern chokes on: long runs without the character that would end the
# match (the old e-mail pattern took 15 s on 60,000 letters), repeated near-misses of every
# kind, and the phrases of the name detector over and over.
HOSTILE = {
    "letters": "a" * 1_000_000,
    "word characters then a dot": ("a" * 999 + ".") * 1000,
    "at signs": "a@" * 500_000,
    "dotted e-mail prefix": "a.a@" * 250_000,
    "digits": "1" * 1_000_000,
    "dotted digits": "1." * 500_000,
    "plus digit": "+1" * 500_000,
    "spaced digits": "3 " * 500_000,
    "iban heads": "IT60 " * 200_000,
    "codice fiscale heads": "RSSMRA80A01" * 90_000,
    "naming phrases": "mi chiamo " * 100_000,
    "weak phrases": "sono Maria " * 90_000,
    "first names": "Maria " * 170_000,
    "relation phrases": "mio padre Giuseppe " * 52_000,
    "places": "via Maria Rossi " * 62_000,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_megabyte_of_hostile_text_is_masked_in_linear_time(kind):
    text = HOSTILE[kind]
    assert len(text) >= 900_000
    start = time.perf_counter()
    mask_personal_data(text)
    assert time.perf_counter() - start < 2.0  # generous: about 0.1-0.5 s on one core


_ALPHABET = st.sampled_from(list("aA1 .@+-_,:()/\n3") + ["mi chiamo ", "sono ", "Maria ",
                                                         "IT60", "+41 ", "0833 "])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ALPHABET, min_size=1, max_size=40))
def test_any_repeated_pattern_is_masked_in_linear_time(pieces):
    unit = "".join(pieces)
    text = (unit * (1 + 200_000 // max(1, len(unit))))[:200_000]
    start = time.perf_counter()
    masked = mask_personal_data(text)
    assert time.perf_counter() - start < 2.0
    assert isinstance(masked, str)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=400))
def test_masking_is_total_and_stable(text):
    once = mask_personal_data(text)
    assert mask_personal_data(once) == once  # labels are never masked again


def test_field_limits_and_clip():
    assert field_limit("comment") >= 500 and field_limit("question") >= 1000
    assert clip("x" * 10, 5) == "xxxx…" and clip("abc", 5) == "abc" and clip(None, 5) == ""
    with pytest.raises(ValueError, match="nothing"):
        field_limit("nothing")


# ---- logs ----------------------------------------------------------------------------------
def test_the_log_filter_masks_message_arguments_and_traceback():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "chat failed for %r",
                               ("Mi chiamo Mario Rossi, tel 3331234567",), None)
    try:
        raise ValueError("cf RSSMRA80A01H501U in the error")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert PersonalDataLogFilter().filter(record) is True
    text = logging.Formatter().format(record)
    for secret in ("Mario", "Rossi", "3331234567", "RSSMRA80A01H501U"):
        assert secret not in text
    assert "[NOME]" in text and "[TELEFONO]" in text and "[CODICE FISCALE]" in text
    assert "ValueError" in text  # the traceback itself is kept
