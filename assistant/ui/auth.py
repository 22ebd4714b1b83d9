"""Operator login: users and roles from a YAML file with bcrypt hashes, sessions that
expire, and a lock-out after repeated failures.

``OperatorLogin`` is what the operator server uses (``server.py``); ``users_main`` is the
command ``python -m assistant users add NAME --role operatore``. The users file::

    users:
      anna:
        role: operatore
        password: "$2b$12$..."      # bcrypt; never the password itself

Everything keeps its state in memory of one process (sessions end when the app restarts)
and takes its clock as an argument, so the expiry and lock-out are tested without waiting.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, TextIO

import yaml

from ..errors import ConfigError
from . import texts

if TYPE_CHECKING:
    from .webconfig import WebSettings

Clock = Callable[[], float]

# what each role may do in the operator app
PERMISSIONS = ("search", "export", "unanswered", "feedback_export", "documents_edit")
ROLES = {
    "operatore": frozenset({"search", "export", "unanswered", "feedback_export"}),
    "amministratore": frozenset(PERMISSIONS),
}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
# checked against when the user does not exist, so that both cases take as long
_DUMMY_HASH = b"$2b$12$rAxT3z5G58qrthkKBCDNf.FWsMkAfP3rpjtQ4S/.RuEzTuGdRIN8u"


@dataclass(frozen=True)
class Operator:
    """A logged-in member of staff."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())


def normal_name(name: str) -> str:
    return (name or "").strip().lower()


class UserFile:
    """The users file: read again when it changes on disk, written atomically (mode 600)."""

    def __init__(self, path: str | Path, rounds: int = 12) -> None:
        if not 4 <= int(rounds) <= 31:
            raise ValueError(f"rounds must be between 4 and 31, got {rounds!r}")
        self.path = Path(path)
        self.rounds = int(rounds)
        self._cache: tuple[float, dict[str, dict[str, str]]] | None = None
        self._lock = threading.Lock()

    def users(self) -> dict[str, dict[str, str]]:
        """name -> {"role", "password"}; empty when the file does not exist."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, self._read())
            return dict(self._cache[1])

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{self.path}: {exc}", setting="users_file") from exc
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise ConfigError(f"{self.path}: 'users' must be a mapping of names",
                              setting="users_file")
        out: dict[str, dict[str, str]] = {}
        for name, entry in users.items():
            if not isinstance(entry, dict) or entry.get("role") not in ROLES \
                    or not str(entry.get("password", "")).startswith("$2"):
                raise ConfigError(f"{self.path}: user {name!r} needs a role "
                                  f"({', '.join(ROLES)}) and a bcrypt password hash",
                                  setting="users_file")
            out[normal_name(str(name))] = {"role": entry["role"],
                                           "password": str(entry["password"])}
        return out

    def verify(self, name: str, password: str) -> Operator | None:
        import bcrypt

        entry = self.users().get(normal_name(name))
        stored = entry["password"].encode() if entry else _DUMMY_HASH
        secret = (password or "").encode("utf-8")
        try:
            matched = len(secret) <= MAX_PASSWORD_BYTES and bcrypt.checkpw(secret, stored)
        except ValueError:
            matched = False
        return Operator(normal_name(name), entry["role"]) if entry and matched else None

    def add(self, name: str, password: str, role: str) -> bool:
        """Add or replace a user; True when it replaced one. Bad values raise ValueError
        with the Italian reason (the command prints it)."""
        import bcrypt

        name = normal_name(name)
        if not NAME_PATTERN.match(name):
            raise ValueError(texts.text("users.bad_name", name=name))
        if role not in ROLES:
            raise ValueError(texts.text("users.bad_role", role=role, roles=", ".join(ROLES)))
        if len(password or "") < MIN_PASSWORD:
            raise ValueError(texts.text("users.short_password", min=MIN_PASSWORD))
        if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            raise ValueError(texts.text("users.long_password", max=MAX_PASSWORD_BYTES))
        hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(self.rounds))
        users = self.users()
        replaced = name in users
        users[name] = {"role": role, "password": hashed.decode("ascii")}
        self._write(users)
        return replaced

    def remove(self, name: str) -> bool:
        users = self.users()
        if users.pop(normal_name(name), None) is None:
            return False
        self._write(users)
        return True

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        text = yaml.safe_dump({"users": users}, allow_unicode=True, sort_keys=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(texts.text("users.file_header") + "\n" + text)
        os.replace(temporary, self.path)
        with self._lock:
            self._cache = None


@dataclass
class _Session:
    operator: Operator
    created: float
    seen: float


class SessionStore:
    """Random tokens -> operator, ended after ``idle_seconds`` without use or
    ``max_seconds`` in all; at most ``capacity`` sessions (the oldest go first)."""

    def __init__(self, idle_seconds: float = 1800, max_seconds: float = 8 * 3600,
                 clock: Clock = time.monotonic, capacity: int = 1000) -> None:
        if idle_seconds <= 0 or max_seconds <= 0 or capacity <= 0:
            raise ValueError(f"idle_seconds, max_seconds and capacity must be positive, got "
                             f"{idle_seconds!r}, {max_seconds!r}, {capacity!r}")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self.capacity = capacity
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, operator: Operator) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._purge(now)
            while len(self._sessions) >= self.capacity:
                self._sessions.popitem(last=False)
            self._sessions[token] = _Session(operator, now, now)
        return token

    def get(self, token: str | None) -> Operator | None:
        """The operator of a live session (its idle time starts again), else None."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.seen = now
            return session.operator

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def close_user(self, name: str) -> None:
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.operator.name == name]:
                del self._sessions[token]

    def _expired(self, session: _Session, now: float) -> bool:
        return (now - session.seen > self.idle_seconds
                or now - session.created > self.max_seconds)

    def _purge(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]


class LoginThrottle:
    """``max_failures`` failed logins for one key (a user name, a client address) within
    ``lock_seconds`` lock that key for ``lock_seconds`` from the last failure."""

    def __init__(self, max_failures: int = 5, lock_seconds: float = 900,
                 clock: Clock = time.monotonic, capacity: int = 10000) -> None:
        if max_failures <= 0 or lock_seconds <= 0:
            raise ValueError(f"max_failures and lock_seconds must be positive, got "
                             f"{max_failures!r}, {lock_seconds!r}")
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self.capacity = capacity
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.lock_seconds]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def locked_for(self, *keys: str) -> float:
        """Seconds until every one of ``keys`` may try again (0: not locked)."""
        now = self.clock()
        with self._lock:
            waits = [self.lock_seconds - (now - times[-1]) for key in keys
                     if len(times := self._recent(key, now)) >= self.max_failures]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._failures[key] = self._recent(key, now) + [now]
                self._failures.move_to_end(key)
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


@dataclass(frozen=True)
class LoginResult:
    token: str | None
    message: str  # Italian, for the login page ("" on success)


class OperatorLogin:
    """Check credentials (with the lock-out) and keep the sessions. Failures lock a user
    name after ``throttle.max_failures``; a client address (which a reverse proxy shares
    among all staff) only after ``client_throttle``'s, four times as many by default."""

    def __init__(self, users: UserFile, sessions: SessionStore | None = None,
                 throttle: LoginThrottle | None = None,
                 client_throttle: LoginThrottle | None = None) -> None:
        if users is None:
            raise ValueError("users must be a UserFile, got None")
        self.users = users
        self.sessions = sessions or SessionStore()
        self.throttle = throttle or LoginThrottle()
        self.client_throttle = client_throttle or LoginThrottle(
            self.throttle.max_failures * 4, self.throttle.lock_seconds, self.throttle.clock)

    def login(self, name: str, password: str, client: str = "") -> LoginResult:
        user_key, client_key = f"user:{normal_name(name)}", f"client:{client}"
        wait = max(self.throttle.locked_for(user_key),
                   self.client_throttle.locked_for(client_key))
        if wait > 0:
            return LoginResult(None, texts.text("login.locked",
                                                minutes=max(1, round(wait / 60))))
        operator = self.users.verify(name, password)
        if operator is None:
            self.throttle.failed(user_key)
            self.client_throttle.failed(client_key)
            return LoginResult(None, texts.text("login.wrong"))
        self.throttle.succeeded(user_key)
        return LoginResult(self.sessions.open(operator), "")

    def operator(self, token: str | None) -> Operator | None:
        """The session's operator, if the session lives and the user still has that role."""
        operator = self.sessions.get(token)
        if operator is None:
            return None
        entry = self.users.users().get(operator.name)
        if entry is None or entry["role"] != operator.role:
            self.sessions.close(token)
            return None
        return operator

    def logout(self, token: str | None) -> None:
        self.sessions.close(token)


def login_from_settings(web: WebSettings) -> OperatorLogin:
    """The login of :class:`~assistant.ui.webconfig.WebSettings`."""
    return OperatorLogin(
        UserFile(web.users_file),
        SessionStore(web.session_idle_minutes * 60, web.session_max_hours * 3600),
        LoginThrottle(web.max_login_failures, web.lockout_minutes * 60))


# ---- the command -----------------------------------------------------------------------
def users_main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
               stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """``users add NAME --role R`` (password asked twice, or one line on stdin with
    ``--password-stdin``), ``users remove NAME``, ``users list``."""
    from .webconfig import WebSettings

    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m assistant users",
                                     description=texts.text("users.description"))
    parser.add_argument("--file", type=Path, help=texts.text("users.file_help"))
    parser.add_argument("--config", help="file TOML di configurazione (default assistant.toml)")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help=texts.text("users.add_help"))
    add.add_argument("name")
    add.add_argument("--role", choices=sorted(ROLES), default="operatore")
    add.add_argument("--password-stdin", action="store_true")
    remove = sub.add_parser("remove", help=texts.text("users.remove_help"))
    remove.add_argument("name")
    sub.add_parser("list", help=texts.text("users.list_help"))
    args = parser.parse_args(argv)
    try:
        path = args.file or WebSettings.load(args.config).users_file
        users = UserFile(path)
        if args.action == "list":
            for name, entry in sorted(users.users().items()):
                print(f"{name}\t{entry['role']}", file=out)
            return 0
        if args.action == "remove":
            done = users.remove(args.name)
            key = "users.removed" if done else "users.missing"
            print(texts.text(key, name=normal_name(args.name), file=path),
                  file=out if done else err)
            return 0 if done else 1
        password = _read_password(args.password_stdin, stdin or sys.stdin)
        replaced = users.add(args.name, password, args.role)
    except (ValueError, ConfigError) as exc:
        print(getattr(exc, "detail", "") or str(exc), file=err)
        return 1
    key = "users.replaced" if replaced else "users.added"
    print(texts.text(key, name=normal_name(args.name), role=args.role, file=path), file=out)
    return 0


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass(texts.text("users.prompt"))
    if getpass.getpass(texts.text("users.prompt_again")) != first:
        raise ValueError(texts.text("users.mismatch"))
    return first


if __name__ == "__main__":
    sys.exit(users_main())
