"""Start the real app (``python app.py``) on a free port of 127.0.0.1, for end-to-end tests.

Used by tests/test_ui_e2e.py and tests/browser/. The app runs in a subprocess with the
hashing embedder, over a copy of the demo corpus, and indexes it at start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(workdir: Path, timeout: float = 240.0) -> Iterator[dict]:
    """Yields {"url", "log", "feedback_db", "workdir"} once the app answers HTTP."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "corpus").exists():
        shutil.copytree(ROOT / "corpus", workdir / "corpus")
    port = free_port()
    log = workdir / "app.log"
    feedback_db = workdir / "feedback.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({
        "ASSISTANT_EMBEDDER": "hashing", "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port), "ASSISTANT_CORPUS_DIR": str(workdir / "corpus"),
        "ASSISTANT_INDEX_DIR": str(workdir / "index"),
        "ASSISTANT_FEEDBACK_DB": str(feedback_db),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
    })
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {proc.returncode}:\n"
                                       + log.read_text(errors="replace"))
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app.py not ready after {timeout} s:\n"
                                       + log.read_text(errors="replace"))
                time.sleep(0.5)
            yield {"url": url, "log": log, "feedback_db": feedback_db, "workdir": workdir,
                   "started": deadline - timeout}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
