"""The key-value API generated from its OpenAPI document plus ``examples/kvstore/overlay.yaml``
(what OpenAPI cannot say: pagination, futures, pools, SSE routing, error messages), into a
temporary directory, and run against the example's real server: the same behaviours as the
checked-in ``kvstore_sdk`` that ``kvstore.yaml`` describes."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sdkgen.codegen.generate import generate
from sdkgen.runtime import NotFoundError, UnprocessableEntityError

from .conftest import EXAMPLE

PACKAGE = "kvstore_overlay_sdk"


@pytest.fixture(scope="module")
def overlay_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("overlay")
    generate(EXAMPLE / "overlay.yaml", root / PACKAGE)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def kv(overlay_sdk: ModuleType, server: Any, tenant: str, token: str) -> Iterator[Any]:
    with overlay_sdk.KVStore(
        base_url=server.base_url, api_key=token, credentials={"KV_TENANT": tenant}, timeout=20
    ) as client:
        yield client


def test_credentials_headers_and_errors_from_the_overlay(
    overlay_sdk: ModuleType, kv: Any, server: Any, tenant: str, token: str
) -> None:
    assert kv.keys.put_key("greeting", value="hello", if_version=0).version == 1
    assert kv.keys.get_key("greeting").value == "hello"
    put, get = server.seen(tenant=tenant)
    assert put.headers["authorization"] == f"Bearer {token}"
    assert put.headers["if-version"] == "0"
    assert put.headers["x-kv-client"] == "kvstore-sdk"
    assert "idempotency-key" in put.headers
    assert get.headers["user-agent"].startswith("kvstore-sdk/1.0.0")
    with pytest.raises(NotFoundError) as caught:
        kv.keys.get_key("missing")
    assert isinstance(caught.value.parsed, overlay_sdk.models.ErrorReply)
    assert caught.value.message == "no key `missing`"


def test_pagination_from_the_overlay(kv: Any, server: Any, tenant: str) -> None:
    for name in "abcde":
        kv.keys.put_key(name, value=name)
    assert [e.key for e in kv.keys.iter_list_keys(limit=2)] == list("abcde")
    assert list(kv.keys.iter_scan_keys(limit=2)) == list("abcde")
    assert [len(p.items) for p in kv.keys.iter_feed_keys_pages(limit=2)] == [2, 2, 1]
    offsets = [s.query["offset"] for s in server.seen(tenant=tenant) if s.path == "/v1/keys"]
    assert offsets == [["0"], ["2"], ["4"]]


def test_a_future_sse_events_and_the_signed_download(kv: Any, server: Any, tenant: str) -> None:
    kv.keys.put_key("c/empty", value="")
    handle = kv.jobs.start_compaction(prefix="c/", steps=2, poll_after_ms=50)
    result = handle.result(timeout=30)
    assert (result.status.state, result.removed, handle.polls) == ("done", 1, 3)
    with kv.watch.watch_keys() as stream:
        assert [(e.name, e.data.key) for e in stream.events()] == [("put", "c/empty")]
    before = len(server.seen(host="signed"))
    assert kv.values.export_snapshot().count(b"\n") == 1  # the downloads pool follows the 302
    (signed,) = server.seen(host="signed")[before:]
    assert "authorization" not in signed.headers


def test_the_multipart_import_and_its_own_error(
    overlay_sdk: ModuleType, kv: Any, server: Any, tenant: str, tmp_path: Path
) -> None:
    path = tmp_path / "entries.jsonl"
    path.write_bytes(b'{"key": "a", "value": "1"}\n{"key": "b", "value": "2"}\n')
    report = kv.imports.import_values(file=path, prefix="in/", labels=["x"])
    assert (report.filename, report.imported, report.labels) == ("entries.jsonl", 2, ["x"])
    (seen,) = [s for s in server.seen(tenant=tenant) if s.path == "/v1/import"]
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    with pytest.raises(UnprocessableEntityError) as caught:
        kv.imports.import_values(file=b"oops\n")
    assert isinstance(caught.value.parsed, overlay_sdk.models.ImportRejected)
    assert caught.value.message == "line 1 is not an entry"


async def test_async_client_from_the_overlay(
    overlay_sdk: ModuleType, server: Any, tenant: str, token: str
) -> None:
    async with overlay_sdk.AsyncKVStore(
        base_url=server.base_url, api_key=token, credentials={"KV_TENANT": tenant}, timeout=20
    ) as kv:
        await kv.keys.put_key("n", value="42")
        assert (await kv.keys.get_key("n")).kind == "counter"  # the open enum
        assert [k async for k in kv.keys.iter_scan_keys(limit=1)] == ["n"]
        handle = await kv.jobs.start_compaction(steps=0)
        assert (await handle.result(timeout=30)).kept == 1
