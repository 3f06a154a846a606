"""Fixtures of the key-value example: the checked-in generated package, and the example's real
server on 127.0.0.1 (``examples/kvstore/server.py``), started once for these tests.

Each test gets a tenant of its own (the ``X-KV-Tenant`` credential): the server keeps keys per
tenant, so tests never see each other's keys, and ``server.seen(tenant=...)`` is one test's
traffic.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kvstore"
MANIFEST = EXAMPLE / "kvstore.yaml"
PACKAGE = EXAMPLE / "kvstore_sdk"
KV_ENV = ("KV_TOKEN", "KV_TENANT", "KV_BASE_URL", "KV_TIMEOUT", "KV_MAX_RETRIES", "KV_LOG")
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(scope="session")
def server_module() -> ModuleType:
    """``examples/kvstore/server.py``, loaded from its file (it is not a package's module)."""
    spec = importlib.util.spec_from_file_location("kvstore_example_server", EXAMPLE / "server.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sdk() -> Iterator[ModuleType]:
    """The checked-in ``kvstore_sdk``, imported with its parent directory on ``sys.path``."""
    sys.path.insert(0, str(EXAMPLE))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("kvstore_sdk")
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [n for n in sys.modules if n.split(".")[0] == "kvstore_sdk"]:
            del sys.modules[name]


@pytest.fixture(scope="session")
def server(server_module: ModuleType) -> Iterator[Any]:
    """The API and its signed-URL host; they stop themselves after 5 minutes in any case."""
    running = server_module.KVServer(lifetime=300, max_requests=5000)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's KV_* variables, or a proxy for 127.0.0.1."""
    for name in (*KV_ENV, *PROXY_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tenant() -> str:
    """A tenant of this test's own: an empty key space."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def token(server_module: ModuleType) -> str:
    """The bearer token the server accepts from the start."""
    return str(server_module.TOKEN)


@pytest.fixture
def client(sdk: ModuleType, server: Any, tenant: str, token: str) -> Iterator[Any]:
    """A sync client of the tenant (both credentials given as arguments)."""
    with sdk.KVStore(
        base_url=server.base_url, api_key=token, credentials={"KV_TENANT": tenant}, timeout=20
    ) as kv:
        yield kv


@pytest.fixture
async def aclient(sdk: ModuleType, server: Any, tenant: str, token: str) -> AsyncIterator[Any]:
    """The asyncio twin of ``client``."""
    async with sdk.AsyncKVStore(
        base_url=server.base_url, api_key=token, credentials={"KV_TENANT": tenant}, timeout=20
    ) as kv:
        yield kv
