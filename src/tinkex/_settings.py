"""A client's settings, resolved once: arguments > environment > defaults, checked here with
errors that name the setting and say what to give instead.

``ServiceClient`` (and the clients that connect on their own: an unpickled ``SamplingClient``,
a ``RestClient`` made without a ServiceClient) resolve their keywords into one frozen
:class:`ClientSettings`; everything below reads it, and the runtime's ``ClientConfig`` is built
from it here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal, get_args

import httpx
from sdkgen.runtime import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    ClientConfig,
    ConfigError,
    HTTPBackend,
    Listener,
    RetryInfo,
    WireMode,
)

from ._credentials import resolve_api_key
from ._generated import AsyncTinkerAPI

__all__ = [
    "DEFAULT_HEARTBEAT_PERIOD",
    "DEFAULT_RESULT_TIMEOUT",
    "DEFAULT_TELEMETRY_FLUSH_INTERVAL",
    "PICKLE_CREDENTIALS_ENV",
    "ClientSettings",
    "PickleCredentials",
]

DEFAULT_RESULT_TIMEOUT = 3600.0
DEFAULT_HEARTBEAT_PERIOD = 10.0
DEFAULT_TELEMETRY_FLUSH_INTERVAL = 10.0
PROJECT_ID_ENV = "TINKER_PROJECT_ID"
TAGS_ENV = "TINKER_TAGS"  # comma-separated, added to the ``tags`` argument
PICKLE_CREDENTIALS_ENV = "TINKER_PICKLE_CREDENTIALS"

#: What a pickled SamplingClient carries of the key: ``"include"`` the key itself (the
#: official SDK's behaviour), ``"environment"`` nothing (the process that unpickles it finds
#: its own: ``TINKER_API_KEY``, ``TINKER_CREDENTIAL_CMD`` or ``tinkex auth login``'s file).
PickleCredentials = Literal["include", "environment"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Everything one client was configured with, resolved and checked. Build it with
    :meth:`resolve`.

    ``config`` is what the runtime reads (address, key, timeouts, retries, headers, wire
    format, liveness budget); the other fields are the Tinker layer's: the session's tags,
    metadata and heartbeat, the default wait of a result, telemetry, and the HTTP backend as
    asked (``"auto"`` follows the server's flag; the pools start on httpx, see
    ``ServerFeatures.config``).
    """

    config: ClientConfig
    http_backend: HTTPBackend = "auto"
    transport: httpx.AsyncBaseTransport | None = None
    listeners: tuple[Listener, ...] = ()
    on_retry: Callable[[RetryInfo], None] | None = None
    result_timeout: float | None = DEFAULT_RESULT_TIMEOUT
    user_metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    project_id: str | None = None
    display_name: str | None = None
    tags: tuple[str, ...] = ()
    heartbeat_period: float = DEFAULT_HEARTBEAT_PERIOD
    telemetry_flush_interval: float = DEFAULT_TELEMETRY_FLUSH_INTERVAL
    # None: not chosen, so "include" with a warning the first time a key is pickled.
    pickle_credentials: PickleCredentials | None = None

    @property
    def base_url(self) -> str:
        """The server's address, without a trailing slash."""
        return self.config.base_url

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        listeners: Iterable[Listener] = (),
        on_retry: Callable[[RetryInfo], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        result_timeout: float | None = DEFAULT_RESULT_TIMEOUT,
        resend_ambiguous: bool = False,
        user_metadata: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        display_name: str | None = None,
        tags: Iterable[str] | None = None,
        heartbeat_period: float = DEFAULT_HEARTBEAT_PERIOD,
        telemetry_flush_interval: float = DEFAULT_TELEMETRY_FLUSH_INTERVAL,
        propagate_trace: bool = False,
        http_backend: HTTPBackend = "auto",
        wire: WireMode = "auto",
        unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
        pickle_credentials: PickleCredentials | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        """Resolve and check a client's settings (the keywords of ``ServiceClient``).

        Args:
            base_url: The server; else ``$TINKER_BASE_URL``, else the manifest's default.
            api_key: The key; else ``$TINKER_API_KEY``, else ``$TINKER_CREDENTIAL_CMD``'s
                output, else the credential file of ``tinkex auth login``.
            timeout: Seconds per attempt; else ``$TINKER_TIMEOUT``, else the default.
            max_retries: Retries of a retrying endpoint; else the endpoint's policy.
            default_headers: Headers sent with every request.
            listeners: Telemetry listeners of every request.
            on_retry: Called before each retry.
            transport: An httpx transport for every pool (always wins over ``http_backend``).
            result_timeout: Default wait of every ``.result()``; None waits without limit.
            resend_ambiguous: Resend a request whose answer was lost (deduplicating servers).
            user_metadata: The session's metadata.
            project_id: The session's project; else ``$TINKER_PROJECT_ID``.
            display_name: The session's name.
            tags: The session's tags, with those of ``$TINKER_TAGS`` (comma-separated).
            heartbeat_period: Seconds between the session's heartbeats.
            telemetry_flush_interval: Seconds between telemetry batches.
            propagate_trace: Send the OpenTelemetry trace context with every request.
            http_backend: ``"auto"``, ``"httpx"`` or ``"pyqwest"``.
            wire: ``"auto"``, ``"json"`` or ``"protobuf"``.
            unreachable_timeout: How long a wait for a result goes on while the server
                cannot be reached at all.
            pickle_credentials: What a pickled SamplingClient carries of the key
                (``"include"`` or ``"environment"``); else ``$TINKER_PICKLE_CREDENTIALS``,
                else not chosen (the key is included, with a warning).
            environ: The environment to read (default ``os.environ``).

        Raises:
            ConfigError: A value that cannot work; the message names the setting.

        Example::

            settings = ClientSettings.resolve(base_url="http://127.0.0.1:8000", tags=["nightly"])
            holder = Holder(settings)
        """
        env = os.environ if environ is None else environ
        if result_timeout is not None:
            _check_seconds("result_timeout", result_timeout, "or None to wait without a limit")
        _check_seconds("heartbeat_period", heartbeat_period, "how often the session says it lives")
        _check_seconds(
            "telemetry_flush_interval",
            telemetry_flush_interval,
            "how often telemetry is sent; TINKER_TELEMETRY=0 turns it off",
        )
        config = ClientConfig.resolve(
            AsyncTinkerAPI.api,
            base_url=base_url,
            # Not passed and not in $TINKER_API_KEY: $TINKER_CREDENTIAL_CMD, then the file
            # 'tinkex auth login' writes.
            api_key=resolve_api_key(api_key, env),
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            resend_ambiguous=resend_ambiguous,
            propagate_trace=propagate_trace,
            wire=wire,
            # The pools start on httpx with "auto": the client-config call goes over it (as in
            # the reference SDK), and the server's answer picks the backend of later pools.
            http_backend="httpx" if http_backend == "auto" else http_backend,
            environ=env,
            unreachable_timeout=unreachable_timeout,
        )
        if isinstance(tags, str):
            raise ConfigError(f"tags={tags!r} must be a list of strings, not one string")
        env_tags = {t.strip() for t in env.get(TAGS_ENV, "").split(",") if t.strip()}
        return cls(
            config=config,
            http_backend=http_backend,
            transport=transport,
            listeners=tuple(listeners),
            on_retry=on_retry,
            result_timeout=result_timeout,
            user_metadata=MappingProxyType(dict(user_metadata or {})),
            project_id=project_id or env.get(PROJECT_ID_ENV) or None,
            display_name=display_name,
            tags=tuple(sorted(set(tags or ()) | env_tags)),
            heartbeat_period=heartbeat_period,
            telemetry_flush_interval=telemetry_flush_interval,
            pickle_credentials=_pickle_credentials(pickle_credentials, env),
        )


def _pickle_credentials(
    value: PickleCredentials | None, env: Mapping[str, str]
) -> PickleCredentials | None:
    """The argument, else the environment's choice, else None (not chosen); checked."""
    allowed = get_args(PickleCredentials)
    if value is not None:
        if value not in allowed:
            raise ConfigError(
                f"pickle_credentials={value!r} must be 'include' (the key goes into the "
                "pickle) or 'environment' (the unpickling process finds its own key)"
            )
        return value
    raw = env.get(PICKLE_CREDENTIALS_ENV, "").strip().lower()
    if not raw:
        return None
    if raw not in allowed:
        raise ConfigError(
            f"${PICKLE_CREDENTIALS_ENV}={raw!r} must be 'include' or 'environment' (or unset)"
        )
    return raw  # type: ignore[return-value]  # one of the Literal's values, checked above


def _check_seconds(name: str, value: float, hint: str) -> None:
    """Refuse a duration that is not a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name}={value!r} must be a positive number of seconds ({hint})")
