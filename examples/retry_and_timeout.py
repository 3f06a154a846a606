"""Retries, timeouts and result deadlines.

* ``on_retry=`` is called for every retry with the attempt, the wait before the next one and
  the cause; ``max_retries=`` bounds them. Here an httpx transport (``transport=``) makes the
  server look flaky: it answers 503 to the first attempts of some requests and drops a
  connection once, and the SDK retries them.
* ``timeout=`` bounds each HTTP attempt; ``result_timeout=`` bounds every ``.result()`` wait,
  and ``.result(timeout=...)`` one wait: a wait that runs out raises ``FutureTimeoutError`` and
  leaves the request running, so you can wait again (or ``cancel()`` it).
* ``RetryConfig`` sets how sampling requests are throttled and for how long they are retried
  without progress.

    python examples/retry_and_timeout.py
"""

from __future__ import annotations

import logging
import time

import httpx
from _common import LORA_RANK, MAX_TOKENS, Example, check, run, section

import tinkex as tinker
from tinkex import types


class FlakyTransport(httpx.AsyncBaseTransport):
    """Answers 503 to the first ``n`` attempts at each listed path, and drops one connection."""

    def __init__(self, fail: dict[str, int], drop: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.fail = dict(fail)
        self.drop: str | None = drop
        self.injected = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.drop and path.endswith(self.drop):
            self.drop = None
            self.injected += 1
            raise httpx.ConnectError("injected: connection refused", request=request)
        for suffix, left in self.fail.items():
            if path.endswith(suffix) and left > 0:
                self.fail[suffix] = left - 1
                self.injected += 1
                return httpx.Response(
                    503,
                    json={"detail": "injected: service unavailable"},
                    headers={"retry-after": "0.2"},
                    request=request,
                )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def main(ex: Example) -> None:
    retries: list[tinker.runtime.RetryInfo] = []

    def on_retry(info: tinker.runtime.RetryInfo) -> None:
        retries.append(info)
        print(
            f"  retry: {info.endpoint} attempt {info.attempt} failed "
            f"({type(info.cause).__name__}: {str(info.cause)[:60]}); next in {info.wait:.2f}s"
        )

    # Sampling requests are retried by the SamplingClient itself (RetryConfig), which reports
    # its retries on the `tinkex` logger at INFO rather than through on_retry.
    sampling_retries: list[str] = []

    class SamplingRetryLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("sampling failed"):
                sampling_retries.append(message)
                print(f"  sampling retry (tinkex logger): {message[:110]}")

    tinkex_logger = logging.getLogger("tinkex")
    tinkex_logger.addHandler(SamplingRetryLog(logging.INFO))
    tinkex_logger.setLevel(logging.INFO)

    flaky = FlakyTransport(
        fail={"/get_server_capabilities": 2, "/asample": 1}, drop="/create_sampling_session"
    )
    with tinker.ServiceClient(
        on_retry=on_retry,
        transport=flaky,
        timeout=30.0,  # each HTTP attempt
        max_retries=4,  # per call
        result_timeout=300.0,  # every .result() without its own timeout
    ) as service:
        section("retries through a flaky connection")
        caps = service.get_server_capabilities()
        print(f"  capabilities: {len(caps.supported_models)} model(s)")
        sampler = service.create_sampling_client(
            base_model=ex.base_model,
            retry_config=tinker.RetryConfig(max_connections=8, progress_timeout=600.0),
        ).result()
        out = sampler.sample(ex.prompt(), 1, types.SamplingParams(max_tokens=MAX_TOKENS))
        print(f"  sampled {len(out.result().sequences[0].tokens)} tokens")
        print(
            f"  {flaky.injected} failures injected; {len(retries)} retries through on_retry, "
            f"{len(sampling_retries)} by the sampler; every call succeeded"
        )
        check(
            len(retries) + len(sampling_retries) >= flaky.injected, "an injected failure was lost"
        )
        tinkex_logger.setLevel(logging.WARNING)

        section("a result deadline: the wait ends, the request goes on")
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()
        fut = training.forward(data, "cross_entropy")
        t0 = time.monotonic()
        try:
            fut.result(timeout=0.001)
            print("  (the result was ready within 1 ms)")
        except tinker.FutureTimeoutError as err:
            print(f"  after {time.monotonic() - t0:.3f}s: FutureTimeoutError: {err}")
        out2 = fut.result(timeout=120)
        print(f"  waited again: {len(out2.loss_fn_outputs)} outputs")

        section("cancel(): stop waiting for a request for good")
        fut = training.forward(data, "cross_entropy")
        fut.cancel()
        try:
            fut.result(timeout=10)
            print("  (it had already finished)")
        except tinker.runtime.FutureCancelledError as err:
            print(f"  FutureCancelledError: {err}")

    section("a per-attempt timeout that is too short")
    with tinker.ServiceClient(timeout=0.0005, max_retries=1, on_retry=on_retry) as impatient:
        t0 = time.monotonic()
        try:
            impatient.get_server_capabilities()
            print("  (the server answered within 0.5 ms)")
        except tinker.APITimeoutError as err:
            print(f"  after {time.monotonic() - t0:.2f}s: {type(err).__name__}: {err}")


if __name__ == "__main__":
    run(main)
