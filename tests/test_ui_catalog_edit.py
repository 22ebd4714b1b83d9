"""Operators edit a document's catalog entry from the interface (issue 13 item 6)."""

from __future__ import annotations

from assistant.ui.callbacks import UIController


def test_an_operator_edits_a_document_entry_and_it_is_reindexed(fake_assistant):
    ui = UIController(fake_assistant)
    source = "galatina_pnrr_m5c2.txt"
    entry = ui.document_entry(source)
    assert entry["title"] and entry["ambito"] == "Galatina"
    fields = dict(entry, title="Schede PNRR dell'Ambito di Galatina (rivedute)",
                  comuni="Galatina, Aradeo, Cutrofiano, Neviano, Sogliano Cavour, Soleto")
    status = ui.edit_document(source, fields)
    assert "salvata" in status
    titles = {d["source"]: d.get("title") for d in fake_assistant.documents()}
    assert titles[source] == "Schede PNRR dell'Ambito di Galatina (rivedute)"
    # a comune newly listed for the ambito now leads to its documents
    answer = fake_assistant.ask("Quali progetti PNRR ci sono a Cutrofiano?")
    assert not answer.refused
    assert answer.citations[0].source == source
    assert "(rivedute)" in answer.citations[0].title


def test_a_bad_value_is_explained_and_changes_nothing(fake_assistant):
    ui = UIController(fake_assistant)
    source = "galatina_pnrr_m5c2.txt"
    before = ui.document_entry(source)
    status = ui.edit_document(source, dict(before, year="duemila"))
    assert "errore" in status
    assert ui.document_entry(source) == before
    assert "errore" in ui.edit_document("non-esiste.txt", before)
