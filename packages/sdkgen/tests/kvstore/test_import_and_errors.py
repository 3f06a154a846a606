"""The key-value example's multipart import and its declared error bodies, against the
example's real server: the file arrives byte for byte with its text fields, a retried upload
sends the file again, and errors keep their classes while carrying the parsed body
(``error.parsed``) and the message from the declared field; a body that matches no
declaration falls back to what an undeclared error gives."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sdkgen.runtime import (
    APIStatusError,
    AuthenticationError,
    NotFoundError,
    UnprocessableEntityError,
)


def _lines(*pairs: tuple[str, str]) -> bytes:
    return b"".join(json.dumps({"key": k, "value": v}).encode() + b"\n" for k, v in pairs)


def _imports(server: Any, server_module: ModuleType, tenant: str) -> list[list[Any]]:
    """The multipart bodies of the tenant's import requests, parsed by the server's parser."""
    return [
        server_module.parse_multipart(s.headers["content-type"], s.body)
        for s in server.seen(tenant=tenant)
        if s.path == "/v1/import"
    ]


# -- multipart: the bulk import -----------------------------------------------------------------


def test_an_import_file_arrives_as_sent_with_its_text_fields(
    client: Any, server: Any, server_module: ModuleType, tenant: str, tmp_path: Path
) -> None:
    data = _lines(("a", "1"), ("b", "two"), ("big", "x" * 200_000))  # several 64 KiB chunks
    path = tmp_path / "entries.jsonl"
    path.write_bytes(data)
    report = client.imports.import_values(
        file=path, prefix="in/", overwrite=False, labels=["nightly", "eu"]
    )
    assert (report.filename, report.size_bytes) == ("entries.jsonl", len(data))
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert (report.imported, report.skipped, report.labels) == (3, 0, ["nightly", "eu"])
    (parts,) = _imports(server, server_module, tenant)
    assert [(p.name, p.filename) for p in parts] == [
        ("file", "entries.jsonl"),
        ("prefix", None),
        ("overwrite", None),
        ("labels", None),
        ("labels", None),
    ]
    assert parts[0].data == data
    assert parts[0].content_type == "application/octet-stream"
    assert [p.data for p in parts[1:]] == [b"in/", b"false", b"nightly", b"eu"]
    assert client.keys.get_key("in/b").value == "two"
    # overwrite=False: keys that exist are skipped, and the report says so.
    again = client.imports.import_values(
        file=("again.jsonl", _lines(("c", "3")), "application/x-ndjson")
    )
    assert (again.filename, again.imported) == ("again.jsonl", 1)
    assert _imports(server, server_module, tenant)[-1][0].content_type == "application/x-ndjson"
    skipped = client.imports.import_values(file=data, prefix="in/", overwrite=False)
    assert (skipped.imported, skipped.skipped, skipped.filename) == (0, 3, "file")


def test_a_retried_import_sends_the_file_again(
    client: Any, server: Any, server_module: ModuleType, tenant: str
) -> None:
    data = _lines(*((f"k{i}", "v" * 500) for i in range(300)))  # about 150 kB
    source = io.BytesIO(b"HEADER-NOT-SENT" + data)
    source.seek(len(b"HEADER-NOT-SENT"))  # a file object is sent from where it stands
    # The server answers the first attempt with a 503 (X-KV-Fault); the retry must carry the
    # whole file again, not the exhausted stream.
    report = client.imports.import_values(
        file=("retried.jsonl", source), extra_headers={"X-KV-Fault": f"{tenant}-import"}
    )
    assert (report.imported, report.size_bytes) == (300, len(data))
    first, second = _imports(server, server_module, tenant)
    assert first[0].data == second[0].data == data
    attempts = [s for s in server.seen(tenant=tenant) if s.path == "/v1/import"]
    assert [s.headers["x-kv-retry"] for s in attempts] == ["0", "1"]
    # One idempotency key for both attempts of the POST.
    assert attempts[0].headers["idempotency-key"] == attempts[1].headers["idempotency-key"]


async def test_async_import_streams_a_path_and_retries(
    aclient: Any, server: Any, server_module: ModuleType, tenant: str, tmp_path: Path
) -> None:
    data = _lines(*((f"a{i}", str(i)) for i in range(5000)))  # about 150 kB
    path = tmp_path / "async.jsonl"
    path.write_bytes(data)
    with path.open("rb") as fh:
        report = await aclient.imports.import_values(
            file=fh, labels=["async"], extra_headers={"X-KV-Fault": f"{tenant}-aimport"}
        )
    assert (report.filename, report.imported, report.labels) == ("async.jsonl", 5000, ["async"])
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    bodies = _imports(server, server_module, tenant)
    assert len(bodies) == 2
    assert all(parts[0].data == data for parts in bodies)
    assert (await aclient.keys.get_key("a4999")).kind == "counter"


def test_a_bad_file_argument_is_refused_before_anything_is_sent(
    client: Any, server: Any, tenant: str
) -> None:
    with pytest.raises(ValueError, match="file field `file`"):
        client.imports.import_values(file="entries.jsonl")  # a str: bytes or a path?
    with pytest.raises(ValueError, match="labels"):
        client.imports.import_values(file=b"", labels="nightly")
    assert server.seen(tenant=tenant) == []


# -- error schemas ------------------------------------------------------------------------------


def test_api_errors_keep_their_class_and_carry_the_parsed_body(
    sdk: ModuleType, client: Any, server: Any
) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.keys.get_key("nothing/here")
    assert isinstance(missing.value.parsed, sdk.models.ErrorReply)
    assert missing.value.parsed.error.code == "not_found"
    assert missing.value.message == "no key `nothing/here`"  # error.message, exactly
    assert missing.value.body == {"error": {"code": "not_found", "message": missing.value.message}}
    client.keys.put_key("v", value="1")
    with pytest.raises(APIStatusError) as stale:
        client.keys.put_key("v", value="2", if_version=0)
    assert type(stale.value) is APIStatusError  # 412 has no class of its own
    assert stale.value.status_code == 412
    assert stale.value.parsed.error.code == "version_mismatch"
    assert stale.value.message == "`v` is at version 1"
    stranger = sdk.KVStore(base_url=server.base_url, api_key="wrong", timeout=20)
    with stranger, pytest.raises(AuthenticationError) as refused:
        stranger.keys.get_key("v")
    assert refused.value.parsed.error.code == "unauthorized"
    assert refused.value.message == "a valid bearer token is required"
    assert "wrong" not in str(refused.value)


def test_an_endpoint_declares_its_own_error_shape(sdk: ModuleType, client: Any) -> None:
    bad = _lines(("a", "1")) + b"not json\n"
    with pytest.raises(UnprocessableEntityError) as caught:
        client.imports.import_values(file=bad)
    assert isinstance(caught.value.parsed, sdk.models.ImportRejected)  # the endpoint's 422
    assert caught.value.parsed.rejected.line == 2
    assert caught.value.message == "line 2 is not an entry"  # at rejected.reason
    # Other statuses of the same endpoint still take the API's declaration.
    with pytest.raises(APIStatusError) as unsupported:
        client.imports.import_values(file=b"", extra_headers={"Content-Type": "text/plain"})
    assert unsupported.value.status_code == 415
    assert isinstance(unsupported.value.parsed, sdk.models.ErrorReply)
    assert unsupported.value.message == "send the import as multipart/form-data"


async def test_async_errors_are_parsed_too(sdk: ModuleType, aclient: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        await aclient.keys.delete_key("gone")
    assert caught.value.parsed.error.code == "not_found"
    assert caught.value.message == "no key `gone`"
    with pytest.raises(UnprocessableEntityError) as rejected:
        await aclient.imports.import_values(file=b'{"key": 1}\n')
    assert isinstance(rejected.value.parsed, sdk.models.ImportRejected)
    assert rejected.value.message == "line 1 is not an entry"


def test_a_body_no_declaration_matches_falls_back(client: Any, tmp_path: Path) -> None:
    # Over the server's import limit, a front proxy answers in plain text: not the declared
    # shape, so the error is what an undeclared one would be (message from the body's text).
    big = tmp_path / "big.jsonl"
    big.write_bytes(_lines(("k", "x" * (1024 * 1024))))
    with pytest.raises(APIStatusError) as caught:
        client.imports.import_values(file=big)
    assert caught.value.status_code == 413
    assert caught.value.parsed is None
    assert "Request Entity Too Large" in caught.value.message
    # A JSON error body of another shape (the 422 shape on a route that declares only the
    # API's): parsed is None, the body is kept as it came.
    with pytest.raises(NotFoundError) as other:
        client.keys.get_key("x", extra_headers={"X-KV-Odd-Error": "1"})
    assert other.value.parsed is None
    assert other.value.body == {"detail": "odd error shape"}
    assert other.value.message == "odd error shape"
