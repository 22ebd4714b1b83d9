"""The operator app's behaviour without a browser: feedback and unanswered-question exports,
document removal (kept aside, index updated), and the role check of every callback of the
built operator Blocks (an "operatore" cannot change documents, even calling directly)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.ui.auth import OperatorLogin, UserFile
from assistant.ui.callbacks import UIController
from assistant.ui.feedback import FeedbackRecord, FeedbackStore
from assistant.ui.server import SESSION_COOKIE, LoginAccess

CASARANO = "casarano_piano_sociale_2022_2024.txt"


@pytest.fixture
def ui(fake_assistant, tmp_path) -> UIController:
    return UIController(fake_assistant, feedback=FeedbackStore(tmp_path / "fb.sqlite3"),
                        export_dir=tmp_path / "export")


def test_feedback_export_is_a_csv_of_every_rating(ui):
    assert ui.export_feedback() == (None, "Non ci sono ancora valutazioni da esportare.")
    ui.feedback.add(FeedbackRecord("down", "mail a@b.it per il SAD?", "risposta"))
    path, status = ui.export_feedback()
    assert status == "1 valutazioni nel file CSV."
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert rows[0]["rating"] == "down" and "a@b.it" not in rows[0]["question"]


def test_unanswered_questions_report_and_csv(ui):
    assert ui.export_unanswered()[0] is None
    refusal = "Non ho trovato informazioni su questo nei documenti disponibili."
    for question in ("Orari dello sportello per il bonus affitto?",
                     "Bonus affitto: a chi rivolgersi?"):
        ui.feedback.add(FeedbackRecord("down", question, refusal))
    path, status = ui.export_unanswered()
    assert status.startswith("2 domande")
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("\ufeff") and ";" in text.splitlines()[0]
    assert "affitto" in ui.unanswered_html()


def test_document_removal_needs_the_name_again_keeps_the_file_and_updates_the_index(ui):
    corpus = Path(ui.assistant.settings.corpus_dir)
    assert "riscriva" in ui.delete_document(CASARANO, "")
    assert "indicizzato" in ui.delete_document("../../etc/passwd", "../../etc/passwd")
    assert (corpus / CASARANO).is_file()
    html = ui.delete_document(CASARANO, CASARANO)
    assert "tolto dall&#x27;indice" in html
    assert not (corpus / CASARANO).exists()
    kept = list((corpus.parent / f"{corpus.name}-eliminati").glob(f"*/{CASARANO}"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert CASARANO not in [row[1] for row in ui.document_rows()]


def _fn(demo, name):
    return next(b.fn for b in demo.fns.values() if getattr(b.fn, "__name__", "") == name)


def test_every_operator_callback_checks_the_role(ui, tmp_path):
    from assistant.ui.operator import build_operator_app

    users = UserFile(tmp_path / "op.yaml", rounds=4)
    users.add("bruno", "password-di-bruno", "operatore")
    users.add("anna", "password-di-anna", "amministratore")
    access = LoginAccess(OperatorLogin(users))
    demo = build_operator_app(ui.assistant, ui, access)

    def request(name, password):
        token = access.login.login(name, password).token
        return SimpleNamespace(cookies={SESSION_COOKIE: token}, headers={})

    bruno, anna = request("bruno", "password-di-bruno"), request("anna", "password-di-anna")
    nobody = SimpleNamespace(cookies={SESSION_COOKIE: "falso"}, headers={})
    progress = lambda *a, **k: None  # noqa: E731
    corpus = Path(ui.assistant.settings.corpus_dir)
    new = tmp_path / "nuovo.txt"
    new.write_text("Sportello Arcobaleno per le famiglie.", encoding="utf-8")
    upload, delete = _fn(demo, "on_upload"), _fn(demo, "on_delete")
    search, export = _fn(demo, "on_search"), _fn(demo, "on_export")
    assert "non permette" in upload([str(new)], False, bruno, progress)[0]
    assert "non permette" in delete(CASARANO, CASARANO, bruno, progress)[0]
    assert not (corpus / "nuovo.txt").exists() and (corpus / CASARANO).exists()
    assert "non permette" in search("assistenza", "", "", "", "", "", nobody)[2]
    assert "non permette" in export(nobody)[1]
    assert search("assistenza domiciliare", "", "", "", "", "", bruno)[2].endswith("risultati")
    assert "nuovo.txt" in upload([str(new)], False, anna, progress)[0]
    assert (corpus / "nuovo.txt").is_file()
    again = tmp_path / "ancora" / "nuovo.txt"
    again.parent.mkdir()
    again.write_text("Sportello Arcobaleno, nuovi orari.", encoding="utf-8")
    assert "nuovo.txt" in upload([str(again)], False, anna, progress)[0]
    assert (corpus / "nuovo.txt").read_text(encoding="utf-8").startswith("Sportello Arcobaleno per")
    upload([str(again)], True, anna, progress)
    assert (corpus / "nuovo.txt").read_text(encoding="utf-8").endswith("nuovi orari.")
