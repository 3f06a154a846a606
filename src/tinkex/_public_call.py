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

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sdkgen.runtime._call_context import call_scope

from ._generated.api import API_SPEC

__all__ = ["SDK_METHOD_HEADER", "SDK_VERSION_HEADER", "public"]

P = ParamSpec("P")
R = TypeVar("R")

SDK_VERSION_HEADER = "x-sdk-version"
SDK_METHOD_HEADER = "x-sdk-method"


def public(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a public client method: requests made while it runs name it (see the module doc).

    Example::

        class SamplingClient:
            @public
            def sample(self, prompt, num_samples, sampling_params): ...
    """
    headers = {SDK_VERSION_HEADER: API_SPEC.version, SDK_METHOD_HEADER: fn.__qualname__}
    return call_scope(headers)(fn)
