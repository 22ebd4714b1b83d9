"""Start the real app (``python app.py``) on free ports of 127.0.0.1, for end-to-end tests.

Used by tests/test_ui_e2e.py, tests/test_app_two_faces.py and tests/browser/. The app runs
in a subprocess with the hashing embedder, over a copy of the demo corpus, and indexes it
at start; its operator app has two users (``OPERATORS``: name -> (password, role)).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # bench/ is not installed; tests run from anywhere
    sys.path.insert(0, str(ROOT))

from bench.app_process import AppProcess, app_env, free_port, with_demo_corpus  # noqa: E402

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


@contextmanager
def running_app(workdir: Path, timeout: float = 240.0) -> Iterator[dict]:
    """Yields {"url", "operator_url", "log", "feedback_db", "workdir", "started"} once both
    apps answer HTTP ("started": ``time.monotonic()`` when the process was launched)."""
    with_demo_corpus(workdir)
    users_file = workdir / "operatori.yaml"
    if not users_file.exists():
        write_users(users_file)
    port = free_port()
    operator_port = free_port()
    while operator_port == port:
        operator_port = free_port()
    env = app_env(workdir, port, "hashing", {
        "ASSISTANT_WEB_OPERATOR_PORT": str(operator_port),
        "ASSISTANT_WEB_USERS_FILE": str(users_file),
        "ASSISTANT_WEB_ACCESSIBILITY_URL": ACCESSIBILITY_URL,
        "ASSISTANT_WEB_ACCESSIBILITY_FEEDBACK": ACCESSIBILITY_FEEDBACK,
    })
    url = f"http://127.0.0.1:{port}/"
    operator_url = f"http://127.0.0.1:{operator_port}/"
    with AppProcess(workdir, env, [url, operator_url + "accesso"], timeout=timeout,
                    poll=0.5, grace=15.0) as app:
        yield {"url": url, "operator_url": operator_url, "log": app.log,
               "feedback_db": workdir / "feedback.sqlite3", "workdir": workdir,
               "started": app.started}
