"""Issue 10, finding 10, in the Tinker layer: a 422 whose body is cut off is still a 422, so
the create-then-load fallback keyed on it runs (before, the cut made it an
``AmbiguousOutcomeError`` and creating a training client from a checkpoint failed).

The runtime's tests cut real sockets (packages/sdkgen/tests/runtime/test_status_first.py);
here a transport in front of the fake server cuts the body of every 422 answer to
``load_weights`` after its first bytes, the way httpcore reports a connection closed mid-body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker, faults


class _CutBody(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk[: max(1, len(chunk) // 2)]
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )

    async def aclose(self) -> None:
        await self._inner.aclose()


class CutRefusals(httpx.AsyncBaseTransport):
    """httpx's transport, except that a 422 to ``load_weights`` loses the end of its body."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.cut = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code == 422 and request.url.path.endswith("/load_weights"):
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = _CutBody(response.stream)
            self.cut += 1
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_a_cut_off_422_still_runs_the_create_then_load_fallback(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    transport = CutRefusals()
    service = make_service(server, transport=transport)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    path = training.save_state("ckpt").result(timeout=WAIT).path
    server.inject("load_weights", faults.status(422, body={"detail": "model_id: field required"}))
    restored = service.create_training_client_from_state_with_optimizer(path).result(timeout=WAIT)
    assert transport.cut == 1
    assert restored.model_id != training.model_id
    loads = server.requests_to("load_weights")
    assert [("session_id" in r.json, "model_id" in r.json) for r in loads] == [
        (True, False),  # the create-by-load refused, its answer cut off
        (False, True),  # the load into the newly created run
    ]
