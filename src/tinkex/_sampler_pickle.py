"""How a SamplingClient travels to another process: a small recipe (server, sampling session,
settings), with the API key in it or not, as the user chose (``pickle_credentials``).

``"include"`` puts the key into the recipe, as the official SDK's pickle does: a worker needs
nothing of its own, and anyone who can read the pickle (a task queue, a Ray object store, a
file) can read the key. ``"environment"`` leaves it out: the process that unpickles finds its
own key (``TINKER_API_KEY``, ``TINKER_CREDENTIAL_CMD``, the file of ``tinkex auth login``).
Not chosen (the default), the key is included and the first such pickle of the process warns
with :class:`PickledCredentialsWarning`, saying how to choose.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import ConfigError

from ._credentials import API_KEY_ENV, CREDENTIAL_CMD_ENV
from ._holder import Holder
from ._sampling_open import new_clone_id
from ._settings import DEFAULT_RESULT_TIMEOUT, PICKLE_CREDENTIALS_ENV, ClientSettings

if TYPE_CHECKING:
    from ._sampling_client import SamplingClient
    from ._settings import PickleCredentials

__all__ = [
    "PickledCredentialsWarning",
    "UnusableSampler",
    "sampler_from_state",
    "sampler_state",
    "warn_if_key_pickled",
]


class PickledCredentialsWarning(UserWarning):
    """A ``SamplingClient`` was pickled with the API key inside (the default, as in the
    official SDK). Shown once per process. Choose ``ServiceClient(pickle_credentials=...)`` or
    ``TINKER_PICKLE_CREDENTIALS`` (``"environment"``: workers use their own key;
    ``"include"``: keep the key in the pickle, without this warning)."""


_warned = threading.Event()


def warn_if_key_pickled(state: dict[str, Any]) -> None:
    """Warn, once per process, that ``state`` carries a key nobody chose to pickle."""
    if state.get("api_key") is None or state.get("pickle_credentials") is not None:
        return
    if _warned.is_set():
        return
    _warned.set()
    warnings.warn(
        "a SamplingClient was pickled with its API key inside (the default, as in the official "
        "SDK): whoever can read the pickle can read the key. To leave it out, create the "
        "ServiceClient with pickle_credentials='environment' (or set "
        f"{PICKLE_CREDENTIALS_ENV}=environment) and give each worker its own key "
        f"({API_KEY_ENV}, {CREDENTIAL_CMD_ENV} or `tinkex auth login`); to keep it and silence "
        "this warning, choose pickle_credentials='include'",
        PickledCredentialsWarning,
        stacklevel=3,
    )


def sampler_state(
    sampler: SamplingClient, credentials: PickleCredentials | None = None
) -> dict[str, Any]:
    """The recipe of ``sampler`` for another process (plain data; nothing warns here).

    Args:
        sampler: The client to describe.
        credentials: ``"include"`` or ``"environment"``; None: the client's own choice.
    """
    settings = sampler.holder.settings
    mode = credentials if credentials is not None else settings.pickle_credentials
    secret = settings.config.api_key
    key = secret.get_secret_value() if secret is not None and mode != "environment" else None
    return {
        "base_url": sampler.holder.base_url,
        "api_key": key,
        "pickle_credentials": mode,
        "sampling_session_id": sampler.sampling_session_id,
        "base_model": sampler.base_model,
        "retry_config": sampler.retry_config,
        "record_stability_info": sampler.record_stability_info,
        "default_headers": dict(settings.config.default_headers),
        "result_timeout": settings.result_timeout,
    }


def sampler_from_state(state: dict[str, Any]) -> SamplingClient:
    """A sampling client in this process, with a clone id of its own (its seq ids differ from
    every other client's) and no session of its own.

    The copies made in one process from recipes of the same server, key and settings share one
    set of connections (one ``Holder``), as the official SDK's copies do: a worker that
    unpickles a sampler with every task (the cookbook's pattern) keeps one loop thread and one
    pool, not one per task. ``close()`` gives a copy's share back; the last one closes them.

    Raises:
        ConfigError: No key in this process for a server that needs one (the message says
            where a key can come from), or another setting that cannot work.
    """
    from ._sampling_client import SamplingClient  # that module imports this one

    holder, release = _lease(state)
    return SamplingClient(
        holder,
        sampling_session_id=state["sampling_session_id"],
        base_model=state["base_model"],
        retry_config=state["retry_config"],
        record_stability_info=state["record_stability_info"],
        cloned_sampler_id=new_clone_id(),
        release=release,
    )


class _Shared:
    """Connections shared by the copies of one process, and how many copies hold them."""

    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self.users = 0


_SHARED: dict[tuple[Any, ...], _Shared] = {}
_SHARED_LOCK = threading.Lock()


def _lease(state: dict[str, Any]) -> tuple[Holder, Callable[[], None]]:
    """The shared connections for ``state``'s server and settings (made on first need), and
    the function that gives this copy's share back."""
    headers = state.get("default_headers") or {}
    key = (
        state["base_url"],
        state["api_key"],
        state.get("pickle_credentials"),
        tuple(sorted(headers.items())),
        state.get("result_timeout", DEFAULT_RESULT_TIMEOUT),
    )
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is None or shared.holder.runner.closed:
            shared = _Shared(Holder(_settings(state)))
            _SHARED[key] = shared
        shared.users += 1
    given_back = threading.Event()

    def release() -> None:
        if given_back.is_set():
            return
        given_back.set()
        with _SHARED_LOCK:
            shared.users -= 1
            last = shared.users <= 0
            if last and _SHARED.get(key) is shared:
                del _SHARED[key]
        if last:
            shared.holder.close(status=None)

    return shared.holder, release


def _settings(state: dict[str, Any]) -> ClientSettings:
    """The settings of a copy; without a key for a server that needs one, an error that says
    where this process could find one."""
    try:
        return ClientSettings.resolve(
            base_url=state["base_url"],
            api_key=state["api_key"],
            default_headers=state.get("default_headers"),
            result_timeout=state.get("result_timeout", DEFAULT_RESULT_TIMEOUT),
            pickle_credentials=state.get("pickle_credentials"),
        )
    except ConfigError as err:
        if state.get("api_key") is not None:
            raise
        raise ConfigError(
            f"{err}. The sampler came without a key (a sampler handle, or "
            f"pickle_credentials='environment'), so process {os.getpid()} on "
            f"{socket.gethostname()} must find its own: set {API_KEY_ENV} or "
            f"{CREDENTIAL_CMD_ENV} in this worker's environment, or run `tinkex auth login` on "
            "this machine"
        ) from err


class UnusableSampler:
    """What unpickles in a process where the sampler cannot be made (no key there): every use
    raises the reason. Raising while unpickling would kill a process pool's worker and leave
    the caller with ``BrokenProcessPool`` (or a hung ``multiprocessing.Pool``); this way the
    task that uses the sampler fails with the clear error."""

    def __init__(self, error: ConfigError, state: dict[str, Any]) -> None:
        self._message = str(error)
        self._state = state

    def _fail(self) -> ConfigError:
        return ConfigError(self._message)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._fail()

    def __enter__(self) -> UnusableSampler:
        raise self._fail()

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        return f"UnusableSampler({self._message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        from ._sampling_client import _unpickle_sampling_client

        return (_unpickle_sampling_client, (self._state,))
