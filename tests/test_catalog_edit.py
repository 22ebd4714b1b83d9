"""Catalog edits (issue 13.6) and contacts per ambito (issue 13.10)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
import yaml

from assistant import messages
from assistant.errors import ConfigError
from assistant.ingestion.catalog import CATALOG_NAME, Catalog, Contact, update_document

GALATINA = "galatina_pnrr_m5c2.txt"


def test_update_one_entry_keeps_the_others_and_the_header(demo_corpus):
    before = (demo_corpus / CATALOG_NAME).read_text(encoding="utf-8")
    info = update_document(demo_corpus, GALATINA, {
        "title": "  Progetti PNRR di Galatina ", "type": "scheda PNRR", "ambito": "Galatina",
        "comuni": "Galatina, Aradeo, Galatina", "year": "2023"})
    assert (info.title, info.year, info.comuni) == ("Progetti PNRR di Galatina", 2023,
                                                     ("Galatina", "Aradeo"))
    after = (demo_corpus / CATALOG_NAME).read_text(encoding="utf-8")
    assert after.startswith(before.split("documents:")[0])   # the comment lines stay
    catalog = Catalog.load(demo_corpus)
    assert catalog.info(GALATINA).province == "LE"            # fields not edited stay
    old = Catalog.parse(before)
    for source, entry in old.entries.items():
        if source != GALATINA:
            assert catalog.info(source) == entry
    assert not list(demo_corpus.glob(".catalog-*.tmp"))


def test_new_entry_and_clearing_fields(demo_corpus):
    (demo_corpus / "nuovo.txt").write_text("Servizi per anziani a Matino.", encoding="utf-8")
    info = update_document(demo_corpus, "nuovo.txt", {"title": "Nuovo", "ambito": "Casarano",
                                                      "comuni": ["Matino"]})
    assert info.ambito == "Casarano" and info.doc_type == "documento"
    info = update_document(demo_corpus, "nuovo.txt", {"ambito": "", "comuni": [], "year": None})
    assert info.ambito is None and info.comuni == ()
    raw = yaml.safe_load((demo_corpus / CATALOG_NAME).read_text(encoding="utf-8"))
    assert raw["documents"]["nuovo.txt"] == {"title": "Nuovo"}


@pytest.mark.parametrize("changes, words", [
    ({"title": ""}, "titolo non può essere vuoto"),
    ({"title": "x" * 301}, "troppo lungo"),
    ({"title": "riga\nnuova"}, "a capo"),
    ({"year": "duemila"}, "anno deve essere un numero"),
    ({"year": 1492}, "anno deve essere un numero"),
    ({"comuni": 42}, "elenco di nomi"),
    ({"comuni": [f"C{i}" for i in range(201)]}, "troppi comuni"),
    ({"colore": "blu"}, "campo sconosciuto «colore»"),
])
def test_bad_values_are_refused_in_italian_and_change_nothing(demo_corpus, changes, words):
    before = (demo_corpus / CATALOG_NAME).read_bytes()
    with pytest.raises(ConfigError) as caught:
        update_document(demo_corpus, GALATINA, changes)
    assert words in caught.value.detail and words in messages.for_error(caught.value)
    assert (demo_corpus / CATALOG_NAME).read_bytes() == before


@pytest.mark.parametrize("source", ["../fuori.txt", "/etc/passwd", ".nascosto.txt",
                                    CATALOG_NAME, "", "assente.txt"])
def test_bad_documents_are_refused(demo_corpus, source):
    with pytest.raises(ConfigError, match="documento"):
        update_document(demo_corpus, source, {"title": "x"})


def test_a_broken_catalog_is_not_overwritten(demo_corpus):
    (demo_corpus / CATALOG_NAME).write_text("documents: [rotto", encoding="utf-8")
    with pytest.raises(ConfigError):
        update_document(demo_corpus, GALATINA, {"title": "x"})
    assert (demo_corpus / CATALOG_NAME).read_text(encoding="utf-8") == "documents: [rotto"


def test_a_failed_write_leaves_the_old_file(demo_corpus, monkeypatch):
    before = (demo_corpus / CATALOG_NAME).read_bytes()

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ConfigError, match="non si può scrivere"):
        update_document(demo_corpus, GALATINA, {"title": "x"})
    assert (demo_corpus / CATALOG_NAME).read_bytes() == before
    assert not list(demo_corpus.glob(".catalog-*.tmp"))


def _edit(corpus: str, index: int) -> None:
    update_document(Path(corpus), f"doc{index}.txt", {"title": f"Documento {index}"})


def test_concurrent_editors_lose_no_edit(demo_corpus):
    for i in range(6):
        (demo_corpus / f"doc{i}.txt").write_text("testo", encoding="utf-8")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_edit, args=(str(demo_corpus), i)) for i in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    catalog = Catalog.load(demo_corpus)
    assert {catalog.info(f"doc{i}.txt").title for i in range(6)} == \
        {f"Documento {i}" for i in range(6)}
    assert len(catalog.entries) == 11


def test_an_edit_reindexes_the_document(fake_assistant):
    corpus = Path(fake_assistant.settings.corpus_dir)
    update_document(corpus, GALATINA, {"title": "Progetti PNRR di Galatina"})
    report = fake_assistant.ingest(corpus)
    assert report.files_indexed == 1 and report.files_unchanged == 4
    titles = {c.metadata.get("title") for c in fake_assistant.store.iter_chunks(include_text=False)
              if c.source == GALATINA}
    assert titles == {"Progetti PNRR di Galatina"}


# ---- contatti ----------------------------------------------------------------------------
CONTACTS = """
documents:
  a.txt: {title: A, ambito: Casarano, comuni: [Casarano, Matino]}
contatti:
  Casarano:
    nome: "PUA dell'Ambito di Casarano"
    indirizzo: "Via Esempio 1, Casarano"
    telefono: "0833 000000"
    orari: "lun-ven 9-12"
  Galatina: {}
"""


def test_contacts_per_ambito():
    catalog = Catalog.parse(CONTACTS)
    contact = catalog.contacts_for("casarano")
    assert contact == Contact("Casarano", "PUA dell'Ambito di Casarano",
                              "Via Esempio 1, Casarano", "0833 000000", "lun-ven 9-12")
    assert catalog.contacts_for_comune("Matino") == contact
    assert catalog.contacts_for("Galatina") is None            # empty: no contact
    assert catalog.contacts_for(None) is None and catalog.contacts_for_comune("Roma") is None


@pytest.mark.parametrize("raw, words", [
    ("contatti: {Casarano: {fax: '0833'}}", "campo sconosciuto «fax»"),
    ("contatti: {Casarano: {telefono: 'chiamate <script>'}}", "caratteri non ammessi"),
    ("contatti: {Casarano: 'PUA'}", "vanno scritti come campi"),
])
def test_bad_contacts_are_refused_in_italian(raw, words):
    with pytest.raises(ConfigError, match=words):
        Catalog.parse("documents: {}\n" + raw)


def test_contacts_survive_an_edit(demo_corpus):
    (demo_corpus / CATALOG_NAME).write_text(CONTACTS, encoding="utf-8")
    (demo_corpus / "a.txt").write_text("testo", encoding="utf-8")
    update_document(demo_corpus, "a.txt", {"year": 2024})
    catalog = Catalog.load(demo_corpus)
    assert catalog.contacts_for("Casarano").telefono == "0833 000000"
    assert catalog.info("a.txt").year == 2024


def test_demo_catalog_loads_with_no_invented_contacts():
    catalog = Catalog.load(Path(__file__).resolve().parent.parent / "corpus")
    assert len(catalog.entries) == 5 and catalog.contacts == {}
