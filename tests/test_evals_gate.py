"""The regression gate: the default configuration with the real default embedder on the demo
corpus against evals/thresholds.yaml, so `make test` fails when answer quality drops."""

from __future__ import annotations

import io
import time

import pytest

from evals.cli import main


@pytest.mark.slow
def test_eval_gate_passes(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = main(["gate", "--cache", str(tmp_path / "cache"), "--quiet"], out, err)
    seconds = time.perf_counter() - started
    assert code == 0, f"eval gate failed:\n{err.getvalue()}\n{out.getvalue()}"
    assert "gate passed" in err.getvalue()
    assert seconds < 240, f"the gate took {seconds:.0f} s"
