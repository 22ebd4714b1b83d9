"""The app-in-a-subprocess helper shared by the soak benchmark and the end-to-end tests
(bench/app_process.py), on small stand-in commands instead of the app."""

from __future__ import annotations

import sys

import pytest

from bench.app_process import AppProcess, app_env, free_port, serving, with_demo_corpus


def test_start_waits_for_the_url_and_stop_ends_the_process(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with AppProcess(tmp_path, {}, [url], command, timeout=60, poll=0.2) as app:
        assert serving(url)
        process = app.process
    assert process is not None and process.poll() is not None
    assert not serving(url)


def test_a_process_that_exits_raises_with_its_log(tmp_path):
    command = [sys.executable, "-c", "print('porta occupata'); raise SystemExit(3)"]
    app = AppProcess(tmp_path, {}, [f"http://127.0.0.1:{free_port()}/"], command, poll=0.2)
    with pytest.raises(RuntimeError, match=r"exited with 3:\n.*porta occupata"):
        app.start()
    assert app.process is not None and app.process.poll() == 3


@pytest.mark.parametrize("options,named", [
    ({"ready": []}, "ready"), ({"timeout": 0}, "timeout"), ({"poll": -1.0}, "poll"),
    ({"grace": 0.0}, "grace")])
def test_bad_options_are_named(tmp_path, options, named):
    arguments = {"ready": ["http://127.0.0.1:1/"], **options}
    with pytest.raises(ValueError, match=named):
        AppProcess(tmp_path, {}, **arguments)


def test_env_drops_the_callers_settings_and_keeps_the_app_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_ANSWERER", "llm")
    env = app_env(with_demo_corpus(tmp_path / "w"), 8123, "hashing",
                  {"ASSISTANT_WEB_OPERATOR_PORT": "0"})
    assert "ASSISTANT_ANSWERER" not in env
    assert env["ASSISTANT_PORT"] == "8123" and env["ASSISTANT_EMBEDDER"] == "hashing"
    assert env["ASSISTANT_CORPUS_DIR"] == str(tmp_path / "w" / "corpus")
    assert env["HF_HUB_OFFLINE"] == "1" and env["ASSISTANT_WEB_OPERATOR_PORT"] == "0"
    assert any((tmp_path / "w" / "corpus").iterdir())
