"""The contenders of ``make bench``: each runs in a worker process of its own.

* ``official``: the official ``tinker`` 0.38.0 SDK (``contenders/sdk.py``, module ``tinker``);
* ``tinkex-pb``: tinkex with ``wire="protobuf"`` and the pyqwest transport;
* ``tinkex-json``: tinkex with ``wire="json"`` and the httpx transport
  (both ``contenders/tinkex_modes.py``: the keywords are passed only where tinkex accepts them);
* ``floor``: a bare ``httpx.AsyncClient`` sending the JSON bodies by hand (``contenders/floor.py``).

Every contender offers the same calls to the worker (``bench/worker.py``): ``load`` (the import,
timed), ``resolve`` (the names user code touches next: ``ServiceClient``, ``types.Datum``...,
timed: a lazy package loads its modules there), ``connect`` (a session, a LoRA training client and a sampling client, timed),
``sampler`` (an async context giving one sampling call), ``train_step`` and ``close``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

NAMES = ("official", "tinkex-pb", "tinkex-json", "floor")
TITLES = {
    "official": "official",
    "tinkex-pb": "tinkex (protobuf, auto)",
    "tinkex-json": "tinkex (JSON, httpx)",
    "floor": "bare floor",
}


class Contender(Protocol):
    def load(self) -> None: ...

    def resolve(self) -> None: ...

    def connect(self, url: str) -> None: ...

    def sampler(
        self, concurrency: int
    ) -> AbstractAsyncContextManager[Callable[[], Awaitable[None]]]: ...

    def train_step(self, rows: Any, check_result: bool = False) -> None: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def make(name: str, service_kwargs: dict[str, Any]) -> Contender:
    """A contender; ``service_kwargs`` (the ServiceClient keywords of a tinkex mode) come from
    the orchestrator's probe, so that the worker imports nothing before the timed import."""
    if name == "official":
        from .sdk import SdkContender

        return SdkContender("tinker", {})
    if name in ("tinkex-pb", "tinkex-json"):
        from .sdk import SdkContender

        return SdkContender("tinkex", service_kwargs)
    if name == "floor":
        from .floor import FloorContender

        return FloorContender()
    raise ValueError(f"unknown contender {name!r}")
