"""Clear Italian messages, never tracebacks (issue 15, item 10, ingest side): a full disk,
Chroma killed mid-ingest, bad CLI files, lone surrogates, odd encodings, files that are not
what their extension says, and file names that would break the TSV listing."""

from __future__ import annotations

import errno
import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.app_process import free_port

from assistant import Assistant, HashingEmbedder, Settings, messages
from assistant.cli import main
from assistant.errors import DiskFullError, StoreUnavailableError
from assistant.ingestion.ocr import NoOCR
from assistant.ingestion.pipeline import Ingestor
from assistant.ingestion.readers import decode_text, read_pdf
from assistant.store import ChunkStore, Manifest

import fixtures_bad as fb

CHROMA = Path(sys.executable).with_name("chroma")
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8


def make_corpus(corpus: Path, n: int = 4, version: str = "prima") -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (corpus / f"doc_{i}.txt").write_text(
            f"Il servizio di assistenza domiciliare {i} ({version} versione) aiuta gli "
            f"anziani del comune {i}.\n\nLa domanda si presenta al PUA entro il giorno {i}.",
            encoding="utf-8")


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def indexed(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    code, _out, err = run_cli("ingest", "--corpus", str(corpus), "--index", str(index),
                              "--quiet")
    assert code == 0, err
    return corpus, index


# ---- full disk ---------------------------------------------------------------------------
def test_a_full_disk_mid_ingest_gives_a_message_and_loses_nothing(indexed, monkeypatch):
    corpus, index = indexed
    make_corpus(corpus, version="seconda")
    real_save = Manifest.save
    calls = {"n": 0}

    def full_disk(self):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_save(self)

    monkeypatch.setattr(Manifest, "save", full_disk)
    code, _out, err = run_cli("ingest", "--corpus", str(corpus), "--index", str(index),
                              "--quiet")
    assert code == 1 and "Il disco è pieno" in err and "Traceback" not in err
    monkeypatch.setattr(Manifest, "save", real_save)
    code, out, err = run_cli("ask", "--index", str(index), "--json",
                             "assistenza domiciliare comune 3")
    assert code == 0 and "versione" in out, err  # the index still answers
    code, out, err = run_cli("ingest", "--corpus", str(corpus), "--index", str(index),
                             "--quiet", "--json")
    assert code == 0, err  # and the next ingest, with space again, finishes the job
    bot = Assistant(Settings(index_dir=index, corpus_dir=corpus, embedder="hashing"),
                    embedder=HashingEmbedder())
    texts = [c.text for c in bot.store.get(bot.store.ids())]
    assert all("seconda" in t for t in texts if "versione" in t)
    assert bot.store.count() == sum(d["chunks"] for d in bot.documents())


# ---- Chroma killed mid-ingest ------------------------------------------------------------
def _start_chroma(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chroma did not start")
            time.sleep(0.2)


def test_chroma_killed_mid_ingest_gives_a_message_and_the_next_run_recovers(tmp_path):
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed beside this Python")
    corpus = tmp_path / "corpus"
    make_corpus(corpus, n=6)
    port = free_port()
    server = _start_chroma(tmp_path / "db", port)
    try:
        settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                            embedder="hashing", store="http", chroma_port=port)
        bot = Assistant(settings, embedder=HashingEmbedder())
        bot.ingest()
        make_corpus(corpus, n=6, version="seconda")
        real_add = bot.store.add
        calls = {"n": 0}

        def add_then_kill(nodes, embeddings):
            calls["n"] += 1
            real_add(nodes, embeddings)
            if calls["n"] == 2:
                server.kill()
                server.wait(30)

        bot.store.add = add_then_kill  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailableError) as caught:
            bot.ingest()
        text = messages.for_error(caught.value)
        assert "Chroma" in text and "non risponde" in text and "Traceback" not in text
        server = _start_chroma(tmp_path / "db", port)
        again = Assistant(settings, embedder=HashingEmbedder())
        report = again.ingest()
        assert report.skipped == []
        assert again.store.count() == sum(d["chunks"] for d in again.documents())
        answer = again.ask("Chi aiuta l'assistenza domiciliare 4?")
        assert answer.citations and all("seconda" in c.text for c in answer.citations)
    finally:
        server.kill()
        server.wait(30)


# ---- command-line files and arguments ----------------------------------------------------
@pytest.mark.parametrize("content, expected", [
    (None, "non esiste"),
    (b"\xff\xfe\x00\xd8 domanda", "non è un file di testo UTF-8"),
    ("folder", "è una cartella"),
])
def test_bad_questions_files(indexed, tmp_path, content, expected):
    _corpus, index = indexed
    path = tmp_path / "domande.txt"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, _out, err = run_cli("ask", "--index", str(index), "--questions", str(path))
    assert code == 1 and expected in err and "Traceback" not in err


@pytest.mark.parametrize("content, expected", [
    ('[{"question": "ciao"', "non è JSON valido"),
    ('{"question": "ciao"}', "deve contenere una lista di turni"),
    ('[{"question": 3}]', "deve contenere una lista di turni"),
])
def test_bad_history_files(indexed, tmp_path, content, expected):
    _corpus, index = indexed
    path = tmp_path / "turni.json"
    path.write_text(content, encoding="utf-8")
    code, _out, err = run_cli("ask", "--index", str(index), "--history", str(path), "e poi?")
    assert code == 1 and expected in err


def test_a_lone_surrogate_in_a_question_is_dropped_not_fatal(indexed, monkeypatch):
    """A byte that is not UTF-8 in an argument arrives as a lone surrogate, which the
    real embedders cannot encode: the CLI drops it before the question goes on."""
    from assistant.core import Assistant as Core

    _corpus, index = indexed
    asked: list[str] = []
    real_ask = Core.ask

    def ask(self, question, *args, **kwargs):
        asked.append(question)
        return real_ask(self, question, *args, **kwargs)

    monkeypatch.setattr(Core, "ask", ask)
    code, out, err = run_cli("ask", "--index", str(index), "--json",
                             "assistenza domiciliare \udce9 comune\ud800 2")
    assert code == 0, err
    assert asked == ["assistenza domiciliare  comune 2"]
    asked[0].encode("utf-8")  # what the embedder does with it
    assert "\\udce9" not in out and "Traceback" not in err


def test_documents_tsv_survives_tabs_and_newlines_in_file_names(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus, n=2)
    (corpus / "nome\tcon\ntab.txt").write_text("Il centro diurno apre alle 9.",
                                               encoding="utf-8")
    assert run_cli("ingest", "--corpus", str(corpus), "--index", str(index), "--quiet")[0] == 0
    code, out, _err = run_cli("documents", "--index", str(index))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert all(len(line.split("\t")) == 4 for line in lines)
    assert any(line.startswith("nome\\tcon\\ntab.txt\t") for line in lines)


# ---- files that are not what they say ----------------------------------------------------
def test_utf16_without_bom_is_text():
    text = "Servizio di assistenza domiciliare per anziani e disabili: è gratuito.\n" * 5
    assert decode_text(text.encode("utf-16-le")) == text
    assert decode_text(text.encode("utf-16-be")) == text


def test_an_elf_renamed_pdf_and_a_corrupt_pdf_are_named_for_what_they_are(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "programma.pdf").write_bytes(ELF)
    pdf = fb.text_pdf(["Pagina uno del piano", "Pagina due"])
    (corpus / "rovinato.pdf").write_bytes(
        pdf.replace(b"<< /Length ", b"<< /Filter /FlateDecode /Length "))
    (corpus / "utf16.txt").write_bytes("Il centro diurno di Ruffano apre alle 9.\n"
                                       .encode("utf-16-le"))
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedder="hashing")
    embedder = HashingEmbedder()
    report = Ingestor(settings, ChunkStore(settings, embedder), embedder, ocr=NoOCR()).run()
    reasons = {s.source: s for s in report.skipped}
    assert set(reasons) == {"programma.pdf", "rovinato.pdf"}  # utf16.txt is indexed
    elf = messages.skip_reason(reasons["programma.pdf"].reason, reasons["programma.pdf"].detail)
    assert "programma eseguibile (ELF" in elf and "?" not in elf
    assert reasons["rovinato.pdf"].reason == "corrupt_pdf"
    with pytest.raises(Exception) as caught:
        read_pdf(fb.scanned_pdf(["Scansione"]))
    assert caught.value.reason == "needs_ocr"  # a real scan is still called a scan


def test_a_full_disk_while_a_question_refreshes_keeps_the_state_in_use(tmp_path):
    """Another process's ingest changed the index, and this one's disk is full when it
    saves its new lexical index: questions go on with the state they had."""
    from assistant import IndexState

    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedder="hashing",
                        state_check_seconds=0)
    app = Assistant(settings, embedder=HashingEmbedder())
    app.ingest()
    before = app.ask("assistenza domiciliare comune 2").answer
    writer = Assistant(settings, embedder=HashingEmbedder())
    (corpus / "doc_9.txt").write_text("Il telesoccorso costa 12 euro al mese.",
                                      encoding="utf-8")
    writer.ingest()

    def full_disk(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_save = IndexState.save
    IndexState.save = full_disk  # type: ignore[method-assign]
    try:
        assert app.ask("assistenza domiciliare comune 2").answer == before
        (corpus / "doc_8.txt").write_text("Il centro diurno apre alle 9.", encoding="utf-8")
        with pytest.raises(DiskFullError) as caught:  # the ingest's own switch
            writer.ingest()
        assert "Il disco è pieno" in messages.for_error(caught.value)
    finally:
        IndexState.save = real_save  # type: ignore[method-assign]
