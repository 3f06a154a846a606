"""Fixtures of the integration tests: the fake Tinker server and clean, bounded clients."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401


def tinkex_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tinkex" and t.is_alive()]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Tinker settings (or proxies for 127.0.0.1)."""
    for name in list(os.environ):
        if name.startswith("TINKER_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_thread_left_behind() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5.0
    while tinkex_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not tinkex_threads(), f"tinkex loop threads left running: {tinkex_threads()}"
