"""``with_raw_response`` and ``with_streaming_response`` on the key-value example, against its
real server: the status, headers and request of the answer next to what the plain method
returns, retries counted, errors raised as by the plain methods, and streamed bodies read
only when asked (the server's own request log shows what was sent)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sdkgen.runtime import NotFoundError, UnprocessableEntityError

BIG = "".join(f"{i:08d}" for i in range(40_000))  # 320 kB: several chunks


def test_raw_response_has_status_headers_and_the_parsed_model(
    sdk: ModuleType, client: Any, server: Any, tenant: str
) -> None:
    raw = client.keys.with_raw_response.put_key("doc/1", value="v1", if_version=0)
    assert raw.status_code == 200
    assert raw.headers["x-kv-request-id"].startswith("req-")
    assert raw.method == "PUT"
    assert raw.url.path == "/v1/keys/doc/1"  # allow_slash, as the plain method
    assert raw.http_request.headers["if-version"] == "0"
    assert raw.endpoint == "put_key"
    assert raw.retries_taken == 0
    entry = raw.parse()
    assert isinstance(entry, sdk.models.KeyEntry)
    assert (entry.key, entry.version) == ("doc/1", 1)
    assert raw.json()["version"] == 1  # the body itself, unvalidated
    assert raw.parse() is entry  # decoded once
    assert len(server.seen(tenant=tenant)) == 1
    # A 204 has no model: parse() gives what delete_key gives.
    deleted = client.keys.with_raw_response.delete_key("doc/1")
    assert (deleted.status_code, deleted.parse(), deleted.content) == (204, None, b"")


def test_raw_response_counts_retries_and_errors_raise_as_usual(
    sdk: ModuleType, client: Any, tenant: str
) -> None:
    client.keys.put_key("k", value="v")
    raw = client.keys.with_raw_response.get_key("k", extra_headers={"X-KV-Fault": f"{tenant}-r"})
    assert (raw.status_code, raw.retries_taken) == (200, 1)  # the 503 was retried
    assert raw.parse().value == "v"
    with pytest.raises(NotFoundError) as caught:
        client.keys.with_raw_response.get_key("missing")
    assert isinstance(caught.value.parsed, sdk.models.ErrorReply)  # the declared error shape
    assert caught.value.message == "no key `missing`"
    with pytest.raises(UnprocessableEntityError):
        client.imports.with_raw_response.import_values(file=b"nope\n")


def test_raw_response_of_a_multipart_upload_and_a_future(
    client: Any, server: Any, tenant: str
) -> None:
    raw = client.imports.with_raw_response.import_values(file=b'{"key": "a", "value": "1"}\n')
    assert raw.http_request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert raw.parse().imported == 1
    ticket = client.jobs.with_raw_response.start_compaction(steps=0)
    assert ticket.status_code == 202
    handle = ticket.parse()  # what the plain method returns: the future's handle
    assert handle.result(timeout=30).kept == 1


def test_streaming_response_reads_the_body_only_when_asked(
    client: Any, server: Any, tenant: str, tmp_path: Path
) -> None:
    client.keys.put_key("big", value=BIG)
    with client.values.with_streaming_response.download_value("big") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-length"] == str(len(BIG))
        chunks = list(resp.iter_bytes(65536))
    assert b"".join(chunks) == BIG.encode()
    assert max(len(c) for c in chunks) <= 65536
    assert len(chunks) >= 5
    # parse() on a JSON endpoint reads, then decodes as the plain method.
    with client.keys.with_streaming_response.get_key("big") as resp:
        assert resp.parse().version == 1
    # The snapshot's redirect is followed (the downloads pool), without credentials.
    with client.values.with_streaming_response.export_snapshot() as resp:
        lines = resp.read().decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["big"]
    assert "authorization" not in server.seen(host="signed")[-1].headers
    # An error status raises when the block is entered; the block does not run.
    ran = False
    missing = client.values.with_streaming_response.download_value
    with pytest.raises(NotFoundError), missing("missing"):
        ran = True
    assert not ran


async def test_async_raw_and_streaming_responses(sdk: ModuleType, aclient: Any) -> None:
    raw = await aclient.keys.with_raw_response.put_key("a", value="1")
    assert raw.status_code == 200
    entry = await raw.parse()
    assert isinstance(entry, sdk.models.KeyEntry)
    assert entry.kind == "counter"  # the open enum, through the raw view too
    async with aclient.keys.with_streaming_response.get_key("a") as resp:
        assert resp.headers["content-type"] == "application/json"
        assert (await resp.parse()).value == "1"
    async with aclient.watch.with_streaming_response.watch_keys() as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        stream = await resp.parse()
        async with stream:
            assert [e.data.key async for e in stream.events()] == ["a"]
