"""``@public``: the requests a public client method makes say which method it is.

As the official SDK does, every request sent while a public method of ``ServiceClient``,
``TrainingClient``, ``SamplingClient`` or ``RestClient`` runs (its submission, the polls for
its result, the lookups it needs) carries ``x-sdk-version`` (the protocol version tinkex speaks,
the ``sdk_version`` it reports to the server) and ``x-sdk-method`` (``Class.method``, e.g.
``TrainingClient.forward_backward``). A public method called by another keeps the outer name.
Background work (heartbeat, config refresh, telemetry, the session-wide futures poller) and the
opening of the session carry neither: it serves the client, not one call.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from sdkgen.runtime import call_scope

from ._generated.api import API_SPEC

__all__ = ["SDK_METHOD_HEADER", "SDK_VERSION_HEADER", "awaited_twin", "future_twin", "public"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

SDK_VERSION_HEADER = "x-sdk-version"
SDK_METHOD_HEADER = "x-sdk-method"


def public(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a public client method: requests made while it runs name it (see the module doc).

    Example::

        class SamplingClient:
            @public
            def sample(self, prompt, num_samples, sampling_params): ...
    """
    owner, _, name = fn.__qualname__.rpartition(".")
    method = f"{_PART_OF.get(owner, owner)}.{name}"
    headers = {SDK_VERSION_HEADER: API_SPEC.version, SDK_METHOD_HEADER: method}
    return call_scope(headers)(fn)


# The classes a public client is written in (to keep modules small), by the client they are
# part of: a request names the method as users call it (``RestClient.list_checkpoints``).
_PART_OF = {
    "RestBase": "RestClient",
    "RestCheckpoints": "RestClient",
    "SamplingBase": "SamplingClient",
    "TrainingBase": "TrainingClient",
    "TrainingCheckpoints": "TrainingClient",
}


def _named_twin(
    method: Callable[..., Any], twin: Callable[P, Coroutine[Any, Any, R]]
) -> Callable[P, Coroutine[Any, Any, R]]:
    """``twin`` as ``<method>_async``: the method's parameters (for ``inspect.signature`` and
    help), its own name in ``x-sdk-method``."""
    functools.update_wrapper(twin, method)
    twin.__name__ = f"{method.__name__}_async"
    twin.__qualname__ = f"{method.__qualname__}_async"
    twin.__doc__ = f"``{method.__name__}`` for asyncio code (see it for the arguments)."
    return public(twin)


def future_twin(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The ``*_async`` twin of a method returning a future: awaiting the twin gives that future
    (the official SDK's shape: ``out = await (await tc.forward_backward_async(...))``).

    Args:
        method: The synchronous method; the twin takes exactly its parameters.

    Example::

        class TrainingClient:
            forward_backward_async = future_twin(forward_backward)
    """

    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(self, *args, **kwargs)

    return _named_twin(method, twin)


def awaited_twin(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The ``*_async`` twin of a method returning a future: awaiting the twin gives the
    future's result (``client = await service.create_sampling_client_async(...)``).

    Args:
        method: The synchronous method; the twin takes exactly its parameters.

    Example::

        class ServiceClient:
            create_sampling_client_async = awaited_twin(create_sampling_client)
    """

    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await method(self, *args, **kwargs)

    return _named_twin(method, twin)
