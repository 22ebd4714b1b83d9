"""The web interface's behaviour, without a browser: callbacks, HTML, documents, uploads,
feedback. A module-wide assistant over the demo corpus (hashing embedder) serves the
read-only tests; tests that change the corpus use the ``fake_assistant`` fixture."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant import Answer, Assistant, Citation, HashingEmbedder, Settings, messages
from assistant.expansion import Expansion
from assistant.ui import render
from assistant.ui.callbacks import (UIController, corpus_facets, liked_rating, make_filters,
                                    plain_history, to_turns)
from assistant.ui.documents import DocumentLibrary, Uploader, find_passage, safe_filename
from assistant.ui.feedback import FeedbackRecord, FeedbackStore, main as feedback_main
from assistant.ui.services import Vocabulary, rows_to_csv

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "corpus"
CASARANO = "casarano_piano_sociale_2022_2024.txt"
CASARANO_TITLE = "Piano sociale di zona 2022-2024 dell'Ambito di Casarano (LeccePrima)"


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("ui")
    shutil.copytree(DEMO, folder / "corpus")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index",
                        embedder="hashing")
    assistant = Assistant(settings, embedder=HashingEmbedder())
    assistant.ingest()
    return assistant


@pytest.fixture
def ui(bot, tmp_path) -> UIController:
    return UIController(bot, feedback=FeedbackStore(tmp_path / "fb.sqlite3"),
                        export_dir=tmp_path / "export")


def run_chat(ui, question, history=None, records=None, **filters):
    steps = list(ui.chat(question, history or [], records or [], **filters))
    return steps


# ---- rendering -----------------------------------------------------------------------------
def _answer(text="Il servizio <script>alert(1)</script> c'è [1]", notice=None) -> Answer:
    citation = Citation(id=1, source="doc <b>.txt", title="Titolo <img src=x onerror=alert(1)>",
                        page=None, section="Area «anziani»",
                        text="Prima frase.\n\nIl servizio <script>alert(1)</script> c'è."
                             "\n\nAltro.",
                        highlights=["Il servizio <script>alert(1)</script> c'è."],
                        ambito="Casarano", chunk_id="abc123")
    return Answer(question="q", answer=text, refused=False, citations=[citation],
                  expansions=[Expansion("PUA", "Punto Unico di Accesso", ("pua",))],
                  notice=notice)


def test_answer_html_escapes_document_text_and_marks_supporting_sentences():
    html = render.answer_html(_answer(notice="Il comune di Matino fa parte dell'Ambito X"))
    assert "<script>" not in html and "<img" not in html and "doc <b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<mark>Il servizio &lt;script&gt;alert(1)&lt;/script&gt; c&#x27;è.</mark>" in html
    assert html.index('class="avviso"') < html.index('class="risposta"')  # notice above
    assert '<span class="fonte-num">1</span>' in html
    assert "Ambito di Casarano" in html and "sezione «Area «anziani»»" in html
    assert 'href="documenti/doc%20%3Cb%3E.txt?passaggio=abc123#passaggio"' in html
    assert "<b>PUA</b>: Punto Unico di Accesso" in html
    assert "\n\n" not in html  # a blank line would end the HTML block in Markdown


def test_highlight_is_whitespace_insensitive_and_merges_overlaps():
    text = "Uno due\n\ntre quattro cinque."
    assert render.highlight(text, ["due tre", "tre quattro"]) == \
        "Uno <mark>due<br>tre quattro</mark> cinque."
    assert render.highlight("a < b", []) == "a &lt; b"


def test_partial_and_final_messages_mark_busy_and_link_markers_to_sources():
    partial = render.partial_html("Prima [1]\nSeconda")
    assert 'aria-busy="true"' in partial and partial.count("<p>") == 2
    assert "fonte" not in partial
    final = render.answer_html(_answer(text="Prima [1]\nSeconda [1]"), anchor="m3")
    assert 'aria-busy="false"' in final
    assert final.count('<a class="rif" href="#fonte-m3-1">[1]<span class="vh"> Vai alla fonte 1'
                       '</span></a>') == 2
    assert '<div class="fonte" id="fonte-m3-1" tabindex="-1"' in final
    assert 'href="#' not in render.answer_html(_answer(text="Senza fonti [1]"))  # no anchor


def test_public_document_rows_link_each_document(ui):
    rows = ui.public_document_rows()
    casarano = next(r for r in rows if "Casarano" in r[0])
    assert casarano[0] == ("[Piano sociale di zona 2022-2024 dell'Ambito di Casarano "
                           "\\(LeccePrima\\)](documenti/" + CASARANO + ")")
    assert len(casarano) == 2 and casarano[1].count("/") == 2  # the day, no time
    assert render.markdown_link("a](javascript:x)", "documenti/x") == \
        "[a\\]\\(javascript:x\\)](documenti/x)"


def test_pdf_links_open_at_the_page():
    assert render.document_url("piani/p.pdf", page=12) == "documenti/piani/p.pdf#page=12"
    assert render.document_url("a b.txt", chunk_id="x/y") == \
        "documenti/a%20b.txt?passaggio=x%2Fy#passaggio"


def test_glossary_terms_come_from_expansions_and_from_the_answer_text(bot):
    answer = _answer(text="Il consolidamento della Pua e dell'Assistenza domiciliare (Sad); "
                          "fondi PNRR [1]")
    terms = [t.term for t in render.glossary_terms(answer, bot.expander.acronyms)]
    assert terms[0] == "PUA"
    assert {"SAD", "PNRR"} <= set(terms)
    assert len(terms) == len(set(terms))


# ---- chat ------------------------------------------------------------------------------------
def test_chat_streams_an_answer_with_numbered_sources(ui):
    steps = run_chat(ui, "Che servizi ci sono per gli anziani a Matino?")
    assert len(steps) >= 3  # question shown, then the answer growing
    first_messages, box, records = steps[0]
    assert box == "" and first_messages[-1]["role"] == "assistant"
    final_messages, _, records = steps[-1]
    html = final_messages[-1]["content"]
    assert "Il comune di Matino fa parte dell" in html
    assert CASARANO_TITLE.replace("'", "&#x27;") in html
    assert "<mark>" in html and "documenti/" + CASARANO in html
    assert [m["role"] for m in final_messages] == ["user", "assistant"]
    assert records[0]["question"] == "Che servizi ci sono per gli anziani a Matino?"
    assert records[0]["citations"][0]["source"] == CASARANO
    lengths = [len(step[0][-1]["content"]) for step in steps[1:]]
    assert lengths == sorted(lengths)


def test_follow_up_questions_receive_the_conversation(bot, tmp_path):
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(bot, name)

        def ask_stream(self, question, history=None, filters=None):
            seen.append((question, list(history or []), filters))
            return bot.ask_stream(question, history=history, filters=filters)

    ui = UIController(Spy(), feedback=FeedbackStore(tmp_path / "f.sqlite3"))
    messages, _, records = run_chat(ui, "Quali progetti PNRR ha Galatina?")[-1]
    messages, _, records = run_chat(ui, "e a Casarano?", messages, records)[-1]
    assert seen[1][1][0].question == "Quali progetti PNRR ha Galatina?"
    assert seen[1][1][0].answer == records[0]["answer"] != ""
    assert len(records) == 2 and len(messages) == 4
    # clearing the chat (empty history) forgets the records
    run_chat(ui, "Cos'è il PUA?", [], records)
    assert seen[2][1] == []


def test_chat_edge_cases_become_italian_messages(ui):
    assert run_chat(ui, "   ") == [([], "", [])]
    messages, _, records = run_chat(ui, "x" * 5000)[-1]
    assert "troppo lunga" in messages[-1]["content"]
    assert records[0]["refused"] is True
    messages, _, _ = run_chat(ui, "<script>alert(1)</script> anziani?")[-1]
    assert messages[0]["content"].startswith("&lt;script&gt;")


def test_history_from_gradio_content_blocks():
    history = [{"role": "user", "content": [{"type": "text", "text": "domanda"}]},
               {"role": "assistant", "content": "risposta", "metadata": None}]
    assert plain_history(history) == [{"role": "user", "content": "domanda"},
                                      {"role": "assistant", "content": "risposta"}]
    assert to_turns([{"question": "a", "answer": "b"}])[0].answer == "b"


def test_filters_from_widgets():
    assert make_filters("Matino", "Galatina", "", "2024").comune == "Matino"
    assert make_filters("Matino", "Galatina", "", "2024").ambito is None
    f = make_filters("", "Galatina", "piano di zona", "")
    assert (f.ambito, f.doc_type, f.year) == ("Galatina", "piano di zona", None)
    assert make_filters(None, None, None, None).is_empty()


def test_filter_choices_come_from_the_index(ui, bot):
    facets = corpus_facets(bot)
    assert ("Matino", "Casarano") in facets.comuni
    assert "Val d'Enza" in facets.ambiti and 2024 in facets.years
    assert ui.comune_choices()[0] == ("Tutti", "")
    assert ("Matino (Ambito di Casarano)", "Matino") in ui.comune_choices()
    assert ("Val d'Enza (ambito)", "Val d'Enza") in ui.place_choices()
    assert ("scheda PNRR", "scheda PNRR") in ui.doc_type_choices()


def test_doc_type_filter_restricts_sources(ui):
    messages, _, records = run_chat(ui, "Quali interventi sono previsti?",
                                    doc_type="scheda PNRR")[-1]
    assert {c["source"] for c in records[0]["citations"]} <= {"galatina_pnrr_m5c2.txt"}


def test_ask_json_keeps_the_cli_contract(ui):
    data = ui.ask_json("Cos'è il PUA?")
    assert {"question", "answer", "refused", "citations"} <= set(data)
    assert ui.ask_json("")["refused"] is True


# ---- feedback ----------------------------------------------------------------------------
def test_thumbs_and_comment_are_stored_masked_with_configuration(ui, tmp_path):
    messages, _, records = run_chat(ui, "Che servizi ci sono per gli anziani a Matino?")[-1]
    # a question with personal data (as a citizen might write it)
    records[0] = {**records[0], "question": "Sono RSSMRA85T10A562S, tel. 333 1234567: "
                                            "aiuti per anziani a Matino?"}
    status, fid = ui.rate(records, messages, 1, True)
    assert "Grazie" in status and fid
    assert ui.add_comment(fid, "scrivetemi a mario@example.it") == "Commento registrato. Grazie."
    rows = list(ui.feedback.rows())
    assert len(rows) == 1
    row = rows[0]
    assert row["rating"] == "up"
    assert "RSSMRA85T10A562S" not in row["question"] and "1234567" not in row["question"]
    assert "[CODICE FISCALE]" in row["question"] and "[TELEFONO]" in row["question"]
    assert row["comment"] == "scrivetemi a [E-MAIL]"
    assert row["answer"] == records[0]["answer"]
    assert '"source": "casarano_piano_sociale_2022_2024.txt"' in row["citations"]
    assert (row["embedder"], row["retriever"], row["answerer"]) == \
        ("hashing", "hybrid", "extractive")
    # the user's own message cannot be rated; a withdrawn vote is ignored
    assert ui.rate(records, messages, 0, False)[1] is None
    assert ui.rate(records, messages, 1, None) == ("", None)
    assert ui.add_comment(None, "x") == "Prima valuti una risposta con il pollice in su o in giù."
    status, _ = ui.rate(records, messages, 1, "Dislike")
    # changing the rating of the same answer updates its row (issue 13, item 7)
    assert [r["rating"] for r in ui.feedback.rows()] == ["down"]


def test_liked_values():
    assert liked_rating(True) == liked_rating("Like") == "up"
    assert liked_rating(False) == liked_rating("Dislike") == "down"
    assert liked_rating(None) is None


def test_feedback_export_csv(tmp_path, capsys):
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    store.add(FeedbackRecord("down", "mail a@b.it", "risposta", [{"id": 1}], "",
                             "use", "hybrid", "extractive", {"comune": "Matino"}))
    out = tmp_path / "fb.csv"
    assert feedback_main(["export", "--db", str(db), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["rating"] == "down" and rows[0]["question"] == "mail [E-MAIL]"
    assert rows[0]["filters"] == '{"comune": "Matino"}'
    assert feedback_main(["export", "--db", str(tmp_path / "nessuno.sqlite3")]) == 1
    with pytest.raises(ValueError, match="rating"):
        store.add(FeedbackRecord("meh", "q", "a"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1


# ---- Servizi per me ----------------------------------------------------------------------
def test_services_for_a_comune_list_interventions_with_sources(ui):
    html = ui.services(["anziani", "minori"], "Matino")
    assert "Il comune di Matino fa parte dell" in html
    assert "Anziano o persona non autosufficiente" in html and "Famiglia con minori" in html
    assert html.count('<li><span class="servizio">') >= 4
    assert "documenti/" + CASARANO in html
    assert "Assistenza domiciliare" in html


def test_services_need_a_situation_and_a_comune(ui):
    assert "almeno una situazione" in ui.services([], "Matino")
    assert "Scelga il suo comune" in ui.services(["anziani"], "")
    with pytest.raises(ValueError, match="unknown situation"):
        ui.services_finder.find(["astronauti"], "Matino")


# ---- staff search ------------------------------------------------------------------------
def test_search_gives_rows_and_a_csv(ui):
    rows, path, status = ui.search("assistenza domiciliare")
    assert rows and all(len(r) == 6 for r in rows)
    assert status.endswith("risultati")
    sad = next(r for r in rows if "Assistenza domiciliare sociale (Sad)" in r[0])
    assert sad[1] == "Invecchiamento attivo" and "anziani" in sad[2] and sad[4] == "Casarano"
    assert sad[5].startswith("Piano sociale di zona")
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("\ufeffIntervento;Area;Destinatari;Fonte di finanziamento")
    assert len(list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""),
                               delimiter=";"))) == len(rows) + 1


def test_search_filters_and_empty_queries(ui):
    rows, _, _ = ui.search("interventi", ambito="Galatina")
    assert rows and {r[4] for r in rows} == {"Galatina"}
    assert ui.search("  ") == ([], None, "Scriva almeno una parola chiave.")
    rows, path, status = ui.search("zzzqqq")
    assert rows == [] and path is None and "Nessun intervento" in status


def test_funding_and_target_vocabularies():
    funding = Vocabulary({"FNPS": [r"\bfnps\b"], "PNRR": [r"\bpnrr\b"]})
    assert funding.find("finanziato con FNPS", "PNRR ovunque") == ["FNPS"]
    assert funding.find("nulla", "fondi Pnrr") == ["PNRR"]
    with pytest.raises(ValueError):
        Vocabulary({})


def test_rows_to_csv_quotes_commas():
    from assistant.ui.services import InterventionRow

    text = rows_to_csv([InterventionRow("a; b", "x", "", "", "", "doc")])
    assert '"a; b"' in text


# ---- documents ----------------------------------------------------------------------------
def test_document_page_is_escaped_and_anchored_at_the_passage(fake_assistant):
    corpus = Path(fake_assistant.settings.corpus_dir)
    (corpus / "pericoloso.html").write_text(
        "<html><body><h1>Servizi</h1><p>Testo &lt;script&gt;alert('x')&lt;/script&gt; "
        "con assistenza domiciliare per anziani fragili del territorio.</p>"
        "<script>alert('vero')</script></body></html>", encoding="utf-8")
    (corpus / "codice.txt").write_text("Il modulo <script>alert(1)</script> e "
                                       "<img src=x onerror=alert(2)> per le famiglie.\n",
                                       encoding="utf-8")
    fake_assistant.ingest()
    library = DocumentLibrary(fake_assistant)
    chunk = next(c for c in fake_assistant.store.iter_chunks() if c.source == "codice.txt")
    view = library.view("codice.txt", chunk.id)
    assert view.kind == "html"
    assert "<script>" not in view.html and "<img" not in view.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view.html
    assert '<mark id="passaggio" class="passaggio">' in view.html
    html_view = library.view("pericoloso.html")
    assert html_view.kind == "html" and "<script>" not in html_view.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_view.html


@pytest.mark.parametrize("source", ["../../etc/passwd", "/etc/passwd", "catalog.yaml",
                                    "nonesiste.txt", "..", "", "casarano\x00.txt"])
def test_only_indexed_documents_are_served(bot, source):
    library = DocumentLibrary(bot)
    assert library.resolve(source) is None
    assert library.view(source).kind == "missing"
    assert library.resolve(CASARANO) == (Path(bot.settings.corpus_dir) / CASARANO).resolve()


def test_find_passage_tolerates_reflowed_text():
    text = "Titolo\n\nPrima   riga del\npassaggio, con Accenti: perché sì.\n\nAltro testo."
    start, end = find_passage(text, "prima riga del passaggio, con accenti: perche si")
    assert text[start:end] == "Prima   riga del\npassaggio, con Accenti: perché sì."
    assert find_passage(text, "frase che non c'è") is None


@dataclass
class _StubSettings:
    corpus_dir: Path
    max_file_mb: float = 1.0


@dataclass
class _StubAssistant:
    """Just enough of an Assistant for the document route: settings and documents()."""

    settings: _StubSettings
    docs: list = field(default_factory=list)

    def documents(self):
        return [{"source": s, "title": s} for s in self.docs]


def test_document_route_serves_pdfs_inline_and_refuses_traversal(tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.ui.server import document_routes

    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "piano.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
    (corpus / "nota.txt").write_text("Testo <b>grassetto</b> qui.", encoding="utf-8")
    (tmp_path / "segreto.txt").write_text("segreto", encoding="utf-8")
    stub = _StubAssistant(_StubSettings(corpus), ["sub/piano.pdf", "nota.txt", "../segreto.txt"])
    app = FastAPI()
    app.include_router(document_routes(DocumentLibrary(stub)))
    client = TestClient(app)
    pdf = client.get("/documenti/sub/piano.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    page = client.get("/documenti/nota.txt")
    assert page.status_code == 200 and "&lt;b&gt;grassetto&lt;/b&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for bad in ("/documenti/../segreto.txt", "/documenti/..%2Fsegreto.txt",
                "/documenti/%2E%2E/segreto.txt", "/documenti/nonesiste.txt"):
        response = client.get(bad)
        assert "segreto" not in response.text or response.status_code == 404
        assert response.status_code == 404


# ---- uploads -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("piano.pdf", "piano.pdf"),
    ("C:\\Documenti\\Piano di zona 2024.pdf", "Piano di zona 2024.pdf"),
    ("cartella/scheda.txt", "scheda.txt"),
    ("città è perché.md", "città è perché.md"),
    ("a;b|c$.txt", "a_b_c_.txt"),
    ("../../etc/passwd", None),
    ("..\\..\\windows\\win.ini", None),
    (".nascosto.txt", None),
    ("", None),
    ("catalog.yaml", None),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_upload_refuses_traversal_oversize_and_unsupported_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = tmp_path / "in"
    src.mkdir()
    small = src / "ok.txt"
    small.write_text("Servizio di assistenza domiciliare per anziani.", encoding="utf-8")
    big = src / "grande.txt"
    big.write_bytes(b"a" * 3000)
    exe = src / "programma.exe"
    exe.write_bytes(b"MZ....")
    empty = src / "vuoto.txt"
    empty.write_bytes(b"")
    uploader = Uploader(corpus, max_file_mb=0.002)  # about 2 KB
    outcome = uploader.save([("../../etc/passwd", small), ("../../etc/passwd.txt", small),
                             ("grande.txt", big), exe, empty, small])
    refused = dict(outcome.refused)
    assert refused["../../etc/passwd"].startswith("nome di file non valido")
    assert refused["../../etc/passwd.txt"].startswith("nome di file non valido")
    assert refused["grande.txt"] == messages.skip_reason("too_large", "0.0 MB", limit_mb="0.002")
    assert refused["programma.exe"] == messages.skip_reason("unsupported", ".exe", suffix=".exe")
    assert ".exe" in refused["programma.exe"]
    assert refused["vuoto.txt"] == messages.skip_reason("empty", "vuoto.txt")
    assert outcome.saved == [("ok.txt", False)]
    assert sorted(p.name for p in corpus.iterdir()) == ["ok.txt"]
    assert not (tmp_path / "etc").exists()
    with pytest.raises(ValueError, match="max_file_mb"):
        Uploader(corpus, 0)


def test_upload_indexes_new_files_and_reports_skipped_ones(fake_assistant, tmp_path):
    src = tmp_path / "nuovi"
    src.mkdir()
    (src / "Centro diurno Arcobaleno.txt").write_text(
        "Il centro diurno Arcobaleno per anziani accoglie 30 persone non autosufficienti "
        "dal lunedì al venerdì.", encoding="utf-8")
    (src / "rotto.pdf").write_bytes(b"%PDF-1.4 questo non e un pdf valido")
    calls = []
    ui = UIController(fake_assistant, feedback=FeedbackStore(tmp_path / "f.sqlite3"))
    html = ui.upload([str(p) for p in sorted(src.iterdir())],
                     progress=lambda done, total, name: calls.append((done, total)))
    assert "Centro diurno Arcobaleno.txt" in html
    assert "1 file indicizzati" in html
    assert "<b>rotto.pdf</b>: PDF" in html  # the skip reason, in Italian
    assert calls and calls[-1][0] == calls[-1][1]
    sources = [row[1] for row in ui.document_rows()]
    assert "Centro diurno Arcobaleno.txt" in sources and "rotto.pdf" not in sources
    hits = fake_assistant.retriever.retrieve("centro diurno Arcobaleno", 3)
    assert hits[0].chunk.source == "Centro diurno Arcobaleno.txt"  # searchable at once
    assert "Nessun file scelto." in ui.upload([])


# ---- app.py --------------------------------------------------------------------------------
def _app_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_host_and_port_from_flags_and_environment(capsys):
    app = _app_module()
    args = app.parse_args([], env={})
    assert (args.host, args.port, args.feedback_db) == ("127.0.0.1", 7860,
                                                        Path("feedback.sqlite3"))
    args = app.parse_args([], env={"ASSISTANT_HOST": "0.0.0.0", "ASSISTANT_PORT": "8123"})
    assert (args.host, args.port) == ("0.0.0.0", 8123)
    assert app.parse_args(["--port", "9000"], env={"ASSISTANT_PORT": "8123"}).port == 9000
    with pytest.raises(SystemExit):
        app.parse_args(["--port", "ottanta"], env={})
    assert "Porta non valida: ottanta" in capsys.readouterr().err
