"""The real app (``python app.py``) in a subprocess on 127.0.0.1, started and waited for until
it answers HTTP, then stopped: one helper for the soak benchmark (``bench/soak.py``) and the
end-to-end tests (``tests/browser/app_server.py``).

It lives in ``bench/`` because the benchmarks must not import test code; the tests may import
``bench`` (they test it already).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving(url: str) -> bool:
    """Whether ``url`` answers HTTP 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def with_demo_corpus(workdir: Path) -> Path:
    """``workdir``, created, with a copy of the demo corpus in ``workdir/corpus`` unless it
    has one already (the app may change its corpus; the repository's stays as it is)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "corpus").exists():
        shutil.copytree(ROOT / "corpus", workdir / "corpus")
    return workdir


def app_env(workdir: Path, port: int, embedder: str,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an app in ``workdir``: this process's without its ``ASSISTANT_*``
    variables, offline, the public app on ``port``, corpus, index and feedback database in
    ``workdir``; ``extra`` last (the operator app, users, ...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({
        "ASSISTANT_EMBEDDER": embedder, "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port), "ASSISTANT_CORPUS_DIR": str(workdir / "corpus"),
        "ASSISTANT_INDEX_DIR": str(workdir / "index"),
        "ASSISTANT_FEEDBACK_DB": str(workdir / "feedback.sqlite3"),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False",
    })
    env.update(extra or {})
    return env


class AppProcess:
    """A command (by default ``app.py``) run in ``workdir`` with ``env``, its output appended
    to ``workdir/app.log``; ``start()`` returns once every URL of ``ready`` answers HTTP 200.

    A process that exits, or is not ready within ``timeout`` seconds, is stopped and
    ``start()`` raises ``RuntimeError`` with the end of its log. ``stop()`` terminates it and
    kills it after ``grace`` seconds. Use it as a context manager, or start and stop it.
    """

    def __init__(self, workdir: Path, env: Mapping[str, str], ready: Sequence[str],
                 command: Sequence[str] | None = None, timeout: float = 600.0,
                 poll: float = 1.0, grace: float = 20.0) -> None:
        if not ready:
            raise ValueError("ready must name at least one URL to wait for, got none")
        for name, value in (("timeout", timeout), ("poll", poll), ("grace", grace)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        self.workdir, self.env, self.ready = Path(workdir), dict(env), list(ready)
        self.command = list(command) if command else [sys.executable, str(APP)]
        self.timeout, self.poll, self.grace = timeout, poll, grace
        self.log = self.workdir / "app.log"
        self.process: subprocess.Popen | None = None
        self.started = 0.0  # time.monotonic() when start() launched the process

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the app process is not started")
        return self.process.pid

    def start(self) -> "AppProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with self.log.open("ab") as out:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(self.command, cwd=self.workdir, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)
        deadline = self.started + self.timeout
        while not all(serving(url) for url in self.ready):
            if self.process.poll() is not None:
                self._fail(f"exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"not ready after {self.timeout:g} s")
            time.sleep(self.poll)
        return self

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _fail(self, what: str) -> None:
        self.stop()
        tail = self.log.read_text(errors="replace")[-6000:]
        raise RuntimeError(f"{' '.join(self.command[1:]) or self.command[0]} {what}:\n{tail}")

    def __enter__(self) -> "AppProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
