"""A question asking a kind of fact the retrieved passages lack gets the passage of the best
document that holds it (Retriever.asked_elsewhere)."""

NOTICE = ("# Avviso pubblico: Assegno di cura\n\n"
          "## Chi può fare domanda\n\n"
          "Possono presentare domanda per l'assegno di cura i residenti che assistono a casa "
          "un familiare non autosufficiente; la domanda per l'assegno di cura è personale.\n\n"
          "## Scadenza e modalità\n\n"
          "La domanda si presenta entro il 31 marzo 2025 sul portale.\n\n"
          "## Contatti\n\n"
          "Ufficio di Piano, telefono 0999 123400.\n")


def _bot(fake_settings, tmp_path):
    from assistant import Assistant, HashingEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "avviso.md").write_text(NOTICE, encoding="utf-8")
    (corpus / "altro.md").write_text("Trasporto sociale\n\nIl trasporto sociale accompagna "
                                     "gli anziani alle visite.\n", encoding="utf-8")
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    bot.ingest(corpus)
    return bot


def test_a_deadline_the_hits_lack_comes_from_the_best_document(fake_settings, tmp_path):
    bot = _bot(fake_settings, tmp_path)
    retriever = bot.retriever.with_options(top_k=1)
    query = bot.analyze("Fino a quando posso fare domanda per l'assegno di cura?")
    hits = retriever.passages(query)
    assert "Possono presentare domanda" in hits[0].chunk.text
    assert any("31 marzo 2025" in h.chunk.text for h in hits[1:])
    assert hits[-1].score <= hits[0].score


def test_no_kind_or_a_crisp_kind_brings_nothing(fake_settings, tmp_path):
    bot = _bot(fake_settings, tmp_path)
    retriever = bot.retriever.with_options(top_k=1)
    for question in ("Chi può fare domanda per l'assegno di cura?",
                     "Qual è il numero di telefono per la domanda di assegno di cura?"):
        hits = retriever.passages(bot.analyze(question))
        assert len(hits) == 1, question
