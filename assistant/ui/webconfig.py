"""Settings of the two web apps (public chat, operator tools): one validated dataclass.

Read from the ``[web]`` table of ``assistant.toml`` (or ``ASSISTANT_CONFIG``), then from the
environment, then from explicit overrides (the command line). Every field has an
``ASSISTANT_WEB_<FIELD>`` variable; the public address also follows the conventions every
Gradio app follows (``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``) and the older
``ASSISTANT_HOST`` / ``ASSISTANT_PORT``. Precedence, last wins: defaults, file,
``GRADIO_*``, ``ASSISTANT_HOST``/``ASSISTANT_PORT``, ``ASSISTANT_WEB_*``, overrides.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError

OPERATOR_AUTH = ("login", "proxy")
# conventional variables, lower precedence than ASSISTANT_WEB_*
ALIASES = (("GRADIO_SERVER_NAME", "host"), ("GRADIO_SERVER_PORT", "port"),
           ("ASSISTANT_HOST", "host"), ("ASSISTANT_PORT", "port"))


@dataclass
class WebSettings:
    """Where the apps listen, how operators log in, and the pages' security policy."""

    host: str = "127.0.0.1"            # the public app (citizens)
    port: int = 7860
    operator_host: str = "127.0.0.1"   # the operator app: loopback unless said otherwise
    operator_port: int = 7861          # 0: no operator app
    # "login": users and roles from users_file; "proxy": no login of our own, for a reverse
    # proxy with its own SSO (then keep operator_host on 127.0.0.1)
    operator_auth: str = "login"
    proxy_user_header: str = ""        # with "proxy": the header naming the user (X-Remote-User)
    users_file: Path = Path("operatori.yaml")
    session_idle_minutes: float = 30.0
    session_max_hours: float = 8.0
    max_login_failures: int = 5
    lockout_minutes: float = 15.0
    cookie_secure: bool = False        # true behind HTTPS: the session cookie is Secure
    # who may frame the public pages (CSP frame-ancestors): "'self'", "'none'" or the
    # origin of the town's website, e.g. "'self' https://www.comune.example.it"
    frame_ancestors: str = "'self'"
    accessibility_url: str = ""        # the accessibility statement (dichiarazione)
    accessibility_feedback: str = ""   # its feedback channel: mailto: or a form's address
    # browser sessions whose state (conversation records, widget values; ~0.1 MB each) the
    # public app keeps in memory; beyond it the least recently used one is forgotten
    # (Gradio's own default, 10,000, let 30 users grow the process by ~1 GB)
    max_sessions: int = 1000

    def __post_init__(self) -> None:
        self.users_file = Path(self.users_file)
        for name in ("port", "operator_port"):
            value = getattr(self, name)
            low = 1 if name == "port" else 0
            if not isinstance(value, int) or isinstance(value, bool) \
                    or not low <= value < 65536:
                raise ConfigError(f"{name} must be a port number ({low}-65535), got {value!r}",
                                  setting=name)
        if self.operator_enabled and self.operator_port == self.port:
            raise ConfigError(f"operator_port must differ from port ({self.port})",
                              setting="operator_port")
        if self.operator_auth not in OPERATOR_AUTH:
            raise ConfigError(f"operator_auth must be one of {', '.join(OPERATOR_AUTH)}; "
                              f"got {self.operator_auth!r}", setting="operator_auth")
        for name in ("session_idle_minutes", "session_max_hours", "lockout_minutes",
                     "max_login_failures", "max_sessions"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}",
                                  setting=name)
        if any(c in self.frame_ancestors for c in ";,\r\n"):
            raise ConfigError(f"frame_ancestors must be a list of CSP sources, got "
                              f"{self.frame_ancestors!r}", setting="frame_ancestors")
        for name in ("accessibility_url", "accessibility_feedback"):
            value = getattr(self, name).strip()
            if value and not value.lower().startswith(("https://", "http://", "mailto:")):
                raise ConfigError(f"{name} must start with https://, http:// or mailto:, "
                                  f"got {value!r}", setting=name)

    @property
    def operator_enabled(self) -> bool:
        return self.operator_port > 0

    def replace(self, **changes: Any) -> "WebSettings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> "WebSettings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        file = Path(path) if path else Path(env.get("ASSISTANT_CONFIG", "assistant.toml"))
        if file.is_file():
            try:
                data = tomllib.loads(file.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{file}: {exc}", setting="config") from exc
            table = data.get("web", {})
            if not isinstance(table, dict):
                raise ConfigError(f"{file}: [web] must be a table", setting="web")
            values.update(table)
        defaults = {f.name: f.default for f in fields(cls)}
        for variable, name in ALIASES:
            if env.get(variable, "").strip():
                values[name] = _coerce(variable, env[variable], defaults[name])
        for name, default in defaults.items():
            variable = f"ASSISTANT_WEB_{name.upper()}"
            if env.get(variable, "").strip():
                values[name] = _coerce(variable, env[variable], default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(defaults))
        if unknown:
            raise ConfigError(f"unknown web setting(s): {', '.join(unknown)}",
                              setting=unknown[0])
        return cls(**values)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost" (nothing else on the network reaches it)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _coerce(variable: str, raw: str, default: object) -> object:
    raw = raw.strip()
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{variable} must be a number, got {raw!r}",
                          setting=variable) from exc
    return raw
