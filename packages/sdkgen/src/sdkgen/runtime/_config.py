"""Client configuration: explicit arguments win over the environment, which wins over defaults.

The environment variable names come from the API spec (the manifest), never from this module.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import httpx

from ._auth import auth_schemes, credential_names
from ._errors import SDKError
from ._hooks import RequestHook, ResponseHook, checked_hooks
from ._liveness import DEFAULT_UNREACHABLE_TIMEOUT
from ._redact import register_secret
from ._spec import APISpec, Record

WireMode = Literal["auto", "json", "protobuf"]
# What the connection pools send with: httpx's own transport, pyqwest (a Rust HTTP client; the
# optional ``pyqwest`` package), or pyqwest when it is installed and httpx otherwise.
HTTPBackend = Literal["httpx", "pyqwest", "auto"]

__all__ = ["ClientConfig", "ConfigError", "HTTPBackend", "Secret"]


class ConfigError(SDKError, ValueError):
    """A configuration value (argument or environment variable) is invalid. Part of the SDK's
    error tree (``SDKError``) and a ``ValueError``, as it always was."""


class Secret:
    """A credential that never shows itself in a ``repr``, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)  # from now on redacted from errors, logs and telemetry

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _env(environ: Mapping[str, str], api: APISpec, key: str) -> str | None:
    name = api.env.get(key)
    if not name:
        return None
    value = environ.get(name, "").strip()
    return value or None


def _number(raw: str | None, kind: type[int] | type[float], name: str) -> Any:
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True, slots=True, eq=False, repr=False)  # eq, hash, repr: Record
class ClientConfig(Record):
    """The resolved settings of one client. Build it with :meth:`resolve`."""

    base_url: str
    api_key: Secret | None = field(default=None, repr=True)
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int | None = None
    deadline: float | None = None
    default_headers: Mapping[str, str] = field(default_factory=dict)
    resend_ambiguous: bool = False
    propagate_trace: bool = False
    # Which encoding bodies travel in where an endpoint offers protobuf: "auto" is protobuf
    # until the server refuses it, then JSON (see WireCodecs).
    wire: WireMode = "auto"
    http_backend: HTTPBackend = "httpx"
    # How long a wait for a result (a polled future) goes on while the server cannot be
    # reached at all; a server that answers may keep it waiting up to its own timeout.
    unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT
    # The credentials besides ``api_key`` (see _auth), by their environment variable's name.
    credentials: Mapping[str, Secret] = field(default_factory=dict)
    # Run once per attempt, in order, after auth and every other header (see _hooks).
    request_hooks: tuple[RequestHook, ...] = ()
    response_hooks: tuple[ResponseHook, ...] = ()

    @classmethod
    def resolve(
        cls,
        api: APISpec,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        resend_ambiguous: bool = False,
        propagate_trace: bool = False,
        wire: WireMode = "auto",
        http_backend: HTTPBackend = "httpx",
        environ: Mapping[str, str] | None = None,
        unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
        credentials: Mapping[str, str] | None = None,
        request_hooks: Iterable[RequestHook] = (),
        response_hooks: Iterable[ResponseHook] = (),
    ) -> ClientConfig:
        """Resolve settings for ``api``: kwargs > environment > the spec's defaults.

        Example::

            config = ClientConfig.resolve(API_SPEC, base_url="http://127.0.0.1:8000")
        """
        env = os.environ if environ is None else environ
        env_names = api.env
        url = base_url or _env(env, api, "base_url") or api.base_url
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            source = "base_url" if base_url else env_names.get("base_url", "base_url")
            raise ConfigError(f"{source}={url!r} must start with http:// or https://")
        key = None if api_key is None else checked_key(api_key, "the api_key argument")
        if api_key is None and api.auth is not None:
            raw = env.get(api.auth.env)
            key = None if raw is None else checked_key(raw, f"${api.auth.env}") or None
        extra = _credentials(api, credentials or {}, env)
        _check_required(api, url, key or None, extra, given=api_key is not None)
        resolved_timeout = timeout
        if resolved_timeout is None:
            resolved_timeout = _number(
                _env(env, api, "timeout"), float, env_names.get("timeout", "timeout")
            )
        resolved_retries = max_retries
        if resolved_retries is None:
            resolved_retries = _number(
                _env(env, api, "max_retries"), int, env_names.get("max_retries", "max_retries")
            )
        if resolved_retries is not None and resolved_retries < 0:
            raise ConfigError(f"max_retries={resolved_retries} must not be negative")
        if resolved_timeout is not None and resolved_timeout <= 0:
            # Checked after resolution so a zero from the environment is refused too (it would
            # make every attempt time out at once); the message names where the value came from.
            source = "timeout" if timeout is not None else env_names.get("timeout", "timeout")
            raise ConfigError(f"{source}={resolved_timeout} must be positive")
        if deadline is not None and deadline <= 0:
            raise ConfigError(f"deadline={deadline} must be positive")
        check_unreachable_timeout(unreachable_timeout)
        check_http_backend(http_backend)
        if wire not in get_args(WireMode):
            choices = ", ".join(repr(w) for w in get_args(WireMode))
            raise ConfigError(f"wire={wire!r} is not a wire format; use one of {choices}")
        headers = dict(api.default_headers)
        headers.update(default_headers or {})
        for name, value in headers.items():
            _check_header(name, value)
        return cls(
            base_url=url,
            api_key=Secret(key) if key else None,
            timeout=api.timeout if resolved_timeout is None else resolved_timeout,
            connect_timeout=api.connect_timeout,
            max_retries=resolved_retries,
            deadline=deadline,
            default_headers=headers,
            resend_ambiguous=resend_ambiguous,
            propagate_trace=propagate_trace,
            wire=wire,
            http_backend=http_backend,
            unreachable_timeout=unreachable_timeout,
            credentials=extra,
            request_hooks=checked_hooks(request_hooks, "request_hooks"),
            response_hooks=checked_hooks(response_hooks, "response_hooks"),
        )


def _credentials(
    api: APISpec, given: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, Secret]:
    """The values besides ``api_key``: each from ``given`` (the ``credentials`` argument), else
    from its environment variable; an unknown name in ``given`` is refused (a typo would
    otherwise send nothing)."""
    names = credential_names(api)
    unknown = sorted(set(given) - set(names))
    if unknown:
        known = ", ".join(names) or "none: this API has one credential, use api_key"
        raise ConfigError(f"credentials: unknown name(s) {unknown}; this API reads {known}")
    out: dict[str, Secret] = {}
    for name in names:
        if name in given:
            value = checked_key(given[name], f"credentials[{name!r}]")
        else:
            value = checked_key(env.get(name, ""), f"${name}")
        if value:
            out[name] = Secret(value)
    return out


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost`` (or a name under it) or a loopback
    address (127.0.0.0/8, ::1).

    Example::

        is_loopback_url("http://127.0.0.1:8000")  # True
    """
    host = httpx.URL(url).host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_required(
    api: APISpec, url: str, key: str | None, extra: Mapping[str, Secret], *, given: bool
) -> None:
    """Refuse a client without a credential its API requires (``AuthSpec.required``) before
    it sends anything, naming the variable to set."""
    for index, scheme in enumerate(auth_schemes(api)):
        present = key is not None if index == 0 else scheme.env in extra
        if present or scheme.required is False:
            continue
        if scheme.required == "remote" and is_loopback_url(url):
            continue  # a server on this machine: a local test or development server
        argument = "api_key" if index == 0 else f"credentials[{scheme.env!r}]"
        empty = " (it was given empty)" if index == 0 and given else ""
        local = (
            "; a server on this machine (127.0.0.1, localhost) needs none"
            if scheme.required == "remote"
            else ""
        )
        help_text = f" ({scheme.missing_help})" if scheme.missing_help else ""
        raise ConfigError(
            f"{argument} must be set{empty}: {url} needs it. Set the environment variable "
            f"{scheme.env} or pass {argument}=...{help_text}{local}"
        )


def check_unreachable_timeout(value: float) -> None:
    """Refuse an ``unreachable_timeout`` that is not a positive number of seconds.

    Example::

        check_unreachable_timeout(60.0)
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"unreachable_timeout={value!r} must be a positive number of seconds (how long a "
            "wait goes on while the server cannot be reached; default 60)"
        )


def checked_key(raw: str, source: str) -> str:
    """``raw`` without surrounding whitespace (a key read from a file ends in a newline), or a
    :class:`ConfigError` naming ``source`` (never the key) when what is left cannot be a key:
    keys are printable ASCII without spaces, so anything else would be refused by the HTTP
    library with an error quoting the key.

    Example::

        key = checked_key(os.environ["MY_API_KEY"], "$MY_API_KEY")
    """
    if not isinstance(raw, str):
        raise ConfigError(f"{source} must be a string, not {type(raw).__name__}")
    key = raw.strip()
    for char in key:
        if " " < char <= "~":
            continue
        if char == " ":
            what = "a space"
        elif char > "~" and char != "\x7f":
            what = "a non-ASCII character"
        else:
            what = "a control character (such as a newline or a tab)"
        raise ConfigError(
            f"the API key from {source} contains {what}; an API key is printable ASCII without "
            "spaces: check that it was copied whole and nothing else with it"
        )
    return key


def _check_header(name: str, value: str) -> None:
    """Refuse a default header the HTTP library would refuse on every request (and quote)."""
    if not isinstance(value, str) or any(not (" " <= c <= "~") for c in value):
        raise ConfigError(
            f"default_headers[{name!r}] must be printable ASCII (no newline or other control "
            "character); its value is not shown, in case it is a credential"
        )


def check_http_backend(backend: str) -> None:
    """Refuse an unknown backend, and ``"pyqwest"`` when the package is not installed.

    Example::

        check_http_backend("auto")  # always fine: falls back to httpx without pyqwest
    """
    if backend not in get_args(HTTPBackend):
        choices = ", ".join(repr(b) for b in get_args(HTTPBackend))
        raise ConfigError(f"http_backend={backend!r} must be one of {choices}")
    if backend == "pyqwest":
        from ._pyqwest import pyqwest_available

        if not pyqwest_available():
            raise ConfigError(
                "http_backend='pyqwest' needs the pyqwest package (pip install pyqwest), or "
                "use 'auto' to fall back to httpx without it"
            )
