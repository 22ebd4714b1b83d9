"""Integration with the real default embedder (USE) and a real Chroma folder on disk."""

from __future__ import annotations

import pytest

from assistant import Assistant, Settings

pytestmark = pytest.mark.slow

CASES = [
    ("Quanto vale il progetto di Galatina per le persone con disabilità?",
     "galatina_pnrr_m5c2.txt", "715.000"),
    ("Qual è l'importo del progetto sulle capacità genitoriali a Galatina?",
     "galatina_pnrr_m5c2.txt", "211.500"),
    ("Quali comuni fanno parte dell'ambito di Casarano?",
     "casarano_piano_sociale_2022_2024.txt", "Collepasso"),
    ("Chi coordina lo staff dell'Ambito sociale di Casarano?",
     "casarano_piano_sociale_2022_2024.txt", "Totisco"),
    ("Quale rapporto tra assistenti sociali e abitanti garantisce il LEPS?",
     "lista_interventi_piano_nazionale_2021_2023.txt", "1:5000"),
    ("Con quali fondi è finanziato il pronto intervento sociale?",
     "lista_interventi_piano_nazionale_2021_2023.txt", "React"),
    ("Quanto ha ottenuto l'Unione Val d'Enza con l'Avviso 1/2019 PaIS?",
     "val_enza_avviso_1_2019_pais.txt", "42.869,00"),
    ("Quante persone sono state seguite dal servizio socio educativo in Val d'Enza?",
     "val_enza_avviso_1_2019_pais.txt", "66 persone"),
    ("Quale delibera delle Marche definisce lo standard dei PUA?",
     "marche_por_fse_potenziamento_ats.txt", "DGR n. 111"),
    ("Nelle Marche il FSE finanzia un servizio socio-educativo estivo?",
     "marche_por_fse_potenziamento_ats.txt", "estivo"),
    ("mia madre a Matino non è più autosufficiente, c'è assistenza a casa?",
     "casarano_piano_sociale_2022_2024.txt", "domiciliare"),
    ("Cos'è il metodo Pippi nel piano di Casarano?",
     "casarano_piano_sociale_2022_2024.txt", "negligenti"),
]


@pytest.mark.parametrize("question,source,fact", CASES)
def test_real_model_answers_with_right_document(real_index: Assistant, question, source, fact):
    answer = real_index.ask(question)
    assert not answer.refused, answer.answer
    assert answer.citations[0].source == source or source in {c.source for c in answer.citations}
    assert fact.lower() in answer.answer.lower(), answer.answer


def test_real_model_refuses_out_of_scope(real_index: Assistant):
    assert real_index.ask("chi ha vinto la partita del Lecce domenica?").refused


def test_reopened_index_queries_without_default_embedding_function(real_index: Assistant,
                                                                  monkeypatch):
    """A second process-like assistant reopens the Chroma folder and answers with our
    embedder: Chroma's own default model (ONNX MiniLM, downloaded on first use) is never
    called, here it raises."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    def default_embeds(self, input):  # Chroma checks an embedding function's signature
        raise AssertionError("Chroma's default embedding function was called")

    def default_loads(self, *args, **kwargs):
        raise AssertionError("Chroma's default model was loaded")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", default_embeds)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", default_embeds)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__init__", default_loads)
    again = Assistant(Settings(corpus_dir=real_index.settings.corpus_dir,
                               index_dir=real_index.settings.index_dir))
    assert "715.000" in again.ask("valore del progetto PNRR per la disabilità a Galatina").answer
    # a text query through Chroma's own API embeds with our model too
    found = again.store.collection.query(query_texts=["progetto per la disabilità a Galatina"],
                                         n_results=3, include=["metadatas"])
    assert "galatina_pnrr_m5c2.txt" in {m["source"] for m in found["metadatas"][0]}


def test_pdf_citations_carry_page_numbers(tmp_path, manual_pdf):
    import shutil

    from assistant import HashingEmbedder

    corpus = tmp_path / "pdf"
    corpus.mkdir()
    shutil.copy(manual_pdf, corpus)
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / "i", embedder="hashing"),
                    embedder=HashingEmbedder())
    report = bot.ingest()
    assert report.pages == 8
    pages = {c.page for c in bot.store.iter_chunks()}
    assert pages == set(range(1, 9))
    answer = bot.ask("Come si accede all'applicativo di monitoraggio PNRR?")
    assert not answer.refused
    assert all(isinstance(c.page, int) and 1 <= c.page <= 8 for c in answer.citations)
