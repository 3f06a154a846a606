"""Fixtures of the high-level client tests: the fake Tinker server and clients pointed at it.

Every ServiceClient made through ``make_service`` is closed at teardown, and every test checks
that no tinkex loop thread outlives it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tinkex as tinker
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.plugin import FakeTinkerFactory, fake_tinker, fake_tinker_server  # noqa: F401
from tinkex import types

BASE_MODEL = "fake/tiny-model"
#: Every wait in these tests is bounded by this (seconds).
WAIT = 10.0

ServiceFactory = Callable[..., tinker.ServiceClient]


def tinkex_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tinkex" and t.is_alive()]


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` runs out (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def work_requests(server: FakeTinker) -> int:
    """How many requests the server got, not counting the background heartbeats."""
    return sum(1 for r in server.requests if r.endpoint != "session_heartbeat")


def datum(tokens: list[int], weights: list[float] | None = None) -> types.Datum:
    """A next-token datum: input ``tokens[:-1]``, targets ``tokens[1:]``."""
    targets = tokens[1:]
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={
            "target_tokens": targets,
            "weights": weights if weights is not None else [1.0] * len(targets),
        },
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Tinker settings (or proxies for 127.0.0.1)."""
    for name in list(os.environ):
        if name.startswith("TINKER_") or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TINKER_API_KEY", "tml-test-key")


@pytest.fixture(autouse=True)
def _reset_sample_backoff() -> Iterator[None]:
    """The 429 backoff window is process-wide: one test's 429 must not slow the next."""
    from sdkgen.runtime._backpressure import _WINDOWS

    _WINDOWS.clear()
    yield
    _WINDOWS.clear()


@pytest.fixture(autouse=True)
def _no_thread_left_behind() -> Iterator[None]:
    yield
    assert wait_for(lambda: not tinkex_threads(), timeout=5.0), (
        f"tinkex loop threads left running: {tinkex_threads()}"
    )


@pytest.fixture
def make_service(fake_tinker: FakeTinkerFactory) -> Iterator[ServiceFactory]:  # noqa: F811
    """``make_service(server, **kwargs)``: a ServiceClient on the fake server, closed at teardown.

    Defaults keep every test fast and bounded: a short heartbeat period and a client-wide
    result timeout, so a wait that would hang fails instead. (It depends on ``fake_tinker`` so
    that the clients close before the servers stop.)
    """
    made: list[tinker.ServiceClient] = []

    def make(server: FakeTinker, **kwargs: Any) -> tinker.ServiceClient:
        kwargs.setdefault("base_url", server.base_url)
        kwargs.setdefault("heartbeat_period", 0.05)
        kwargs.setdefault("result_timeout", WAIT)
        kwargs.setdefault("timeout", WAIT)
        client = tinker.ServiceClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def server(fake_tinker: FakeTinkerFactory) -> FakeTinker:  # noqa: F811
    """A default fake server (dedupe on, no try_agains)."""
    return fake_tinker()


@pytest.fixture
def service(server: FakeTinker, make_service: ServiceFactory) -> tinker.ServiceClient:
    return make_service(server)


@pytest.fixture
def training(service: tinker.ServiceClient) -> tinker.TrainingClient:
    return service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)


JOIN_TIMEOUT = 60.0  # a hang in a forked child fails the test instead of hanging it


def run_in_forked_child(target: Any, *args: Any) -> Any:
    """Run ``target(*args, out)`` in a child of fork() and give back ``out``, the queue it
    reported to; a child that hangs or dies fails the test."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.SimpleQueue()
    child = ctx.Process(target=target, args=(*args, out))
    child.start()
    child.join(JOIN_TIMEOUT)
    if child.is_alive():
        child.kill()
        child.join(5)
        pytest.fail(f"the forked child hung for {JOIN_TIMEOUT}s")
    assert child.exitcode == 0
    return out
