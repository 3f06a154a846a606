"""The key-value example end to end: the checked-in ``kvstore_sdk`` (generated from
``examples/kvstore/kvstore.yaml``) against the example's real server over sockets, one test per
capability of the kit, sync and async (the multipart import and the declared error bodies are
in ``test_import_and_errors.py``, the raw and streaming views in ``test_raw_responses.py``, the
SDK generated from ``openapi.json`` + ``overlay.yaml`` in ``test_overlay.py``). Assertions are
on what the server received (headers, query, bodies, timing lower bounds) and on what the SDK
hands back, never on timing upper bounds.

A body property whose wire name is not an identifier (``content-type`` in ``PutValue`` and
``KeyEntry``, named ``content_type`` in Python with ``x-py-name``) is covered next to the header
and cookie parameters: sent under its wire name, read back into its Python name.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sdkgen.codegen import check
from sdkgen.runtime import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RequestFailedError,
)

from .conftest import MANIFEST, PACKAGE


def _put_many(kv: Any, *names: str, prefix: str = "") -> None:
    for name in names:
        kv.keys.put_key(prefix + name, value=f"value of {name}")


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_the_checked_in_package_is_what_the_manifest_gives() -> None:
    # `make check-codegen` runs the same check; here it also fails the kit's own suite.
    assert check(MANIFEST, PACKAGE) == ""


# -- auth: two schemes at once ----------------------------------------------------------------


def test_bearer_token_and_tenant_header_go_on_every_request(
    client: Any, server: Any, tenant: str, token: str
) -> None:
    client.keys.put_key("greeting", value="hello")
    assert client.keys.get_key("greeting").value == "hello"
    put, get = server.seen(tenant=tenant)
    for seen in (put, get):
        assert seen.headers["authorization"] == f"Bearer {token}"
        assert seen.headers["x-kv-tenant"] == tenant
        assert seen.headers["x-kv-client"] == "kvstore-sdk"  # api.default_headers
        assert seen.headers["user-agent"].startswith("kvstore-sdk/1.0.0")
    assert "idempotency-key" in put.headers  # a PUT gets one; a GET does not
    assert "idempotency-key" not in get.headers


def test_credentials_come_from_the_environment_and_a_missing_one_is_not_sent(
    sdk: ModuleType, server: Any, tenant: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_TOKEN", token)
    monkeypatch.setenv("KV_TENANT", tenant)
    monkeypatch.setenv("KV_BASE_URL", server.base_url)
    with sdk.KVStore() as kv:
        assert kv.keys.put_key("from-env", value="x").version == 1
    assert server.seen(tenant=tenant)[-1].headers["authorization"] == f"Bearer {token}"
    monkeypatch.delenv("KV_TENANT")
    with sdk.KVStore() as kv, pytest.raises(AuthenticationError) as caught:
        kv.keys.get_key("from-env")
    assert caught.value.status_code == 401


def test_a_resolved_config_is_used_as_it_is(
    sdk: ModuleType, server: Any, tenant: str, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings resolved once (arguments > environment > defaults) build any number of clients:
    # the environment is not read again, and no other setting argument is looked at.
    from sdkgen.runtime import ClientConfig

    config = ClientConfig.resolve(
        sdk.KVStore.api,
        base_url=server.base_url,
        api_key=token,
        credentials={"KV_TENANT": tenant},
        timeout=20,
    )
    monkeypatch.setenv("KV_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    with sdk.KVStore(config=config, base_url="http://127.0.0.1:9") as kv:
        assert kv.config is config
        assert kv.keys.put_key("resolved", value="x").version == 1
    assert server.seen(tenant=tenant)[-1].headers["authorization"] == f"Bearer {token}"


# -- parameters: a header with a non-identifier wire name, a cookie ----------------------------


def test_header_and_cookie_parameters_travel_under_their_wire_names(
    client: Any, server: Any, tenant: str
) -> None:
    first = client.keys.put_key("doc/1", value="v1", if_version=0, kv_session="s-42")
    assert (first.version, first.session) == (1, "s-42")
    seen = server.seen(tenant=tenant)[-1]
    assert seen.path == "/v1/keys/doc/1"  # allow_slash: the "/" is not escaped
    assert seen.headers["if-version"] == "0"
    assert seen.headers["cookie"] == "kv_session=s-42"
    # The server enforces the header: a stale version is refused, the current one accepted.
    with pytest.raises(APIStatusError) as caught:
        client.keys.put_key("doc/1", value="v2", if_version=0)
    assert caught.value.status_code == 412
    assert client.keys.put_key("doc/1", value="v2", if_version=1).version == 2
    # Unset, neither is sent.
    client.keys.put_key("doc/1", value="v3")
    assert "if-version" not in server.seen(tenant=tenant)[-1].headers
    assert "cookie" not in server.seen(tenant=tenant)[-1].headers
    with pytest.raises(APIStatusError, match="412"):
        client.keys.delete_key("doc/1", if_version=2)
    assert client.keys.delete_key("doc/1", if_version=3) is None
    with pytest.raises(NotFoundError):
        client.keys.get_key("doc/1")


def test_a_body_property_travels_under_its_wire_name(
    sdk: ModuleType, client: Any, server: Any, tenant: str
) -> None:
    entry = client.keys.put_key("doc", value="{}", content_type="application/json")
    sent = json.loads(server.seen(tenant=tenant)[-1].body)
    assert sent == {"value": "{}", "content-type": "application/json"}
    # The server stored it under "content-type"; the SDK reads that into `.content_type`.
    assert entry.content_type == "application/json"
    raw = client.keys.with_raw_response.get_key("doc")
    assert raw.json()["content-type"] == "application/json"  # the reply's own key
    assert raw.parse().content_type == "application/json"
    assert entry.model_dump(exclude_none=True)["content-type"] == "application/json"
    # A prebuilt body by its Python name is sent by the wire name too; unset, nothing is sent.
    client.keys.put_key("doc", request=sdk.models.PutValue(value="x", content_type="text/plain"))
    assert json.loads(server.seen(tenant=tenant)[-1].body)["content-type"] == "text/plain"
    assert client.keys.get_key("doc").content_type == "text/plain"
    assert client.keys.put_key("doc", value="y").content_type is None
    assert json.loads(server.seen(tenant=tenant)[-1].body) == {"value": "y"}


async def test_async_body_property_travels_under_its_wire_name(
    aclient: Any, server: Any, tenant: str
) -> None:
    entry = await aclient.keys.put_key("doc", value="v", content_type="text/plain")
    assert json.loads(server.seen(tenant=tenant)[-1].body)["content-type"] == "text/plain"
    assert (await aclient.keys.get_key("doc")).content_type == "text/plain"
    assert entry.content_type == "text/plain"


def test_parameters_are_validated_before_anything_is_sent(
    client: Any, server: Any, tenant: str
) -> None:
    with pytest.raises(ValueError, match="if_version"):
        client.keys.put_key("k", value="v", if_version=-1)
    with pytest.raises(ValueError, match="cookie parameter `kv_session`"):
        client.keys.put_key("k", value="v", kv_session="a; b")
    assert server.seen(tenant=tenant) == []


# -- pagination: one store, four styles ---------------------------------------------------------


def test_offset_pages_stop_at_the_total(client: Any, server: Any, tenant: str) -> None:
    _put_many(client, "a", "b", "c", "d", "e", prefix="p/")
    _put_many(client, "other")
    keys = [entry.key for entry in client.keys.iter_list_keys(prefix="p/", limit=2)]
    assert keys == ["p/a", "p/b", "p/c", "p/d", "p/e"]
    asked = [s.query for s in server.seen(tenant=tenant) if s.path == "/v1/keys"]
    # Three pages: 2 + 2 + 1 reach the total, so no fourth, empty page is asked for.
    assert [q["offset"] for q in asked] == [["0"], ["2"], ["4"]]
    pages = list(client.keys.iter_list_keys_pages(prefix="p/", limit=2, offset=3))
    assert [[e.key for e in p.data.items] for p in pages] == [["p/d", "p/e"]]


def test_numbered_pages_stop_at_an_empty_page(client: Any, server: Any, tenant: str) -> None:
    _put_many(client, "a", "b", "c")
    pages = list(client.keys.iter_list_key_pages_pages(per_page=2))
    assert [len(p.results) for p in pages] == [2, 1, 0]
    asked = [s.query["page"] for s in server.seen(tenant=tenant) if s.path == "/v1/key-pages"]
    assert asked == [["1"], ["2"], ["3"]]
    assert [e.key for e in client.keys.iter_list_key_pages(page=2, per_page=2)] == ["c"]


def test_cursor_pages_follow_the_cursor_in_the_body(client: Any, server: Any, tenant: str) -> None:
    _put_many(client, "a", "b", "c", "d", "e")
    assert list(client.keys.iter_scan_keys(limit=2)) == ["a", "b", "c", "d", "e"]
    asked = [s.query for s in server.seen(tenant=tenant) if s.path == "/v1/key-scan"]
    assert "after" not in asked[0]
    assert len(asked) == 3
    assert all("after" in q for q in asked[1:])


def test_link_pages_follow_rel_next(client: Any, server: Any, tenant: str) -> None:
    _put_many(client, "a", "b", "c", "d", "e")
    pages = list(client.keys.iter_feed_keys_pages(limit=2))
    assert [[e.key for e in p.items] for p in pages] == [["a", "b"], ["c", "d"], ["e"]]
    asked = [s.query for s in server.seen(tenant=tenant) if s.path == "/v1/key-feed"]
    # The next request's query is the link's: `start` is a parameter only the server knows.
    assert [q.get("start") for q in asked] == [None, ["2"], ["4"]]


async def test_async_iterators_walk_every_style(aclient: Any) -> None:
    for name in ("a", "b", "c"):
        await aclient.keys.put_key(name, value=name)
    keys = aclient.keys
    assert [e.key async for e in keys.iter_list_keys(limit=2)] == ["a", "b", "c"]
    assert [e.key async for e in keys.iter_list_key_pages(per_page=2)] == ["a", "b", "c"]
    assert [k async for k in keys.iter_scan_keys(limit=2)] == ["a", "b", "c"]
    assert [len(p.items) async for p in keys.iter_feed_keys_pages(limit=2)] == [2, 1]


# -- binary responses and the signed-URL redirect ----------------------------------------------

BIG = "".join(f"{i:08d}" for i in range(40_000))  # 320 kB: several reads, not one


def test_a_value_comes_back_as_bytes_and_streams_to_a_file(
    client: Any, server: Any, tenant: str, tmp_path: Path
) -> None:
    client.keys.put_key("big", value=BIG)
    assert client.values.download_value("big") == BIG.encode()
    target = tmp_path / "big.bin"
    with client.values.stream_download_value("big") as body:
        written = body.write_to_file(target)
    assert written == len(BIG)
    assert target.read_bytes() == BIG.encode()
    assert server.seen(tenant=tenant)[-1].headers["accept"] == "*/*"
    with pytest.raises(NotFoundError):
        client.values.download_value("missing")


def test_the_snapshot_redirect_reaches_the_signed_host_without_credentials(
    client: Any, server: Any, tenant: str, tmp_path: Path
) -> None:
    _put_many(client, "a", "b")
    before = len(server.seen(host="signed"))
    lines = client.values.export_snapshot().decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a", "b"]
    with client.values.stream_export_snapshot(prefix="b") as body:
        body.write_to_file(tmp_path / "snapshot.jsonl")
    assert json.loads((tmp_path / "snapshot.jsonl").read_text())["key"] == "b"
    asked = server.seen(host="signed")[before:]
    assert len(asked) == 2
    for seen in asked:
        assert seen.path.startswith("/blobs/")
        for header in ("authorization", "x-kv-tenant", "cookie"):
            assert header not in seen.headers, header
        assert seen.headers["x-kv-client"] == "kvstore-sdk"  # other headers go along
    # The host does refuse credentials: were they sent, the download above would have failed.
    snapshot = server.seen(tenant=tenant)[-1]
    assert snapshot.path == "/v1/snapshot"
    signed = f"{server.signed_url}{asked[-1].path}"
    refused = httpx.get(signed, headers={"Authorization": "Bearer x"}, trust_env=False)
    assert refused.status_code == 403


async def test_async_binary_and_redirect(
    aclient: Any, server: Any, tenant: str, tmp_path: Path
) -> None:
    await aclient.keys.put_key("big", value=BIG)
    assert await aclient.values.download_value("big") == BIG.encode()
    body = await aclient.values.stream_download_value("big")
    async with body:
        await body.write_to_file(tmp_path / "big.bin")
    assert (tmp_path / "big.bin").read_bytes() == BIG.encode()
    assert (await aclient.values.export_snapshot()).count(b"\n") == 1
    assert "authorization" not in server.seen(host="signed")[-1].headers


# -- a form body: the password grant -----------------------------------------------------------


def test_the_token_exchange_is_a_form_and_its_token_works(
    sdk: ModuleType, client: Any, server: Any, tenant: str
) -> None:
    reply = client.tokens.exchange_token(
        username="ada", password="lovelace", scope=["read", "write"]
    )
    assert reply.token_type == "bearer"
    assert reply.scope == ["read", "write"]
    seen = server.seen(tenant=tenant)[-1]
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body == b"grant_type=password&username=ada&password=lovelace&scope=read&scope=write"
    with sdk.KVStore(
        base_url=server.base_url, api_key=reply.access_token, credentials={"KV_TENANT": tenant}
    ) as fresh:
        assert fresh.keys.put_key("with-new-token", value="ok").version == 1
    assert server.seen(tenant=tenant)[-1].headers["authorization"] == f"Bearer {reply.access_token}"
    with pytest.raises(BadRequestError):
        client.tokens.exchange_token(username="ada", password="wrong")
    with pytest.raises(ValueError, match="scope"):  # request enums stay closed
        client.tokens.exchange_token(username="ada", password="lovelace", scope=["root"])


# -- futures: a 202-and-poll job ---------------------------------------------------------------


def test_a_job_is_polled_through_two_pending_states_at_the_hinted_pace(
    client: Any, server: Any, tenant: str
) -> None:
    client.keys.put_key("c/full", value="x")
    client.keys.put_key("c/empty", value="")
    states: list[str] = []
    handle = client.jobs.start_compaction(
        prefix="c/", steps=2, poll_after_ms=300, on_queue_state=lambda s, _r: states.append(s)
    )
    assert handle.submission.job_id.startswith("job-")
    result = handle.result(timeout=30)
    assert (result.status.state, result.removed, result.kept) == ("done", 1, 1)
    # queued, running (both "not yet": several pending values at a dotted path), then done.
    assert states[:2] == ["queued", "running"]
    assert handle.polls == 3
    assert server.job(handle.request_id).polls == 3  # no poll beyond the result
    polls = [s.at for s in server.seen(tenant=tenant) if s.path.startswith("/v1/jobs/job-")]
    # The body hint (300 ms) replaced the 50 ms poll_interval: a lower bound only.
    assert all(gap >= 0.25 for gap in _gaps(polls)), _gaps(polls)


@pytest.mark.parametrize(
    ("outcome", "message", "category"),
    [("failed", "disk full", "storage"), ("cancelled", "cancelled by an operator", "operator")],
)
def test_failed_values_raise_with_the_nested_message(
    client: Any, outcome: str, message: str, category: str
) -> None:
    handle = client.jobs.start_compaction(steps=1, poll_after_ms=0, outcome=outcome)
    with pytest.raises(RequestFailedError, match=message) as caught:
        handle.result(timeout=30)
    assert caught.value.category == category
    assert handle.polls == 2


async def test_async_job_honours_the_retry_after_header(
    aclient: Any, server: Any, tenant: str
) -> None:
    handle = await aclient.jobs.start_compaction(steps=1)  # no body hint: Retry-After: 1
    result = await handle.result(timeout=30)
    assert result.status.state == "done"
    assert handle.polls == 2
    polls = [s.at for s in server.seen(tenant=tenant) if s.path.startswith("/v1/jobs/job-")]
    assert _gaps(polls)[0] >= 0.9, polls


# -- server-sent events: names and ids ---------------------------------------------------------


def test_events_are_routed_by_name_with_their_ids(sdk: ModuleType, client: Any) -> None:
    client.keys.put_key("a", value="1")
    client.keys.put_key("b", value="two")
    client.keys.delete_key("a")
    with client.watch.watch_keys() as stream:
        events = list(stream.events())
    # ping (ignored), compacted (unknown: ignored) and end (ends the stream) are not yielded;
    # the late event the server sends after `end` is never read.
    assert [e.name for e in events] == ["put", "put", "delete"]
    assert [type(e.data) for e in events] == [sdk.models.PutEvent] * 2 + [sdk.models.DeleteEvent]
    assert [e.data.key for e in events] == ["a", "b", "a"]
    ids = [int(e.id) for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert stream.last_event_id == events[-1].id
    # Resuming after the first event: the server sends only what came later.
    with client.watch.watch_keys(extra_headers={"Last-Event-ID": events[0].id}) as resumed:
        assert [data.key for data in resumed] == ["b", "a"]  # iterating yields the data


async def test_async_events_with_a_prefix(aclient: Any) -> None:
    await aclient.keys.put_key("x/1", value="1")
    await aclient.keys.put_key("y/1", value="1")
    stream = await aclient.watch.watch_keys(prefix="x/")
    async with stream:
        events = [e async for e in stream.events()]
    assert [(e.name, e.data.key) for e in events] == [("put", "x/1")]
    assert events[0].id is not None


# -- open enums in responses -------------------------------------------------------------------


def test_a_kind_the_manifest_does_not_list_is_kept(client: Any) -> None:
    # ValueKind lists text and json; this server also says "counter" for an integer value.
    assert client.keys.put_key("n", value="42").kind == "counter"
    assert client.keys.put_key("j", value='{"a": 1}').kind == "json"
    assert client.keys.get_key("n").kind == "counter"
    assert [e.kind for e in client.keys.iter_list_keys()] == ["json", "counter"]
    (event,) = [e for e in client.watch.watch_keys() if e.key == "n"]
    assert event.kind == "counter"


# -- extra_query / extra_body ------------------------------------------------------------------


def test_extra_query_and_extra_body_reach_the_wire(client: Any, server: Any, tenant: str) -> None:
    client.keys.put_key(
        "labelled",
        value="v",
        extra_query={"trace": "on", "unused": None},
        extra_body={"labels": {"team": "search"}, "value": "overridden"},
    )
    seen = server.seen(tenant=tenant)[-1]
    assert seen.query == {"trace": ["on"]}  # a None value leaves the key out
    assert json.loads(seen.body) == {"value": "overridden", "labels": {"team": "search"}}
    assert client.keys.get_key("labelled").value == "overridden"  # extra_body's keys win


async def test_async_extra_body_on_a_future_submission(
    aclient: Any, server: Any, tenant: str
) -> None:
    handle = await aclient.jobs.start_compaction(
        steps=0, extra_body={"priority": 3}, extra_query={"dry_run": "1"}
    )
    await handle.result(timeout=30)
    submit = next(s for s in server.seen(tenant=tenant) if s.path == "/v1/jobs/compaction")
    assert json.loads(submit.body)["priority"] == 3
    assert submit.query == {"dry_run": ["1"]}


# -- hooks: once per attempt, retries included -------------------------------------------------


def test_hooks_run_once_per_attempt(sdk: ModuleType, server: Any, tenant: str, token: str) -> None:
    signed: list[str] = []
    statuses: list[int] = []

    def sign(request: httpx.Request) -> None:
        # Runs after auth: it sees (and could sign) the credentials.
        assert request.headers["authorization"] == f"Bearer {token}"
        request.headers["X-KV-Signature"] = f"sig-{len(signed)}"
        signed.append(request.url.path)

    with sdk.KVStore(
        base_url=server.base_url,
        api_key=token,
        credentials={"KV_TENANT": tenant},
        request_hooks=[sign],
        response_hooks=[lambda response: statuses.append(response.status_code)],
    ) as kv:
        kv.keys.put_key("k", value="v")
        # The server fails the first attempt of this fault value with a 503; the retry passes.
        entry = kv.keys.get_key("k", extra_headers={"X-KV-Fault": f"{tenant}-once"})
    assert entry.value == "v"
    assert signed == ["/v1/keys/k"] * 3
    assert statuses == [200, 503, 200]
    attempts = server.seen(tenant=tenant)[1:]
    assert [s.headers["x-kv-signature"] for s in attempts] == ["sig-1", "sig-2"]
    assert [s.headers["x-kv-retry"] for s in attempts] == ["0", "1"]


async def test_async_hooks_see_every_attempt(
    sdk: ModuleType, server: Any, tenant: str, token: str
) -> None:
    seen: list[tuple[str, int]] = []
    async with sdk.AsyncKVStore(
        base_url=server.base_url,
        api_key=token,
        credentials={"KV_TENANT": tenant},
        request_hooks=[lambda request: seen.append(("request", 0))],
        response_hooks=[lambda response: seen.append(("response", response.status_code))],
    ) as kv:
        await kv.keys.put_key("k", value="v", extra_headers={"X-KV-Fault": f"{tenant}-a"})
    assert seen == [("request", 0), ("response", 503), ("request", 0), ("response", 200)]
