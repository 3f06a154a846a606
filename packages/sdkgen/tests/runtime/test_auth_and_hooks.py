"""Issue 11, point 3: auth schemes (header key, bearer, basic, query key, several at once) and
per-attempt request/response hooks. Request contracts over ``httpx.MockTransport``; the
redirect to another origin over two real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import httpx
import pytest
from sdkgen.runtime import AuthSpec, ConfigError, PoolSpec, RequestOptions
from sdkgen.runtime._redact import redact
from tests.runtime._support import (
    API_SPEC,
    ENDPOINTS,
    HTTPServerThread,
    async_client_class,
    sync_client_class,
)

KEY = "key-1111-aaaa-2222-bbbb"
TOKEN = "tok-3333-cccc-4444-dddd"
QKEY = "qk-5555-eeee-6666-ffff"
USER = "farmer-7777"
PASSWORD = "pw-8888-gggg-9999-hhhh"

SEVERAL = dataclasses.replace(
    API_SPEC,
    auth=AuthSpec(header="X-Farm-Key", env="FARM_KEY"),
    extra_auth=(
        AuthSpec(header="Authorization", env="FARM_TOKEN", scheme="bearer"),
        AuthSpec(header=None, env="FARM_QKEY", scheme="query", query="api_key"),
    ),
)
BASIC = dataclasses.replace(
    API_SPEC,
    auth=AuthSpec(header=None, env="FARM_USER", scheme="basic", password_env="FARM_PASSWORD"),
)
NO_ENV = {"FARM_KEY": "", "FARM_TOKEN": "", "FARM_QKEY": "", "FARM_USER": "", "FARM_PASSWORD": ""}


class Recorder:
    """A mock transport answering from a list of statuses (the last one repeats)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [200]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return httpx.Response(status, json={"id": "1"})


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NO_ENV:
        monkeypatch.delenv(name, raising=False)


def _get(client: Any, **options: Any) -> Any:
    spec = ENDPOINTS["get_item"]
    return client.request(
        spec, dict, path_params={"item_id": "7"}, options=RequestOptions(**options)
    )


def test_several_credentials_go_together_from_arguments_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FARM_TOKEN", TOKEN)
    record = Recorder()
    client_class = sync_client_class(SEVERAL)
    with client_class(
        api_key=KEY, credentials={"FARM_QKEY": QKEY}, transport=httpx.MockTransport(record)
    ) as client:
        _get(client)
    [sent] = record.requests
    assert sent.headers["X-Farm-Key"] == KEY
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.url.params["api_key"] == QKEY
    # Each secret is registered for redaction the moment it is read.
    assert KEY not in redact(f"{KEY} {TOKEN} {QKEY}")
    assert TOKEN not in redact(TOKEN)
    assert QKEY not in redact(str(sent.url))


def test_a_missing_credential_is_left_out_and_an_unknown_name_is_refused() -> None:
    record = Recorder()
    with sync_client_class(SEVERAL)(api_key=KEY, transport=httpx.MockTransport(record)) as c:
        _get(c)
    [sent] = record.requests
    assert "Authorization" not in sent.headers
    assert "api_key" not in sent.url.params
    with pytest.raises(ConfigError, match=r"unknown name\(s\) \['FARM_TOKN'\].*FARM_TOKEN"):
        sync_client_class(SEVERAL)(credentials={"FARM_TOKN": TOKEN})
    with pytest.raises(ConfigError, match=r"credentials\['FARM_TOKEN'\] contains a space"):
        sync_client_class(SEVERAL)(credentials={"FARM_TOKEN": "a b"})


def test_basic_auth_takes_the_user_and_password_from_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FARM_USER", USER)
    monkeypatch.setenv("FARM_PASSWORD", PASSWORD)
    record = Recorder()
    with sync_client_class(BASIC)(transport=httpx.MockTransport(record)) as client:
        _get(client)
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert record.requests[0].headers["Authorization"] == f"Basic {encoded}"
    assert PASSWORD not in redact(PASSWORD)
    assert encoded[:12] not in redact(f"echoed {encoded}")  # the encoded pair is a secret too


class _Elsewhere(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        _Elsewhere.seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _origin_handler(target: str) -> type[BaseHTTPRequestHandler]:
    class Origin(_Elsewhere):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + "/landed")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Origin


@pytest.fixture
def servers() -> Iterator[str]:
    _Elsewhere.seen.clear()
    elsewhere = HTTPServerThread(_Elsewhere, lifetime=20)
    # Another origin: the same host under another port.
    origin = HTTPServerThread(_origin_handler(elsewhere.base_url), lifetime=20)
    try:
        yield origin.base_url
    finally:
        origin.stop()
        elsewhere.stop()


def test_no_credential_goes_along_a_redirect_to_another_origin(servers: str) -> None:
    spec = dataclasses.replace(SEVERAL, pools={"default": PoolSpec(follow_redirects=True)})
    with sync_client_class(spec)(
        base_url=servers,
        api_key=KEY,
        credentials={"FARM_TOKEN": TOKEN, "FARM_QKEY": QKEY},
        timeout=10,
    ) as client:
        _get(client)
    [landed] = _Elsewhere.seen
    assert landed["path"] == "/landed"
    assert "x-farm-key" not in landed
    assert "authorization" not in landed
    assert QKEY not in str(landed)


def test_hooks_run_on_every_attempt_client_first_after_auth() -> None:
    order: list[str] = []
    statuses: list[int] = []

    def sign(request: httpx.Request) -> None:
        # Sees the final request, auth included; what it sets is sent.
        order.append("client")
        request.headers["X-Signature"] = f"sig({request.headers['X-Farm-Key']})"

    def per_call(request: httpx.Request) -> None:
        order.append("call")
        request.headers["X-Trace"] = f"t{len(order)}"

    record = Recorder(503, 200)
    with sync_client_class(SEVERAL)(
        api_key=KEY,
        request_hooks=[sign],
        response_hooks=[lambda r: statuses.append(r.status_code)],
        transport=httpx.MockTransport(record),
    ) as client:
        _get(client, request_hooks=[per_call])
    assert order == ["client", "call", "client", "call"]
    assert statuses == [503, 200]
    assert [r.headers["X-Signature"] for r in record.requests] == [f"sig({KEY})"] * 2
    assert [r.headers["X-Trace"] for r in record.requests] == ["t2", "t4"]
    assert [r.headers["X-Retry-Count"] for r in record.requests] == ["0", "1"]


class HookFailed(Exception):
    pass


def _fail(_: object) -> None:
    raise HookFailed("no")


@pytest.mark.parametrize("where", ["request_hooks", "response_hooks"])
def test_a_hook_error_propagates_as_is_and_is_not_retried(where: str) -> None:
    record = Recorder(503, 200)
    client = sync_client_class(SEVERAL)(transport=httpx.MockTransport(record))
    with client, pytest.raises(HookFailed):
        _get(client, **{where: [_fail]})
    assert len(record.requests) == (0 if where == "request_hooks" else 1)


def test_the_asyncio_client_runs_the_hooks_too() -> None:
    seen: list[tuple[str, int]] = []
    record = Recorder(503, 200)

    async def main() -> None:
        async with async_client_class(SEVERAL)(
            api_key=KEY,
            request_hooks=[lambda r: seen.append(("req", 0))],
            transport=httpx.MockTransport(record),
        ) as client:
            await client.request(
                ENDPOINTS["get_item"],
                dict,
                path_params={"item_id": "7"},
                options=RequestOptions(
                    response_hooks=[lambda r: seen.append(("res", r.status_code))]
                ),
            )
            with pytest.raises(HookFailed):
                await client.request(
                    ENDPOINTS["get_item"],
                    dict,
                    path_params={"item_id": "7"},
                    options=RequestOptions(response_hooks=[_fail]),
                )

    asyncio.run(main())
    assert seen == [("req", 0), ("res", 503), ("req", 0), ("res", 200), ("req", 0)]


def test_a_hook_that_is_not_callable_is_refused_naming_it() -> None:
    with pytest.raises(TypeError, match=r"response_hooks\[1\] is a str, not a callable"):
        sync_client_class(SEVERAL)(response_hooks=[print, "nope"])
