"""The regression gate: the default configuration with the real default embedder on every
reference set of the suite (demo, second, manuals, piano-triennale), each against its own
section of evals/thresholds.yaml, so `make test` fails when answer quality drops on any corpus.

About 20 s on a quiet 2-core machine with a cold index cache (four corpora ingested, 310
questions); the bound below leaves room for a loaded one."""

from __future__ import annotations

import io
import time

import pytest

from evals.cli import main
from evals.gate import DEFAULT_THRESHOLDS, SuiteThresholds
from evals.suite import Suite


@pytest.mark.slow
def test_eval_gate_passes_on_every_corpus(tmp_path):
    thresholds = SuiteThresholds.load(DEFAULT_THRESHOLDS)
    assert set(thresholds.sets) == set(Suite.load().names)  # every corpus is gated
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = main(["gate", "--cache", str(tmp_path / "cache"), "--quiet"], out, err)
    seconds = time.perf_counter() - started
    assert code == 0, f"eval gate failed:\n{err.getvalue()}\n{out.getvalue()}"
    assert f"gate passed (default, {len(thresholds.sets)} sets" in err.getvalue()
    for name in thresholds.sets:
        assert name in out.getvalue()  # the per-corpus table names every set
    assert seconds < 240, f"the gate took {seconds:.0f} s"
