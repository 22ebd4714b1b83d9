"""Start the real app (``python app.py``) on free ports of 127.0.0.1, for end-to-end tests.

Used by tests/test_ui_e2e.py, tests/test_app_two_faces.py and tests/browser/. The app runs
in a subprocess with the hashing embedder, over a copy of the demo corpus, and indexes it
at start; its operator app has two users (``OPERATORS``: name -> (password, role)).
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
ACCESSIBILITY_URL = "https://www.comune.example.it/dichiarazione-accessibilita"
ACCESSIBILITY_FEEDBACK = "mailto:urp@comune.example.it"
OPERATORS = {"anna": ("password-di-anna-1", "amministratore"),
             "bruno": ("password-di-bruno-1", "operatore")}


def write_users(path: Path) -> None:
    """The users file, written by the real command (bcrypt cost 4 would be quicker, but the
    app must read what the command writes)."""
    from assistant.ui.auth import UserFile

    users = UserFile(path, rounds=4)
    for name, (password, role) in OPERATORS.items():
        users.add(name, password, role)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(workdir: Path, timeout: float = 240.0) -> Iterator[dict]:
    """Yields {"url", "operator_url", "log", "feedback_db", "workdir"} once both apps
    answer HTTP."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "corpus").exists():
        shutil.copytree(ROOT / "corpus", workdir / "corpus")
    users_file = workdir / "operatori.yaml"
    if not users_file.exists():
        write_users(users_file)
    port = free_port()
    operator_port = free_port()
    while operator_port == port:
        operator_port = free_port()
    log = workdir / "app.log"
    feedback_db = workdir / "feedback.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({
        "ASSISTANT_EMBEDDER": "hashing", "ASSISTANT_HOST": "127.0.0.1",
        "ASSISTANT_PORT": str(port), "ASSISTANT_CORPUS_DIR": str(workdir / "corpus"),
        "ASSISTANT_INDEX_DIR": str(workdir / "index"),
        "ASSISTANT_FEEDBACK_DB": str(feedback_db),
        "ASSISTANT_WEB_OPERATOR_PORT": str(operator_port),
        "ASSISTANT_WEB_USERS_FILE": str(users_file),
        "ASSISTANT_WEB_ACCESSIBILITY_URL": ACCESSIBILITY_URL,
        "ASSISTANT_WEB_ACCESSIBILITY_FEEDBACK": ACCESSIBILITY_FEEDBACK,
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
    })
    url = f"http://127.0.0.1:{port}/"
    operator_url = f"http://127.0.0.1:{operator_port}/"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {proc.returncode}:\n"
                                       + log.read_text(errors="replace"))
                if _answers(url) and _answers(operator_url + "accesso"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"app.py not ready after {timeout} s:\n"
                                       + log.read_text(errors="replace"))
                time.sleep(0.5)
            yield {"url": url, "operator_url": operator_url, "log": log,
                   "feedback_db": feedback_db, "workdir": workdir,
                   "started": deadline - timeout}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
