"""Pytest fixtures for the fake Tinker server.

Import them into a ``conftest.py`` to use them in that directory::

    from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401

At teardown every server is stopped, and the test fails if the server hit an unexpected
exception of its own (``server.errors``), so bugs in the fake never pass silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import FakeTinker

__all__ = ["FakeTinkerFactory", "fake_tinker", "fake_tinker_server"]

FakeTinkerFactory = Callable[..., FakeTinker]


@pytest.fixture
def fake_tinker() -> Iterator[FakeTinkerFactory]:
    """A factory: ``fake_tinker(**FakeTinker kwargs)`` returns a started server."""
    servers: list[FakeTinker] = []

    def factory(**kwargs: Any) -> FakeTinker:
        server = FakeTinker(**kwargs).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
    errors = [e for server in servers for e in server.errors]
    if errors:
        pytest.fail("fake Tinker server raised:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def fake_tinker_server(fake_tinker: FakeTinkerFactory) -> FakeTinker:
    """One started server with default settings (dedupe on, no try_agains, no latency)."""
    return fake_tinker()
