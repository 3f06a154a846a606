"""Connection pools, user-supplied clients and transports, and closing."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import ClientClosedError, PoolSpec
from sdkgen.runtime._transport import SyncPools
from tests.runtime._support import (
    AsyncFactory,
    AsyncTestClient,
    SyncFactory,
    SyncTestClient,
    endpoint,
    url,
)


def ok_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"via": "user"})

    return httpx.MockTransport(handler)


def test_pools_are_created_lazily_per_name() -> None:
    built: list[PoolSpec] = []

    class CountingPools(SyncPools):
        def _build(self, spec: PoolSpec) -> httpx.Client:
            built.append(spec)
            return super()._build(spec)

    bulk = PoolSpec(max_connections=2, max_keepalive=1)
    pools = CountingPools(
        {"default": PoolSpec(), "bulk": bulk},
        user_client=None,
        transport=None,
        timeout=httpx.Timeout(1.0),
    )
    assert built == []
    first = pools.get("bulk")
    assert pools.get("bulk") is first
    assert built == [bulk]
    default = pools.get("default")
    assert default is not first
    other = pools.get("unknown-name")  # unknown names get the default pool's settings
    assert other is not default
    assert built == [bulk, PoolSpec(), PoolSpec()]
    pools.close()
    assert first.is_closed
    assert default.is_closed
    assert other.is_closed


def test_calls_use_the_pool_of_their_endpoint(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    assert set(client._pools._clients) == set()  # nothing is opened before the first call
    httpx_mock.add_response(json={}, is_reusable=True)
    client.request(endpoint("bulk_op"), dict, body={})
    assert set(client._pools._clients) == {"bulk"}
    bulk = client._pools.get("bulk")
    client.request(endpoint("create_item"), dict, body={})
    client.request(endpoint("bulk_op"), dict, body={})
    assert set(client._pools._clients) == {"bulk", "default"}
    assert client._pools.get("bulk") is bulk
    assert client._pools.get("default") is not bulk
    assert len(httpx_mock.get_requests()) == 3


def test_user_http_client_is_used_and_not_closed(make_client: SyncFactory) -> None:
    seen: list[httpx.Request] = []
    user = httpx.Client(transport=ok_transport(seen))
    try:
        client = make_client(http_client=user)
        assert client.request(endpoint("bulk_op"), dict, body={}) == {"via": "user"}
        assert client.request(endpoint("create_item"), dict, body={}) == {"via": "user"}
        assert len(seen) == 2
        assert seen[0].url == url("/bulk")
        client.close()
        assert client.closed
        assert not user.is_closed
        assert user.get("https://elsewhere.test/").status_code == 200  # still usable
    finally:
        user.close()


def test_user_transport_builds_every_pool(make_client: SyncFactory) -> None:
    seen: list[httpx.Request] = []
    client = make_client(transport=ok_transport(seen))
    client.request(endpoint("bulk_op"), dict, body={})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert [r.url.path for r in seen] == ["/v1/bulk", "/v1/items/1"]


def test_closed_client_raises(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    client.close()
    assert client.closed
    with pytest.raises(ClientClosedError, match="closed"):
        client.request(endpoint("ping"), dict, body={})
    assert httpx_mock.get_requests() == []
    client.close()  # closing twice is fine


def test_context_manager_closes_the_pools(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    with SyncTestClient(base_url=url(""), api_key="k") as client:
        client.request(endpoint("ping"), dict, body={})
        pool = client._pools.get("default")
        assert not pool.is_closed
    assert client.closed
    assert pool.is_closed
    with pytest.raises(ClientClosedError):
        client.request(endpoint("ping"), dict, body={})


# -- async -------------------------------------------------------------------------------------


async def test_async_user_http_client_is_used_and_not_closed(
    make_async_client: AsyncFactory,
) -> None:
    seen: list[httpx.Request] = []
    user = httpx.AsyncClient(transport=ok_transport(seen))
    try:
        client = make_async_client(http_client=user)
        assert await client.request(endpoint("ping"), dict, body={}) == {"via": "user"}
        await client.close()
        assert client.closed
        assert not user.is_closed
        assert len(seen) == 1
    finally:
        await user.aclose()


async def test_async_pools_lazy_and_closed(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)
    await aclient.request(endpoint("bulk_op"), dict, body={})
    bulk = aclient._pools.get("bulk")
    assert aclient._pools.get("bulk") is bulk
    assert aclient._pools.get("default") is not bulk
    await aclient.close()
    assert bulk.is_closed
    with pytest.raises(ClientClosedError):
        await aclient.request(endpoint("bulk_op"), dict, body={})


async def test_async_context_manager_closes(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"a": 1})
    async with AsyncTestClient(base_url=url(""), api_key="k") as client:
        assert await client.request(endpoint("ping"), dict, body={}) == {"a": 1}
        pool = client._pools.get("default")
    assert client.closed
    assert pool.is_closed


async def test_async_user_transport(make_async_client: AsyncFactory) -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[1, 2])

    client = make_async_client(transport=httpx.MockTransport(handler))
    assert await client.request(endpoint("search"), list[int]) == [1, 2]
    assert len(seen) == 1
