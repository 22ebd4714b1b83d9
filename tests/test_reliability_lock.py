"""One writer per index, and questions never blocked by an ingest (issue 15, item 4).

Two real ``python -m assistant ingest`` processes on one index; an app-style Assistant
ingesting while a CLI ingest tries the same index; questions asked while an ingest runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings, messages
from assistant.errors import IndexBusyError
from assistant.locking import IndexWriteLock

ROOT = Path(__file__).resolve().parent.parent

# a hook that makes the ingest of one process stop after its first file, until a file
# named by PAUSE_UNTIL disappears (PAUSED is written when it stops there)
PAUSE_HOOK = '''
import os, pathlib, time
import assistant.store as store

_add = store.ChunkStore.add
_state = {"done": False}

def add(self, nodes, embeddings):
    _add(self, nodes, embeddings)
    if not _state["done"]:
        _state["done"] = True
        pathlib.Path(os.environ["PAUSED"]).write_text(str(os.getpid()))
        while pathlib.Path(os.environ["PAUSE_UNTIL"]).exists():
            time.sleep(0.05)

store.ChunkStore.add = add
'''


def make_corpus(corpus: Path, n: int = 6, version: str = "prima") -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (corpus / f"scheda_{i}.txt").write_text(
            f"# Scheda {i}\n\nIl servizio di trasporto sociale numero {i} ({version} "
            f"versione) accompagna le persone anziane alle visite mediche. La domanda si "
            f"presenta allo sportello del comune {i}.\n\nIl contributo è di {10 + i} euro.",
            encoding="utf-8")


def env_for(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_EMBEDDER": "hashing", "PYTHONPATH": str(ROOT),
                "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *args]


def paused_ingest(folder: Path, corpus: Path, index: Path) -> tuple[subprocess.Popen, Path]:
    """A CLI ingest that stops, holding the index, after storing its first file."""
    (folder / "pause_hook.py").write_text(PAUSE_HOOK, encoding="utf-8")
    gate, paused = folder / "gate", folder / "paused"
    gate.write_text("x")
    code = (f"import runpy, sys; sys.path.insert(0, {str(folder)!r}); import pause_hook; "
            f"sys.argv = ['assistant', 'ingest', '--corpus', {str(corpus)!r}, '--index', "
            f"{str(index)!r}, '--quiet', '--json']; "
            f"runpy.run_module('assistant', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=folder, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(PAUSED=str(paused), PAUSE_UNTIL=str(gate)))
    deadline = time.monotonic() + 120
    while not paused.exists():
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the first ingest never stored a file"
        time.sleep(0.05)
    return proc, gate


# ---- the lock itself ---------------------------------------------------------------------
def test_a_second_writer_waits_its_timeout_then_gets_an_italian_message(tmp_path):
    first = IndexWriteLock(tmp_path, timeout=0)
    first.acquire()
    now = [0.0]
    second = IndexWriteLock(tmp_path, timeout=5, poll=1, clock=lambda: now[0],
                            sleep=lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(IndexBusyError) as caught:
        second.acquire()
    assert now[0] >= 5  # it waited the whole timeout, no more than one poll beyond
    text = messages.for_error(caught.value)
    assert text.startswith("Un'altra indicizzazione è in corso") and str(os.getpid()) in text
    assert first.held and not second.held
    first.release()
    second.acquire()  # free again
    second.release()


def test_readers_see_a_writer_without_waiting(tmp_path):
    lock = IndexWriteLock(tmp_path)
    with lock.reading() as free:
        assert free
    with lock:
        assert IndexWriteLock(tmp_path).busy()
    assert not IndexWriteLock(tmp_path).busy()


# ---- two real processes ----------------------------------------------------------------
def test_two_cli_ingests_one_index_the_second_fails_clearly_and_nothing_breaks(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    first, gate = paused_ingest(tmp_path, corpus, index)
    try:
        second = subprocess.run(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                                    "--quiet"), cwd=tmp_path, capture_output=True,
                                text=True, timeout=120,
                                env=env_for(ASSISTANT_INDEX_LOCK_TIMEOUT="1"))
    finally:
        gate.unlink()
    out, err = first.communicate(timeout=120)
    assert second.returncode == 1
    assert "Un'altra indicizzazione è in corso" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["files_indexed"] == 6
    # the index works for both kinds of use afterwards (before the lock: exit 139)
    asked = subprocess.run(cli("ask", "--index", str(index), "--json",
                               "trasporto sociale scheda 3"), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env=env_for())
    assert asked.returncode == 0, asked.stderr[-2000:]
    again = subprocess.run(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                               "--quiet", "--json"), cwd=tmp_path, capture_output=True,
                           text=True, timeout=120, env=env_for())
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["files_unchanged"] == 6


def test_concurrent_cli_ingests_are_serialised_and_both_end_consistent(tmp_path):
    """Started together without hooks: the second waits for the first (default timeout),
    then finds everything indexed; the store holds each chunk once."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus, n=20)
    procs = [subprocess.Popen(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                                  "--quiet", "--json"), cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for())
             for _ in range(2)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["files_indexed"] for r in reports) == [0, 20]
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing")
    bot = Assistant(settings, embedder=HashingEmbedder())
    ids = bot.store.ids()
    assert len(ids) == len(set(ids)) == sum(d["chunks"] for d in bot.documents())


def test_app_ingest_and_cli_ingest_on_one_index(tmp_path):
    """The app (an Assistant in this process) ingests; a CLI ingest on the same index
    fails with the Italian message while it runs, and succeeds after it."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing")
    app = Assistant(settings, embedder=HashingEmbedder())
    started, go_on = threading.Event(), threading.Event()

    def progress(done: int, total: int, name: str) -> None:
        if done == 2:
            started.set()
            go_on.wait(120)

    worker = threading.Thread(target=app.ingest, kwargs={"progress": progress})
    worker.start()
    try:
        assert started.wait(120)
        busy = subprocess.run(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                                  "--quiet"), cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=env_for(ASSISTANT_INDEX_LOCK_TIMEOUT="0.5"))
    finally:
        go_on.set()
        worker.join(120)
    assert busy.returncode == 1 and "Un'altra indicizzazione è in corso" in busy.stderr
    done = subprocess.run(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                              "--quiet", "--json"), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env_for())
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["files_unchanged"] == 6


def test_cli_ingest_while_the_app_answers(tmp_path):
    """A CLI ingest changes every document while the app answers: during it the app
    answers from the previous version (its searches see none of the new chunks), and
    after it from the new one."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing",
                        state_check_seconds=0)
    app = Assistant(settings, embedder=HashingEmbedder())
    app.ingest()
    make_corpus(corpus, version="seconda")
    first, gate = paused_ingest(tmp_path, corpus, index)
    try:
        app.ask("Che cosa fa il servizio di trasporto sociale numero 0?")  # answers at once
        during = [h.chunk.text for h in app.retriever.retrieve(
            "trasporto sociale numero 0 seconda versione", 20)]
    finally:
        gate.unlink()
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    assert during and all("prima versione" in t for t in during if "versione" in t)
    app.refresh()
    after = [h.chunk.text for h in app.retriever.retrieve(
        "trasporto sociale numero 0 seconda versione", 20)]
    assert after and all("seconda versione" in t for t in after if "versione" in t)


def test_a_question_is_answered_while_the_same_app_ingests(tmp_path):
    """Before: the ingest held the lock every question needs (a user waited for the whole
    upload). Now the question is answered while the ingest is stopped midway."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing",
                        state_check_seconds=0)
    app = Assistant(settings, embedder=HashingEmbedder())
    app.ingest()
    make_corpus(corpus, version="seconda")
    started, go_on = threading.Event(), threading.Event()

    def progress(done: int, total: int, name: str) -> None:
        if done == 3:
            started.set()
            go_on.wait(120)

    worker = threading.Thread(target=app.ingest, kwargs={"progress": progress})
    worker.start()
    answered: list = []
    try:
        assert started.wait(120)
        asker = threading.Thread(target=lambda: answered.append(
            app.ask("Che cosa fa il servizio di trasporto sociale numero 0?")))
        asker.start()
        asker.join(60)  # generous: it takes milliseconds; before the fix, forever
        assert not asker.is_alive() and answered
    finally:
        go_on.set()
        worker.join(120)


def test_many_first_questions_at_once_wait_for_the_first_state(tmp_path):
    """A fresh app hit by several users at once: none answers from an empty state."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing")
    Assistant(settings, embedder=HashingEmbedder()).ingest()
    question = "Quanto è il contributo del trasporto sociale numero 2?"
    expected = Assistant(settings, embedder=HashingEmbedder()).ask(question).answer
    fresh = Assistant(settings, embedder=HashingEmbedder())
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(fresh.ask(question).answer))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert answers == [expected] * 8


@pytest.mark.slow
def test_real_embedder_two_processes_and_a_bad_byte_in_a_question(tmp_path):
    """With the default embedder (USE) in real processes: a second ingest is refused while
    the first runs, and a question holding a byte that is not UTF-8 (a lone surrogate once
    decoded) is answered instead of crashing the embedder."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    make_corpus(corpus, n=3)
    env = {k: v for k, v in env_for().items() if k != "ASSISTANT_EMBEDDER"}
    (tmp_path / "pause_hook.py").write_text(PAUSE_HOOK, encoding="utf-8")
    gate, paused = tmp_path / "gate", tmp_path / "paused"
    gate.write_text("x")
    code = (f"import runpy, sys; sys.path.insert(0, {str(tmp_path)!r}); import pause_hook; "
            f"sys.argv = ['assistant', 'ingest', '--corpus', {str(corpus)!r}, '--index', "
            f"{str(index)!r}, '--quiet', '--json']; "
            f"runpy.run_module('assistant', run_name='__main__')")
    first = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**env, "PAUSED": str(paused), "PAUSE_UNTIL": str(gate)})
    try:
        deadline = time.monotonic() + 600
        while not paused.exists():
            assert first.poll() is None, first.stderr.read()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        second = subprocess.run(cli("ingest", "--corpus", str(corpus), "--index", str(index),
                                    "--quiet"), cwd=tmp_path, capture_output=True, text=True,
                                timeout=600, env={**env, "ASSISTANT_INDEX_LOCK_TIMEOUT": "1"})
    finally:
        gate.unlink()
    _out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 1 and "Un'altra indicizzazione è in corso" in second.stderr
    asked = subprocess.run([sys.executable.encode(), b"-m", b"assistant", b"ask", b"--index",
                            str(index).encode(), b"--json",
                            b"trasporto sociale \xe9 scheda 1"], cwd=tmp_path,
                           capture_output=True, timeout=600, env=env)
    assert asked.returncode == 0, asked.stderr.decode(errors="replace")[-2000:]
    assert json.loads(asked.stdout.decode().strip().splitlines()[-1])["question"] == \
        "trasporto sociale  scheda 1"
