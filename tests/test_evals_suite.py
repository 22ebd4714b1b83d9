"""The suite mode of the evaluation harness: the committed reference sets (their files, the
external schema of piano-triennale, the additions), the leave-one-corpus-out API, the metrics
the suite reports, per-set thresholds, and suite runs with the hashing embedder on small
sets, through the API and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from assistant import Answer, Citation
from assistant.errors import ConfigError
from assistant.retrieval import Hit
from assistant.store import StoredChunk
from evals.cli import main
from evals.configs import load_config
from evals.dataset import QAItem, from_external_schema, load_qa
from evals.gate import SuiteThresholds, Thresholds, load_thresholds
from evals.metrics import score_question, summarize
from evals.report import suite_markdown, suite_table, write_suite_reports
from evals.runner import IndexCache
from evals.suite import MACRO, Suite, SuiteRunner

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / "evals" / "qa"
PIANO_SHA256 = "65c1814dbc89aa31d3c37322a69157d3e12370d2637df0cf6b9ba8c5434baede"


# ---- the committed suite -------------------------------------------------------------------
def test_committed_suite_lists_every_reference_set():
    suite = Suite.load()
    assert suite.names == ["demo", "second", "manuals", "piano-triennale"]
    for reference in suite.sets:
        assert reference.corpus.is_dir() and all(q.is_file() for q in reference.qa)
        assert reference.description
    assert suite.get("demo").minimums and not suite.get("manuals").minimums


def test_piano_triennale_is_the_unedited_external_set():
    original = QA / "piano-triennale" / "qa.jsonl"
    assert hashlib.sha256(original.read_bytes()).hexdigest() == PIANO_SHA256
    assert len(list((QA / "piano-triennale" / "corpus").glob("*.pdf"))) == 12
    assert "CC0" in (QA / "piano-triennale" / "README.md").read_text(encoding="utf-8")
    items = {i.id: i for i in Suite.load().get("piano-triennale").items()}
    assert items["pt01"].gold[0].source == "capitolo-1-servizi.pdf"
    assert items["pt01"].gold[0].page == 8 and items["pt01"].kind == "deadline"
    assert items["pu01"].kind == "unanswerable" and not items["pu01"].answerable
    assert {items[i].kind for i in ("pu13", "pu14", "pu15")} == {"out_of_domain"}
    assert sum(1 for i in items.values() if i.id.startswith(("pt", "pu"))) == 60


@pytest.mark.parametrize("name", ["demo", "second", "manuals", "piano-triennale"])
def test_every_set_has_out_of_domain_and_multi_turn_additions(name):
    reference = Suite.load().get(name)
    assert len(reference.qa) == 2  # the original file, then the additions
    extra = load_qa(reference.qa[1])
    ood = [i for i in extra if i.kind == "out_of_domain"]
    assert len(ood) >= 5 and all(not i.answerable and not i.gold for i in ood)
    multi_turn = [i for i in extra if i.history]
    assert len(multi_turn) >= 3
    kinds = {i.kind for i in multi_turn}
    assert {"follow_up", "topic_switch"} <= kinds
    assert not {i.id for i in extra} & {i.id for i in load_qa(reference.qa[0])}


def test_demo_additions_hold_the_cases_of_the_issue():
    items = {i.id: i for i in load_qa(QA / "demo_extra.jsonl")}
    switch = items["x-mt-001"]
    assert switch.question == "quanto ha avuto Galatina per i disabili?"
    assert switch.history[0][0].startswith("mia madre non è più autosufficiente")
    assert switch.facts == ("715.000 euro",)
    families = items["x-mt-002"]
    assert families.question == "e per le famiglie?" and families.facts == ("211.500 euro",)
    assert "Galatina" in families.history[0][0]


def test_every_committed_set_is_valid_against_its_corpus():
    out = io.StringIO()
    assert main(["check", "--suite"], out) == 0, out.getvalue()
    assert out.getvalue().rstrip().endswith("ok")


def test_folds_leave_one_corpus_out():
    suite = Suite.load()
    folds = suite.folds()
    assert [f.held_out.name for f in folds] == suite.names
    for fold in folds:
        names = [s.name for s in fold.training]
        assert fold.held_out.name not in names
        assert sorted(names + [fold.held_out.name]) == sorted(suite.names)
        assert fold.held_out.items() and all(s.items() for s in fold.training)


def test_select_keeps_suite_order_and_names_unknown_sets():
    suite = Suite.load()
    assert suite.select(["manuals,demo"]).names == ["demo", "manuals"]
    with pytest.raises(ConfigError, match="unknown reference set 'nope'.*demo"):
        suite.select(["nope"])


# ---- suite files ---------------------------------------------------------------------------
def _write_set(root: Path, name: str, text: str, rows: list[dict]) -> dict:
    corpus = root / name / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "doc.txt").write_text(text, encoding="utf-8")
    qa = root / name / "qa.jsonl"
    qa.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                  encoding="utf-8")
    return {"name": name, "corpus": f"{name}/corpus", "qa": [f"{name}/qa.jsonl"]}


@pytest.mark.parametrize("data, message", [
    ({"sets": "x"}, "expected a list under 'sets'"),
    ({"sets": []}, "no reference sets"),
    ({"sets": [{"name": "a", "corpus": "c", "qa": "q", "colour": 1}]}, "unknown field"),
    ({"sets": [{"name": "a", "qa": "q"}]}, "needs a 'corpus' folder"),
    ({"sets": [{"name": "a", "corpus": "c", "qa": "q"}] * 2}, "must be unique"),
    ({"sets": [{"name": "a", "corpus": "c", "qa": "q", "kinds": ["x"]}]}, "must map ids"),
])
def test_bad_suite_files_are_named(data, message):
    with pytest.raises(ConfigError, match=message):
        Suite.from_dict(data)


def test_kinds_overrides_must_name_known_ids(tmp_path):
    entry = _write_set(tmp_path, "a", "Testo.", [
        {"id": "q1", "question": "?", "doc": None, "facts": [], "answerable": False}])
    entry["kinds"] = {"q1": "out_of_domain", "q9": "out_of_domain"}
    with pytest.raises(ConfigError, match="unknown ids q9"):
        Suite.from_dict({"sets": [entry]}, tmp_path).sets[0].items()
    entry["kinds"] = {"q1": "out_of_domain"}
    item = Suite.from_dict({"sets": [entry]}, tmp_path).sets[0].items()[0]
    assert item.kind == "out_of_domain" and not item.answerable


def test_ids_may_not_repeat_across_the_files_of_a_set(tmp_path):
    entry = _write_set(tmp_path, "a", "Testo.", [
        {"id": "q1", "question": "?", "kind": "unanswerable"}])
    entry["qa"] = ["a/qa.jsonl", "a/qa.jsonl"]
    with pytest.raises(ConfigError, match="id 'q1' is in both"):
        Suite.from_dict({"sets": [entry]}, tmp_path).sets[0].items()


def test_external_schema_rows():
    row = from_external_schema({"id": "x", "question": "q?", "doc": "a.pdf", "page": 3,
                                "facts": ["f"], "answerable": True, "kind": "who"})
    assert row["gold"] == [{"source": "a.pdf", "page": 3}] and row["kind"] == "who"
    item = QAItem.from_dict({"id": "u", "question": "q?", "doc": None, "facts": [],
                             "answerable": False})
    assert item.kind == "unanswerable" and not item.gold
    with pytest.raises(ConfigError, match="'answerable' must be true or false"):
        QAItem.from_dict({"id": "u", "question": "q?", "answerable": "no"})
    with pytest.raises(ConfigError, match="gold 'page' must be a whole number"):
        QAItem.from_dict({"id": "u", "question": "q?", "doc": "a.pdf", "page": "3",
                          "facts": ["f"], "answerable": True, "kind": "fact"})


# ---- metrics of the suite ------------------------------------------------------------------
GOLD = StoredChunk("g1", "Il progetto vale 715.000 euro.", {"source": "a.txt", "title": "a"})


def _item(kind: str = "fact", history: bool = False, id: str = "q") -> QAItem:
    data = {"id": id, "question": "Quanto vale?", "kind": kind}
    if kind not in ("unanswerable", "out_of_domain"):
        data |= {"gold": [{"source": "a.txt"}], "facts": ["715.000 euro"]}
    if history:
        data["history"] = [{"question": "prima", "answer": "risposta"}]
    return QAItem.from_dict(data)


def _answer(text: str, refused: bool = False, cite: bool = True) -> Answer:
    citations = [Citation(1, "a.txt", "a", None, None, GOLD.text, chunk_id="g1")] if cite \
        else []
    return Answer("q", text, refused, citations, hits=[Hit(GOLD, 1.0)])


def test_out_of_domain_refusal_is_counted_apart_from_other_unanswerable():
    scores = [score_question(_item("out_of_domain", id="o1"), _answer("no", refused=True)),
              score_question(_item("out_of_domain", id="o2"), _answer("Vale 715.000 euro.")),
              score_question(_item("unanswerable", id="u1"), _answer("no", refused=True))]
    s = summarize(scores)
    assert s["unanswerable"] == 3
    assert s["ood_refusal_rate"] == 0.5
    assert s["in_domain_refusal_recall"] == 1.0
    assert s["refusal_recall"] == pytest.approx(2 / 3)
    assert summarize(scores[2:])["ood_refusal_rate"] is None


def test_score_cli_definitions_count_refusals_too():
    # a refusal that cites the gold document and repeats the fact: score_cli counts both
    refusal = score_question(_item(), _answer("Non ho trovato 715.000 euro.", refused=True))
    answered = score_question(_item(id="q2"), _answer("Altro.", cite=False))
    s = summarize([refusal, answered])
    assert s["fact_any"] == 0.5 and s["fact_recall"] == 0.0
    assert s["doc_cited"] == 0.5            # over both answerable questions
    assert s["citation_gold_doc"] == 0.0    # over the answered one only


def test_multi_turn_passed_counts_questions_with_history():
    scores = [score_question(_item(history=True), _answer("Vale 715.000 euro. [1]")),
              score_question(_item(history=True, id="q2"), _answer("Altro. [1]")),
              score_question(_item(id="q3"), _answer("Altro. [1]"))]
    assert [s.turns for s in scores] == [1, 1, 0]
    assert summarize(scores)["multi_turn_passed"] == 0.5
    assert summarize(scores[2:])["multi_turn_passed"] is None


# ---- per-set thresholds --------------------------------------------------------------------
def test_suite_thresholds_name_the_set_and_the_metric():
    gate = SuiteThresholds.from_dict({"config": "hashing", "sets": {
        "a": {"min": {"fact_recall": 0.5}}, "b": {"max": {"false_refusal_rate": 0.1}}}})
    assert gate.config == "hashing" and gate.bounds == 2
    assert gate.check({"a": {"fact_recall": 0.6}, "b": {"false_refusal_rate": 0.0}}) == []
    broken = gate.check({"a": {"fact_recall": 0.4}})
    assert [str(v) for v in broken] == [
        "[a] fact_recall = 0.4 < min threshold 0.5",
        "[b] false_refusal_rate = missing > max threshold 0.1"]
    with pytest.raises(ConfigError, match=r"\[a\]: unknown metric 'speed'"):
        SuiteThresholds.from_dict({"sets": {"a": {"min": {"speed": 1}}}})
    with pytest.raises(ConfigError, match="a section per reference set"):
        SuiteThresholds.from_dict({"sets": {}})


def test_either_kind_of_thresholds_file_loads(tmp_path):
    single = tmp_path / "single.yaml"
    single.write_text("min:\n  fact_recall: 0.5\n", encoding="utf-8")
    per_set = tmp_path / "sets.yaml"
    per_set.write_text("sets:\n  a:\n    min:\n      fact_recall: 0.5\n", encoding="utf-8")
    assert isinstance(load_thresholds(single), Thresholds)
    assert isinstance(load_thresholds(per_set), SuiteThresholds)
    with pytest.raises(ConfigError, match="per-set file"):
        Thresholds.load(per_set)


# ---- suite runs with the hashing embedder --------------------------------------------------
TINY_TEXT = ("Il centro diurno Il Faro di Borgo Quieto accoglie anziani dalle 8 alle 17.\n\n"
             "Il contributo per le famiglie di Borgo Quieto vale 300 euro al mese.\n")
TINY_ROWS = [
    {"id": "t1", "question": "Quanto vale il contributo per le famiglie di Borgo Quieto?",
     "doc": "doc.txt", "page": None, "facts": ["300 euro"], "answerable": True,
     "kind": "amount"},
    {"id": "t2", "question": "Chi accoglie il centro diurno Il Faro?", "doc": "doc.txt",
     "facts": ["anziani"], "answerable": True, "kind": "who"},
    {"id": "t3", "question": "Come si prepara il tiramisù?", "doc": None, "facts": [],
     "answerable": False},
]


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory) -> tuple[Path, Suite]:
    root = tmp_path_factory.mktemp("suite")
    tiny = _write_set(root, "tiny", TINY_TEXT, TINY_ROWS)
    tiny["kinds"] = {"t3": "out_of_domain"}
    second = {"name": "second", "corpus": str(QA / "second" / "corpus"),
              "qa": [str(QA / "second" / "qa.jsonl"), str(QA / "second" / "extra.jsonl")]}
    path = root / "suite.yaml"
    path.write_text(json.dumps({"sets": [second, tiny]}), encoding="utf-8")
    return path, Suite.load(path, root)


@pytest.fixture(scope="module")
def suite_run(small_suite, tmp_path_factory):
    _, suite = small_suite
    cache = IndexCache(tmp_path_factory.mktemp("cache"))
    return SuiteRunner(suite, cache).run([load_config("hashing")])


def test_suite_run_reports_each_set_and_the_macro_average(suite_run):
    assert list(suite_run.runs) == ["second", "tiny"]
    assert suite_run.config_names == ["hashing"]
    summaries = suite_run.summaries("hashing")
    second = suite_run.runs["second"].dataset["questions"]  # every row of its files
    assert second >= 27 and summaries["second"]["questions"] == second
    assert summaries["tiny"]["questions"] == 3
    assert summaries["tiny"]["unanswerable"] == 1
    macro = suite_run.macro("hashing")
    assert macro["questions"] == second + 3
    for key in ("fact_recall", "passage_hit@5", "latency_p95_ms"):
        assert macro[key] == pytest.approx((summaries["second"][key]
                                            + summaries["tiny"][key]) / 2)
    assert macro["in_domain_refusal_recall"] == summaries["second"]["in_domain_refusal_recall"]
    data = suite_run.as_json()
    assert set(data["configs"]["hashing"]["sets"]) == {"second", "tiny"}
    assert data["sets"]["second"]["qa"][1].endswith("extra.jsonl")
    json.dumps(data)


def test_suite_reports_hold_a_table_per_configuration(suite_run, tmp_path):
    text = suite_table(suite_run, "hashing")
    assert "second" in text and "tiny" in text and MACRO in text and "ood_refusal_rate" in text
    md = suite_markdown(suite_run)
    assert "| metric | second | tiny | macro average |" in md
    written = write_suite_reports(suite_run, tmp_path / "r")
    assert json.loads(written["json"].read_text(encoding="utf-8"))["configs"]["hashing"]
    for name in ("second", "tiny"):
        assert (tmp_path / "r" / name / "report.md").is_file()
        assert (tmp_path / "r" / name / "questions.jsonl").is_file()


def test_cli_suite_and_run_suite(small_suite, tmp_path):
    path, _ = small_suite
    common = ["--suite-file", str(path), "--config", "hashing", "--cache",
              str(tmp_path / "cache"), "--quiet"]
    out = io.StringIO()
    assert main(["suite", *common, "--sets", "tiny", "--json", "--no-report"], out) == 0
    data = json.loads(out.getvalue())
    assert list(data["configs"]["hashing"]["sets"]) == ["tiny"]
    out = io.StringIO()
    assert main(["run", "--suite", *common, "--out", str(tmp_path / "reports")], out) == 0
    assert "configuration hashing:" in out.getvalue() and "suite.md" in out.getvalue()


def test_cli_gate_checks_every_set_and_names_the_broken_one(small_suite, tmp_path):
    path, _ = small_suite
    args = ["gate", "--suite-file", str(path), "--cache", str(tmp_path / "cache"), "--quiet"]
    loose = tmp_path / "loose.yaml"
    loose.write_text("config: hashing\nsets:\n  second:\n    min:\n      doc_hit@5: 0.5\n"
                     "  tiny:\n    max:\n      latency_p95_ms: 60000\n", encoding="utf-8")
    err = io.StringIO()
    assert main(args + ["--thresholds", str(loose)], io.StringIO(), err) == 0
    assert "gate passed (hashing, 2 sets, 2 bounds)" in err.getvalue()
    tight = tmp_path / "tight.yaml"
    tight.write_text("config: hashing\nsets:\n  second:\n    min:\n      doc_hit@5: 0.5\n"
                     "  tiny:\n    min:\n      fact_recall: 1.01\n", encoding="utf-8")
    err = io.StringIO()
    assert main(args + ["--thresholds", str(tight)], io.StringIO(), err) == 1
    assert "GATE FAILED: [tiny] fact_recall" in err.getvalue()
    assert "[second]" not in err.getvalue()
    only_second = tmp_path / "second.yaml"
    only_second.write_text("config: hashing\nsets:\n  second:\n    min:\n      doc_hit@5: 0.5\n",
                           encoding="utf-8")
    err = io.StringIO()  # --sets: only the sets run are checked
    assert main(args + ["--thresholds", str(tight), "--sets", "second"], io.StringIO(),
                err) == 0, err.getvalue()
    assert "gate passed (hashing, 1 sets, 1 bounds)" in err.getvalue()
    err = io.StringIO()  # a set named with --sets but not in the thresholds
    assert main(args + ["--thresholds", str(only_second), "--sets", "tiny"],
                io.StringIO(), err) == 2
    assert "no thresholds for set(s) tiny" in err.getvalue()
