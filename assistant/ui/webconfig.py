"""Settings of the two web apps (public chat, operator tools): one validated, immutable
``pydantic-settings`` model sharing :class:`~assistant.config.LayeredSettings` with the
assistant's ``Settings``.

``WebSettings(...)`` is exactly its arguments over the defaults. ``WebSettings.load(...)``
reads the ``[web]`` table of ``assistant.toml`` (or ``ASSISTANT_CONFIG``), then the
environment, then explicit overrides (the command line). Every field has an
``ASSISTANT_WEB_<FIELD>`` variable; the public address also follows the conventions every
Gradio app follows (``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``) and the older
``ASSISTANT_HOST`` / ``ASSISTANT_PORT``. Precedence, last wins: defaults, file,
``GRADIO_*``, ``ASSISTANT_HOST``/``ASSISTANT_PORT``, ``ASSISTANT_WEB_*``, overrides. A bad
value is a :class:`~assistant.errors.ConfigError` naming the field, the value and where it
came from.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from ..config import LayeredSettings
from ..errors import ConfigError

OperatorAuth = Literal["login", "proxy"]
OPERATOR_AUTH: tuple[str, ...] = get_args(OperatorAuth)
WEB_ENV_PREFIX = "ASSISTANT_WEB_"
# conventional variables, lower precedence than ASSISTANT_WEB_*, in their order (last wins)
ALIASES = (("GRADIO_SERVER_NAME", "host"), ("GRADIO_SERVER_PORT", "port"),
           ("ASSISTANT_HOST", "host"), ("ASSISTANT_PORT", "port"))

Port = Annotated[int, Field(ge=1, le=65535)]
PortOrOff = Annotated[int, Field(ge=0, le=65535)]  # 0: not served


class WebSettings(LayeredSettings):
    """Where the apps listen, how operators log in, and the pages' security policy."""

    model_config = SettingsConfigDict(env_prefix=WEB_ENV_PREFIX)
    unknown_label: ClassVar[str] = "web setting(s)"

    host: str = "127.0.0.1"            # the public app (citizens)
    port: Port = 7860
    operator_host: str = "127.0.0.1"   # the operator app: loopback unless said otherwise
    operator_port: PortOrOff = 7861    # 0: no operator app
    # "login": users and roles from users_file; "proxy": no login of our own, for a reverse
    # proxy with its own SSO (then keep operator_host on 127.0.0.1)
    operator_auth: OperatorAuth = "login"
    proxy_user_header: str = ""        # with "proxy": the header naming the user (X-Remote-User)
    users_file: Path = Path("operatori.yaml")
    session_idle_minutes: PositiveFloat = 30.0
    session_max_hours: PositiveFloat = 8.0
    max_login_failures: PositiveInt = 5
    lockout_minutes: PositiveFloat = 15.0
    cookie_secure: bool = False        # true behind HTTPS: the session cookie is Secure
    # who may frame the public pages (CSP frame-ancestors): "'self'", "'none'" or the
    # origin of the town's website, e.g. "'self' https://www.comune.example.it"
    frame_ancestors: str = "'self'"
    accessibility_url: str = ""        # the accessibility statement (dichiarazione)
    accessibility_feedback: str = ""   # its feedback channel: mailto: or a form's address
    # browser sessions whose state (conversation records, widget values; ~0.1 MB each) the
    # public app keeps in memory; beyond it the least recently used one is forgotten
    # (Gradio's own default, 10,000, let 30 users grow the process by ~1 GB)
    max_sessions: PositiveInt = 1000

    @field_validator("port", "operator_port", "session_idle_minutes", "session_max_hours",
                     "max_login_failures", "lockout_minutes", "max_sessions", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        """``true`` is no number (pydantic would read it as 1)."""
        if isinstance(value, bool):
            raise ValueError("must be a number")
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _csp_sources(cls, value: str) -> str:
        """One CSP directive's sources: a ; , or line break would start another."""
        if any(c in value for c in ";,\r\n"):
            raise ValueError("must be a list of CSP sources (no ; , or line breaks)")
        return value

    @field_validator("accessibility_url", "accessibility_feedback")
    @classmethod
    def _link(cls, value: str) -> str:
        """A link the footer shows: a web page or an e-mail address, nothing a browser runs."""
        stripped = value.strip()
        if stripped and not stripped.lower().startswith(("https://", "http://", "mailto:")):
            raise ValueError("must start with https://, http:// or mailto:")
        return value

    @model_validator(mode="after")
    def _ports_apart(self) -> Self:
        """The two apps cannot listen on one port."""
        if self.operator_enabled and self.operator_port == self.port:
            raise ConfigError(f"operator_port must differ from port ({self.port})",
                              setting="operator_port")
        return self

    @property
    def operator_enabled(self) -> bool:
        return self.operator_port > 0

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> WebSettings:
        """Defaults, then ``[web]`` of the TOML file (``path``, else ``ASSISTANT_CONFIG`` or
        ``assistant.toml``; a missing one is empty), then :data:`ALIASES`, then
        ``ASSISTANT_WEB_*`` variables of ``env`` (default ``os.environ``), then the
        ``overrides`` that are not None (the command line's flags)."""
        env = os.environ if env is None else env
        file = Path(path) if path else Path(env.get("ASSISTANT_CONFIG", "assistant.toml"))
        return cls._from_sources(file, env, overrides, table="web", aliases=ALIASES)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost" (nothing else on the network reaches it)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
