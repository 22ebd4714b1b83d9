"""Masking of personal data before feedback is stored (assistant/privacy.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.privacy import PersonalDataMasker, mask_personal_data


@pytest.mark.parametrize("text, secret, label", [
    ("Sono RSSMRA85T10A562S, che aiuti ho?", "RSSMRA85T10A562S", "[CODICE FISCALE]"),
    ("cf rssmra85t10a562s in minuscolo", "rssmra85t10a562s", "[CODICE FISCALE]"),
    ("omocodia: RSSMRA85T10A56NS", "RSSMRA85T10A56NS", "[CODICE FISCALE]"),
    ("scrivetemi a mario.rossi+pua@example.it grazie", "mario.rossi+pua@example.it", "[E-MAIL]"),
    ("IBAN IT60 X054 2811 1010 0000 0123 456 per il contributo", "X054 2811", "[IBAN]"),
    ("IBAN IT60X0542811101000000123456.", "IT60X0542811101000000123456", "[IBAN]"),
    ("chiamatemi al 333 123 4567", "123 4567", "[TELEFONO]"),
    ("cell. +39 347-1234567", "1234567", "[TELEFONO]"),
    ("tel 0833/501111 ore ufficio", "501111", "[TELEFONO]"),
    ("tel (0833) 501111", "501111", "[TELEFONO]"),
    ("numero 3471234567", "3471234567", "[TELEFONO]"),
    ("dall'estero 0044 20 7946 0958", "7946", "[TELEFONO]"),
])
def test_personal_data_is_masked(text, secret, label):
    masked = mask_personal_data(text)
    assert secret not in masked
    assert label in masked


@pytest.mark.parametrize("text", [
    "Il Piano 2022-2024 vale € 1.250.000,00 e 320.000.000 euro in tutto.",
    "DGR n. 868 del 17/06/2003 e Avviso 1/2019 PaIS, scadenza 17.06.2003.",
    "Investimento M5C2 1.1.1 per 211.500 euro; 42.869,00 al mese.",
    "Che servizi ci sono per gli anziani a Matino?",
    "ISEE sotto 9.360 euro, FSE 2014/20, priorità 9.1 del POR.",
])
def test_ordinary_text_is_left_alone(text):
    assert mask_personal_data(text) == text


def test_empty_and_none():
    assert mask_personal_data("") == ""
    assert mask_personal_data(None) == ""


def test_custom_labels_and_validation():
    masker = PersonalDataMasker({"codice_fiscale": "<cf>", "iban": "<iban>", "email": "<mail>",
                                 "phone": "<tel>"})
    assert masker.mask("a@b.it 3331234567") == "<mail> <tel>"
    with pytest.raises(ValueError, match="phone"):
        PersonalDataMasker({"codice_fiscale": "x", "iban": "y", "email": "z"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("0123456789"), min_size=7, max_size=7),
       st.sampled_from([" ", "", "-", "."]), st.sampled_from(["328", "347", "393"]))
def test_any_mobile_number_is_masked(digits, sep, prefix):
    number = prefix + sep + "".join(digits[:3]) + sep + "".join(digits[3:])
    masked = mask_personal_data(f"Il mio numero è {number}, grazie")
    assert masked == "Il mio numero è [TELEFONO], grazie"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=999),
       st.integers(min_value=0, max_value=999))
def test_amounts_with_thousands_separators_survive(a, b, c):
    amount = f"{a}.{b:03d}.{c:03d}"
    text = f"Finanziamento di € {amount},00 e di {amount} euro"
    assert mask_personal_data(text) == text
