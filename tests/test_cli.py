"""The CLI contract, on a corpus folder other than the demo one (hashing embedder)."""

from __future__ import annotations

import io
import json

from assistant.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def make_corpus(tmp_path):
    corpus = tmp_path / "altri"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "trasporti.md").write_text(
        "# Trasporto sociale\n\nIl Comune di Borgoverde garantisce il trasporto sociale "
        "gratuito per persone anziane con ISEE inferiore a 9.000 euro.\n", encoding="utf-8")
    (corpus / "mense.html").write_text(
        "<html><body><h1>Mensa sociale</h1><p>La mensa sociale di Borgoverde è aperta "
        "dal lunedì al venerdì.</p><script>rubare()</script></body></html>", encoding="utf-8")
    return corpus


def test_ingest_then_ask_json_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    corpus = make_corpus(tmp_path)
    index = tmp_path / "idx"
    code, out, _ = run("ingest", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert code == 0 and "2 file indicizzati" in out

    questions = tmp_path / "q.txt"
    questions.write_text("Il trasporto sociale è gratuito a Borgoverde? con che ISEE?\n"
                         "\n"
                         "Chi ha vinto il campionato di calcio?\n", encoding="utf-8")
    code, out, _ = run("ask", "--index", str(index), "--json", "--questions", str(questions))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["question"] for r in rows] == [
        "Il trasporto sociale è gratuito a Borgoverde? con che ISEE?",
        "Chi ha vinto il campionato di calcio?"]
    first, second = rows
    assert set(first) == {"question", "answer", "refused", "notice", "citations"}
    assert first["refused"] is False and "9.000 euro" in first["answer"]
    cit = first["citations"][0]
    assert set(cit) == {"id", "source", "title", "page", "section", "text"}
    assert cit["source"] == "sub/trasporti.md" and cit["page"] is None
    assert cit["section"] == "Trasporto sociale" and cit["id"] == 1
    assert second["refused"] is True and second["citations"] == []


def test_ask_readable_output_and_single_json(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    corpus = make_corpus(tmp_path)
    index = tmp_path / "idx"
    run("ingest", "--corpus", str(corpus), "--index", str(index), "--quiet")
    code, out, _ = run("ask", "--index", str(index), "quando è aperta la mensa sociale?")
    assert code == 0 and "Fonti:" in out and "mense.html" in out and "rubare" not in out
    code, out, _ = run("ask", "--index", str(index), "--json", "mensa sociale")
    assert json.loads(out)["citations"][0]["source"] == "mense.html"


def test_missing_index_gives_italian_message(tmp_path):
    code, _, err = run("ask", "--index", str(tmp_path / "nessuno"), "domanda")
    assert code == 1 and "Non trovo un indice" in err


def test_bad_setting_gives_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_RETRIEVER", "magico")
    code, _, err = run("ask", "--index", str(tmp_path), "domanda")
    assert code == 1 and "retriever" in err


def test_history_file_for_follow_ups(tmp_path, monkeypatch, demo_corpus):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    index = tmp_path / "idx"
    run("ingest", "--corpus", str(demo_corpus), "--index", str(index), "--quiet")
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"question": "Quali progetti PNRR ha Galatina per la "
                                    "disabilità?", "answer": ""}]), encoding="utf-8")
    code, out, _ = run("ask", "--index", str(index), "--json", "--history", str(history),
                       "e quanto vale?")
    assert "715.000" in json.loads(out)["answer"]
