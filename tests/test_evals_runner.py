"""The runner end to end on the second (fictional) corpus with the hashing embedder: every
question goes through Assistant.ask, indexes are cached and shared, reports are written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from evals.cli import main
from evals.configs import EvalConfig, load_config
from evals.dataset import load_qa
from evals.judge import FakeJudge
from evals.report import html_page, markdown, table, write_reports
from evals.runner import EvalRunner, IndexCache

ROOT = Path(__file__).resolve().parent.parent
SECOND = ROOT / "evals" / "qa" / "second"
CORPUS = SECOND / "corpus"
QA = SECOND / "qa.jsonl"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evals-cache")


@pytest.fixture(scope="module")
def asked() -> list:
    return []


@pytest.fixture(scope="module")
def run(cache_dir, asked):
    """Two configurations sharing one hashing index; Assistant.ask is spied on."""
    original = Assistant.ask

    def spy(self, question, history=None, filters=None):
        asked.append((self.settings.min_evidence, question, list(history or [])))
        return original(self, question, history=history, filters=filters)

    mp = pytest.MonkeyPatch()
    mp.setattr(Assistant, "ask", spy)
    try:
        configs = [load_config("hashing"),
                   EvalConfig("hashing_strict", {"embedder": "hashing", "min_evidence": 0.99})]
        yield EvalRunner(CORPUS, load_qa(QA), IndexCache(cache_dir), judge=FakeJudge(0.9, 0.8),
                         qa_path=QA).run(configs)
    finally:
        mp.undo()


def test_every_question_goes_through_assistant_ask(run, asked):
    items = load_qa(QA)
    assert len(asked) == 2 * len(items)
    assert {a[0] for a in asked} == {Settings().min_evidence, 0.99}
    follow_up = next(i for i in items if i.history)
    call = next(a for a in asked if a[1] == follow_up.question)
    assert [t.question for t in call[2]] == [q for q, _ in follow_up.history]


def test_configurations_sharing_index_settings_share_one_index(run, cache_dir):
    assert run.configs[0].index["folder"] == run.configs[1].index["folder"]
    assert len([p for p in cache_dir.iterdir() if p.is_dir()]) == 1
    assert run.configs[0].index["chunks"] > 3


def test_metrics_are_computed_and_differ_by_configuration(run):
    loose, strict = (c.summary for c in run.configs)
    assert loose["questions"] == 17 and loose["unanswerable"] == 4 and loose["errors"] == 0
    for key in ("doc_hit@5", "passage_mrr", "fact_recall", "refusal_recall"):
        assert 0.0 <= loose[key] <= 1.0
    assert loose["doc_hit@5"] >= 0.9  # the hashing embedder finds these short documents
    assert loose["fact_recall"] >= 0.5
    assert strict["false_refusal_rate"] > loose["false_refusal_rate"]
    assert loose["latency_p95_ms"] >= loose["latency_p50_ms"] > 0
    assert set(run.configs[0].by_kind) >= {"fact", "follow_up", "unanswerable"}
    assert loose["judge_faithfulness"] == pytest.approx(0.9)
    assert loose["judge_relevancy"] == pytest.approx(0.8)


def test_reports(run, tmp_path):
    paths = write_reports(run, tmp_path / "r")
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "| Facts in answer |" in md and "## Failed questions" in md
    assert "hashing_strict" in md and "Expected facts:" in md and "Answer given:" in md
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count("<svg") >= 10 and "Latency per question" in page
    assert html_page(run) == page and markdown(run) == md
    summary = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [c["name"] for c in summary["configs"]] == ["hashing", "hashing_strict"]
    rows = paths["questions"].read_text(encoding="utf-8").splitlines()
    assert len(rows) == 34 and "failures" in json.loads(rows[0])
    lines = table(run).splitlines()
    assert lines[0].split()[:2] == ["config", "doc_hit@5"]
    assert lines[2].startswith("hashing ") and lines[3].startswith("hashing_strict")


def test_cli_run_json_reuses_the_cached_index(run, cache_dir, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "--corpus", str(CORPUS), "--qa", str(QA), "--config", "hashing",
                 "--cache", str(cache_dir), "--out", str(tmp_path / "reports"), "--json"],
                out, err)
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())
    config = data["configs"][0]
    assert config["index"]["reused"] is True
    assert config["summary"]["fact_recall"] == round(run.configs[0].summary["fact_recall"], 4)
    assert "skipped" in data["judge"]
    assert Path(data["reports"]["html"]).is_file()
    assert "fact" in config["by_kind"]


def test_cli_gate_names_the_metric_below_threshold(cache_dir, tmp_path):
    loose = tmp_path / "loose.yaml"
    loose.write_text("config: hashing\nmin:\n  doc_hit@5: 0.5\nmax:\n  latency_p95_ms: 60000\n",
                     encoding="utf-8")
    args = ["gate", "--corpus", str(CORPUS), "--qa", str(QA), "--cache", str(cache_dir)]
    err = io.StringIO()
    assert main(args + ["--thresholds", str(loose)], io.StringIO(), err) == 0
    assert "gate passed" in err.getvalue()
    tight = tmp_path / "tight.yaml"
    tight.write_text("config: hashing\nmin:\n  fact_recall: 1.01\n", encoding="utf-8")
    err = io.StringIO()
    assert main(args + ["--thresholds", str(tight)], io.StringIO(), err) == 1
    assert "GATE FAILED: fact_recall" in err.getvalue()


def test_cli_usage_errors(tmp_path):
    err = io.StringIO()
    assert main(["run", "--config", "nope", "--corpus", str(CORPUS), "--qa", str(QA)],
                io.StringIO(), err) == 2
    assert "unknown configuration 'nope'" in err.getvalue()
    err = io.StringIO()
    assert main(["run", "--corpus", str(tmp_path / "missing"), "--qa", str(QA),
                 "--config", "hashing", "--cache", str(tmp_path)], io.StringIO(), err) == 2
    assert "corpus folder not found" in err.getvalue()
    out = io.StringIO()
    assert main(["check", "--corpus", str(CORPUS), "--qa", str(QA)], out) == 1  # < 120
    assert main(["check", "--corpus", str(CORPUS), "--qa", str(QA), "--no-minimums"],
                io.StringIO()) == 0


def test_index_cache_keys_on_corpus_content_and_prunes(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("uno", encoding="utf-8")
    cache = IndexCache(tmp_path / "cache", keep=2)
    hashing = Settings(embedder="hashing")
    first, existed = cache.folder(corpus, hashing)
    assert not existed
    assert cache.folder(corpus, hashing.replace(top_k=2, min_evidence=0.1))[0] == first
    assert cache.folder(corpus, hashing.replace(chunk_size=100))[0] != first
    (corpus / "a.txt").write_text("due", encoding="utf-8")
    assert cache.folder(corpus, hashing)[0] != first
    assert len(list((tmp_path / "cache").iterdir())) == 2
