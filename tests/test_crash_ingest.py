"""Crash safety: ``kill -9`` during ``python -m assistant ingest``, then ingest again.

Afterwards the index must be exactly what a clean ingest produces: the same chunk ids (no
duplicates, nothing half-indexed taken as complete), and a manifest that agrees with the
store file by file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import HashingEmbedder, Settings
from assistant.ingestion.ocr import NoOCR
from assistant.ingestion.pipeline import MANIFEST_NAME, Ingestor
from assistant.store import ChunkStore, Manifest

ROOT = Path(__file__).resolve().parent.parent
N_FILES = 60
VICTIM = "doc_030.txt"  # the file being stored when the second kill lands

HOOK = '''
import os, pathlib, sys, time
import assistant.store as store

_add = store.ChunkStore.add

def add(self, nodes, embeddings):
    source = nodes[0].metadata.get("source") if nodes else None
    if source == os.environ["CRASH_SOURCE"] and len(nodes) > 1:
        half = len(nodes) // 2
        _add(self, nodes[:half], embeddings[:half])
        pathlib.Path(os.environ["CRASH_MARKER"]).write_text(str(half))
        time.sleep(120)  # killed here, with half of the file's chunks stored
    return _add(self, nodes, embeddings)

store.ChunkStore.add = add
'''


def make_corpus(corpus: Path) -> None:
    corpus.mkdir(parents=True)
    topics = ["assistenza domiciliare", "centro diurno", "trasporto sociale", "mensa",
              "contributo affitto", "servizio civile", "sportello lavoro", "asilo nido"]
    for i in range(N_FILES):
        topic = topics[i % len(topics)]
        paragraphs = [f"# Scheda {i}: {topic}"]
        for j in range(6):
            paragraphs.append(
                f"Il servizio {topic} numero {i}-{j} è rivolto ai residenti del comune {i}. "
                f"La domanda si presenta allo sportello sociale entro il giorno {j + 1} del "
                f"mese, con ISEE aggiornato e documento d'identità del richiedente {i}{j}. "
                f"Il contributo massimo è di {100 * (j + 1) + i} euro per nucleo familiare.")
        (corpus / f"doc_{i:03d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def env_for(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_EMBEDDER": "hashing", "PYTHONPATH": str(ROOT),
                "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    env.update(extra)
    return env


def ingest_cmd(corpus: Path, index: Path) -> list[str]:
    return ["-m", "assistant", "ingest", "--corpus", str(corpus), "--index", str(index),
            "--quiet", "--json"]


def manifest_files(index: Path) -> dict:
    try:
        return json.loads((index / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return {}


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def open_store(corpus: Path, index: Path) -> ChunkStore:
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing")
    return ChunkStore(settings, HashingEmbedder())


def state(corpus: Path, index: Path) -> tuple[list[str], dict[str, int], dict]:
    store = open_store(corpus, index)
    ids = [c.id for c in store.iter_chunks(include_text=False)]
    return ids, store.sources(), Manifest(index / MANIFEST_NAME).files


@pytest.fixture(scope="module")
def crashed_and_resumed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    corpus, index = folder / "corpus", folder / "index"
    make_corpus(corpus)
    facts: dict = {}

    # 1. kill -9 at a random moment of a plain `python -m assistant ingest`
    proc = subprocess.Popen([sys.executable, *ingest_cmd(corpus, index)], env=env_for(),
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(manifest_files(index)) < 10:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.005)
    kill(proc)
    facts["after_first_kill"] = len(manifest_files(index))

    # 2. kill -9 while a file's chunks are half stored, then delete that file
    hook = folder / "crash_hook.py"
    hook.write_text(HOOK, encoding="utf-8")
    marker = folder / "half-stored"
    code = (f"import runpy, sys; sys.path.insert(0, {str(folder)!r}); import crash_hook; "
            f"sys.argv = ['assistant', *{ingest_cmd(corpus, index)[2:]!r}]; "
            f"runpy.run_module('assistant', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env=env_for(CRASH_SOURCE=VICTIM, CRASH_MARKER=str(marker)))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the hooked ingest never reached the victim"
        time.sleep(0.01)
    time.sleep(0.2)  # let Chroma finish the half write it reported
    kill(proc)
    ids, sources, manifest = state(corpus, index)
    facts["victim_half"] = sources.get(VICTIM, 0)
    facts["victim_in_manifest"] = VICTIM in manifest
    facts["store_before_resume"] = len(ids)
    facts["manifest_total_before_resume"] = sum(v["chunks"] for v in manifest.values())
    (corpus / VICTIM).unlink()  # its orphan chunks must go at the next run

    # 3. resume with a normal run
    done = subprocess.run([sys.executable, *ingest_cmd(corpus, index)], env=env_for(),
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    facts["resume_report"] = json.loads(done.stdout.strip().splitlines()[-1])

    # the reference: a clean, uninterrupted ingest of the same corpus
    clean_index = folder / "clean"
    settings = Settings(corpus_dir=corpus, index_dir=clean_index, embedder="hashing")
    embedder = HashingEmbedder()
    Ingestor(settings, ChunkStore(settings, embedder), embedder, ocr=NoOCR()).run(corpus)
    return facts, state(corpus, index), state(corpus, clean_index)


def test_the_kills_landed_mid_ingest(crashed_and_resumed):
    facts, _resumed, _clean = crashed_and_resumed
    assert 10 <= facts["after_first_kill"] < N_FILES
    assert facts["victim_half"] > 0  # half of the victim's chunks were in the store...
    assert not facts["victim_in_manifest"]  # ...and the manifest did not take it as done
    assert facts["store_before_resume"] > facts["manifest_total_before_resume"]


def test_resumed_index_equals_a_clean_ingest(crashed_and_resumed):
    facts, (ids, sources, manifest), (clean_ids, clean_sources, clean_manifest) = \
        crashed_and_resumed
    assert len(ids) == len(set(ids))  # no duplicate chunks
    assert sorted(ids) == sorted(clean_ids)
    assert sources == clean_sources
    assert VICTIM not in sources  # orphans of the deleted, half-indexed file are gone
    assert {k: v["hash"] for k, v in manifest.items()} == \
        {k: v["hash"] for k, v in clean_manifest.items()}
    assert facts["resume_report"]["repaired"] >= 1
    assert facts["resume_report"]["skipped"] == []


def test_manifest_agrees_with_the_store(crashed_and_resumed):
    _facts, (ids, sources, manifest), _clean = crashed_and_resumed
    assert set(manifest) == set(sources)
    assert {k: v["chunks"] for k, v in manifest.items()} == sources
    assert sum(sources.values()) == len(ids)


def test_repair_removes_orphans_and_redoes_short_sources(tmp_path):
    """In-process: chunks of an unlisted source go; a listed source with missing chunks is
    indexed again; a consistent index is left alone (the count check short-circuits)."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (corpus / name).write_text(f"Documento {name}: servizio sociale e contributi.\n\n"
                                   f"Secondo paragrafo di {name} sul trasporto.",
                                   encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder="hashing")
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    ingest = Ingestor(settings, store, embedder, ocr=NoOCR())
    ingest.run(corpus)
    clean = sorted(c.id for c in store.iter_chunks(include_text=False))
    assert Ingestor(settings, store, embedder, ocr=NoOCR()).repair() == 0

    manifest = Manifest(index / MANIFEST_NAME)
    del manifest.files["c.txt"]  # c's chunks stored, run killed before the manifest save
    # b listed with chunks the store lacks (not +1: the cheap count check would see the
    # totals agree; a crash cannot make both errors at once)
    manifest.files["b.txt"]["chunks"] += 2
    manifest.save()
    (corpus / "c.txt").unlink()
    report = Ingestor(settings, store, embedder, ocr=NoOCR()).run(corpus)
    assert report.repaired == 2 and report.files_indexed == 1  # b again
    assert set(store.sources()) == {"a.txt", "b.txt"}
    assert sorted(c.id for c in store.iter_chunks(include_text=False)) == sorted(
        c.id for c in store.iter_chunks(include_text=False) if c.source != "c.txt")
    assert set(Manifest(index / MANIFEST_NAME).files) == {"a.txt", "b.txt"}
    assert len(clean) > store.count()
