"""The ``assistente`` console script: declared in pyproject.toml, installed, and the same
command line as ``python -m assistant`` (ingest, documents, ask --json on a small corpus;
serve runs the same start-up as ``python app.py``)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from bench.app_process import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "assistente"
TARGET = "assistant.cli:main"


def installed_main():
    """The function the installed ``assistente`` script calls (its entry point)."""
    found = entry_points(group="console_scripts", name=SCRIPT)
    assert found, f"{SCRIPT} is not installed: run .venv/bin/pip install -e . --no-deps"
    (entry,) = found
    assert entry.value == TARGET
    return entry.load()


def run(main, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def indexed(demo_corpus, tmp_path, monkeypatch) -> Path:
    """The demo corpus indexed by ``assistente ingest`` (hashing embedder, also for ask)."""
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    index = tmp_path / "index"
    code, out, err = run(installed_main(), "ingest", "--corpus", str(demo_corpus),
                         "--index", str(index), "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["files_indexed"] == 5
    return index


def test_pyproject_declares_the_script():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"] == {SCRIPT: TARGET}


def test_the_script_is_the_command_line_of_python_m_assistant():
    from assistant import cli

    assert installed_main() is cli.main


def test_documents_lists_the_indexed_corpus(indexed):
    code, out, err = run(installed_main(), "documents", "--index", str(indexed))
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 5
    by_source = {row[0]: row for row in rows}
    assert by_source["galatina_pnrr_m5c2.txt"][3] == "L'A.T.S. di Galatina e il PNRR (Missione 5)"
    assert all(row[2].endswith("passaggi") for row in rows)


def test_ask_json_answers_with_citations(indexed):
    question = "Quanto vale il progetto per persone con disabilità a Galatina?"
    code, out, err = run(installed_main(), "ask", "--json", "--index", str(indexed), question)
    assert code == 0, err
    (line,) = out.splitlines()
    answer = json.loads(line)
    assert answer["question"] == question and not answer["refused"]
    assert "715.000" in answer["answer"]
    assert answer["citations"][0]["source"] == "galatina_pnrr_m5c2.txt"


def test_a_missing_index_is_an_italian_message_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    code, out, err = run(installed_main(), "ask", "--json", "--index", str(tmp_path / "nulla"),
                         "Che servizi ci sono?")
    assert code == 1 and out == ""
    assert "ingest" in err


def test_the_installed_executable_runs(indexed):
    """The real ``.venv/bin/assistente`` file pip wrote, in a process of its own."""
    script = Path(sys.executable).parent / SCRIPT
    assert script.is_file(), f"{script} missing: run .venv/bin/pip install -e . --no-deps"
    env = {**os.environ, "ASSISTANT_EMBEDDER": "hashing"}
    done = subprocess.run([str(script), "documents", "--index", str(indexed)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5
    usage = subprocess.run([str(script), "--help"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert usage.returncode == 0 and "documents" in usage.stdout


# ---- serve -------------------------------------------------------------------------------
def test_serve_is_the_start_up_of_app_py(monkeypatch):
    import importlib.util

    from assistant.ui import launch

    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    assert app.main is launch.main and app.parse_args is launch.parse_args
    seen = []
    monkeypatch.setattr(launch, "main", lambda argv, prog=None: seen.append((argv, prog)) or 0)
    code, _out, _err = run(installed_main(), "--config", "web.toml", "serve", "--port", "9000",
                           "--operator-port", "0")
    assert code == 0
    assert seen == [(["--config=web.toml", "--port", "9000", "--operator-port", "0"],
                     "python -m assistant serve")]


def test_serve_help_and_a_bad_port(capsys):
    main = installed_main()
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    assert "--operator-port" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "ottanta"])
    assert info.value.code == 2
    assert "Porta non valida: ottanta" in capsys.readouterr().err


def test_other_commands_still_refuse_unknown_options(capsys):
    with pytest.raises(SystemExit) as info:
        installed_main()(["documents", "--porta", "1"])
    assert info.value.code == 2
    assert "unrecognized arguments: --porta 1" in capsys.readouterr().err


@pytest.mark.slow
def test_assistente_serve_really_serves_the_app(demo_corpus, tmp_path):
    """``.venv/bin/assistente serve`` indexes the corpus and answers HTTP (operator app off)."""
    script = Path(sys.executable).parent / SCRIPT
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_EMBEDDER": "hashing", "GRADIO_ANALYTICS_ENABLED": "False"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(script), "serve", "--port", str(port), "--operator-port",
                                 "0", "--corpus", str(demo_corpus), "--index",
                                 str(tmp_path / "index"), "--feedback-db",
                                 str(tmp_path / "feedback.sqlite3")],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240  # a generous bound for a loaded machine
            while not serving(f"http://127.0.0.1:{port}/"):
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.5)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert (tmp_path / "index").is_dir()
