"""APIFuture from the clients: deadlines, asyncio, a running loop, cancelling, many in flight."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum, wait_for
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tests.fake_tinker.state import VOCAB, token_logprob
from tinkex import types
from tinkex.runtime import FutureCancelledError

HELD = 10**9  # try_agains: the fake never completes the future on its own


def _future_of(server: FakeTinker, endpoint: str) -> str:
    """The request id of the latest future of ``endpoint`` on the fake."""
    ids = [f.request_id for f in server.futures.values() if f.endpoint == endpoint]
    assert ids, f"no {endpoint} future on the server"
    return ids[-1]


def _release(server: FakeTinker, endpoint: str) -> None:
    server.try_agains_by_endpoint.pop(endpoint, None)
    server.futures[_future_of(server, endpoint)].try_agains = 0


def test_result_timeout_raises_and_the_future_stays_usable(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    server.try_agains_by_endpoint["forward_backward"] = HELD
    future = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    start = time.monotonic()
    with pytest.raises(tinker.FutureTimeoutError) as info:
        future.result(timeout=0.3)
    # The lower bound is the point (no early give-up); the upper one only catches a hang (a
    # loaded machine may be slow to wake the waiter, so it is generous).
    assert 0.25 <= time.monotonic() - start < WAIT
    assert isinstance(info.value, TimeoutError)
    assert "0.3" in str(info.value)
    assert not future.done()
    # It keeps polling after the caller's wait ran out: counted on the server, not timed (on a
    # loaded machine 0.3 s may hold a single poll).
    record = server.futures[_future_of(server, "forward_backward")]
    assert wait_for(lambda: record.polls > 1), f"polled {record.polls} time(s) only"
    assert not future.done()

    _release(server, "forward_backward")
    out = future.result(timeout=WAIT)
    assert len(out.loss_fn_outputs) == 1
    assert future.done()


def test_client_wide_result_timeout_applies(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server, result_timeout=0.3)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.try_agains_by_endpoint["optim_step"] = HELD
    future = training.optim_step()
    start = time.monotonic()
    with pytest.raises(tinker.FutureTimeoutError):
        future.result()
    assert 0.25 <= time.monotonic() - start < 8.0  # held forever: only the timeout ends it
    _release(server, "optim_step")
    assert future.result(timeout=WAIT).metrics is not None


async def test_result_async_timeout(server: FakeTinker, training: tinker.TrainingClient) -> None:
    server.try_agains_by_endpoint["optim_step"] = HELD
    future = training.optim_step()
    with pytest.raises(tinker.FutureTimeoutError):
        await future.result_async(timeout=0.2)
    _release(server, "optim_step")
    result = await future.result_async(timeout=WAIT)
    assert result.metrics is not None
    assert server.optim_steps[training.model_id] == 1


async def test_await_from_asyncio(server: FakeTinker, service: tinker.ServiceClient) -> None:
    training = await service.create_lora_training_client(BASE_MODEL)
    assert isinstance(training, tinker.TrainingClient)
    data = [datum([1, 2, 3])]
    fb, step = training.forward_backward(data, "cross_entropy"), training.optim_step()
    out, stepped = await asyncio.gather(fb, step)
    assert len(out.loss_fn_outputs) == 1
    assert stepped.metrics is not None
    # The deprecated *_async twins give the APIFuture when awaited, as the official SDK's do:
    # code written for it awaits twice (or awaits, then calls .result()).
    pending = await training.forward_async(data, "cross_entropy")
    assert isinstance(pending, tinker.APIFuture)
    out2 = await pending
    assert out2.loss_fn_outputs[0]["logprobs"].data != out.loss_fn_outputs[0]["logprobs"].data
    assert pending.result(timeout=WAIT) is out2
    sampler = await training.save_weights_and_get_sampling_client_async()
    sampled = await sampler.sample_async(
        types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=2)
    )
    assert len(sampled.sequences[0].tokens) == 2
    assert server.seq_log[training.model_id] == [0, 1, 2, 3, 4]


async def test_awaiting_does_not_block_the_callers_loop(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    server.try_agains_by_endpoint["forward_backward"] = HELD
    future = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    with pytest.raises(tinker.FutureTimeoutError):
        await future.result_async(timeout=0.3)
    task.cancel()
    assert ticks >= 10  # the caller's loop kept running while it waited
    _release(server, "forward_backward")
    assert (await future).loss_fn_outputs


def test_result_inside_a_running_event_loop(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    """A notebook: its loop runs, and user code calls the blocking ``.result()`` in a cell."""
    outcome: dict[str, object] = {}

    async def cell() -> None:
        asyncio.get_running_loop()  # a loop is running here
        fb = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
        step = training.optim_step()
        outcome["fb"] = fb.result(timeout=WAIT)
        outcome["step"] = step.result(timeout=WAIT)
        outcome["info"] = training.get_info()

    def notebook_kernel() -> None:
        try:
            asyncio.run(cell())
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=notebook_kernel)
    thread.start()
    thread.join(WAIT * 2)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert isinstance(outcome["fb"], types.ForwardBackwardOutput)
    assert isinstance(outcome["step"], types.OptimStepResponse)
    assert server.seq_log[training.model_id] == [0, 1, 2]

    # and in the main thread too
    asyncio.run(cell())
    assert server.seq_log[training.model_id] == [0, 1, 2, 3, 4]


def test_a_training_queue_that_stays_paused_is_warned_about(
    server: FakeTinker, training: tinker.TrainingClient, caplog: pytest.LogCaptureFixture
) -> None:
    training._queue_logger.grace = 0.2
    training._queue_logger.interval = 0.2
    server.queue_state = "paused_capacity"
    server.try_agains_by_endpoint["optim_step"] = HELD
    future = training.optim_step()
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        assert wait_for(
            lambda: any("still queued" in r.getMessage() for r in caplog.records), timeout=5.0
        )
    message = next(r.getMessage() for r in caplog.records if "still queued" in r.getMessage())
    assert training.model_id in message
    assert "paused_capacity" in message
    server.queue_state = "active"
    _release(server, "optim_step")
    assert future.result(timeout=WAIT).metrics is not None
    assert training._queue_logger.state == "active"


def test_cancel_stops_the_polling(server: FakeTinker, training: tinker.TrainingClient) -> None:
    server.try_agains_by_endpoint["forward_backward"] = HELD
    future = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    rid_polls = lambda: server.futures[_future_of(server, "forward_backward")].polls  # noqa: E731
    assert wait_for(lambda: bool(server.requests_to("forward_backward")) and rid_polls() > 2)
    assert future.cancel()
    assert future.cancelled()
    with pytest.raises(FutureCancelledError, match="cancelled"):
        future.result(timeout=1.0)
    time.sleep(0.05)
    polls = rid_polls()
    time.sleep(0.2)
    assert rid_polls() == polls
    # the run goes on: later calls still submit and complete in order
    server.try_agains_by_endpoint.clear()
    assert training.optim_step().result(timeout=WAIT).metrics is not None
    assert server.seq_log[training.model_id] == [0, 1, 2]


def test_cancel_while_waiting_for_the_turn_gives_the_seq_id_up(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    """An operation cancelled while it waits for its turn must not block the ones behind it."""
    server.inject("save_weights", faults.delay(0.5))  # its submission holds the turn for 0.5 s
    save = training.save_state("slow")
    assert wait_for(lambda: bool(server.requests_to("save_weights")))
    waiting = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    assert waiting.cancel()
    step = training.optim_step()
    assert step.result(timeout=WAIT).metrics is not None
    assert save.result(timeout=WAIT).path.endswith("/weights/slow")
    assert server.requests_to("forward_backward") == []  # never sent
    assert server.seq_log[training.model_id] == [0, 1, 3]


def test_cancel_right_after_the_call_does_not_stall_the_run(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    """Cancelled before the background loop even picked it up: its seq id must still be
    passed on, or every later call of the run would wait forever."""
    loop = training.holder.runner.loop.loop
    started, release = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(WAIT)

    loop.call_soon_threadsafe(block)  # the loop is busy: nothing new starts until released
    assert started.wait(WAIT)
    try:
        doomed = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
        assert doomed.cancel()
    finally:
        release.set()
    step = training.optim_step()
    assert step.result(timeout=5.0).metrics is not None
    with pytest.raises(FutureCancelledError):
        doomed.result(timeout=1.0)
    assert server.seq_log[training.model_id][-1] == 2
    assert server.optim_steps[training.model_id] == 1


def test_cancel_while_the_request_is_out_keeps_the_order(
    server: FakeTinker, training: tinker.TrainingClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelled after its request left: the server applies it, so the next call must not
    reach the server before it is answered (or the step would land before its gradients)."""
    server.inject("forward_backward", faults.delay(1.0))  # applied at once, answered 1 s later
    doomed = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    assert wait_for(lambda: bool(server.requests_to("forward_backward")))
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        assert doomed.cancel()
        step = training.optim_step()
        assert step.result(timeout=WAIT).metrics is not None
    with pytest.raises(FutureCancelledError):
        doomed.result(timeout=1.0)
    assert server.seq_log[training.model_id] == [0, 1, 2]
    arrived = [r.endpoint for r in server.requests]
    answered = [seen for endpoint, seen in server.replies if endpoint == "forward_backward"]
    assert answered, "the cancelled request was never answered"
    assert "optim_step" not in arrived[: answered[0]]  # requests seen when it was answered
    assert "cancelled while it was being sent; the server accepted it" in caplog.text


@pytest.fixture
def roomy_server(fake_tinker: FakeTinkerFactory) -> FakeTinker:
    """A fake server; its listen backlog holds a burst of new connections."""
    return fake_tinker(try_agains=2)


def test_many_futures_in_flight(roomy_server: FakeTinker, make_service: ServiceFactory) -> None:
    server = roomy_server
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    forwards = [
        training.forward([datum([i + 1, i + 2, i + 3])], "cross_entropy") for i in range(30)
    ]
    samples = [
        sampler.sample(types.ModelInput.from_ints([i + 1]), 1, types.SamplingParams(max_tokens=2))
        for i in range(30)
    ]
    assert not all(f.done() for f in forwards)  # all submitted without waiting
    outs = [f.result(timeout=WAIT) for f in forwards]
    sampled = [f.result(timeout=WAIT) for f in samples]
    for i, out in enumerate(outs):  # each result is its own request's
        expected = [token_logprob(t, pos, 0) for pos, t in enumerate([i + 2, i + 3])]
        assert out.loss_fn_outputs[0]["logprobs"].data == expected
    for i, sample in enumerate(sampled):  # each result is its own request's
        seq = sample.sequences[0]
        # The fake's tokens follow from the prompt's sum (here i + 1): a swapped result shows.
        assert seq.tokens == [1 + (i + 1 + 7 * j) % VOCAB for j in range(2)]
        # Stamped with the id of a sampling future (which one: the fake's handler threads
        # create futures and record requests in either order, so no index links the two).
        rid, _, index = (seq.sequence_id or "").rpartition(":")
        assert (server.futures[rid].endpoint, index) == ("asample", "0")
    assert server.seq_log[training.model_id] == list(range(31))
    assert sorted(server.seq_log[sampler.sampling_session_id]) == list(range(30))  # type: ignore[type-var]
    assert len(server.requests_to("retrieve_future")) >= 3 * 60  # 2 try_agains + the result, each


def test_fake_server_accepts_a_burst_of_connections(server: FakeTinker) -> None:
    assert server._httpd is not None
    assert server._httpd.request_queue_size >= 128


def test_map_and_done_callbacks(server: FakeTinker, training: tinker.TrainingClient) -> None:
    seen: list[bool] = []
    done = threading.Event()
    future = training.optim_step()
    future.add_done_callback(lambda f: (seen.append(f.done()), done.set()))
    mapped = future.map(lambda r: (r.metrics or {})["step"])
    assert mapped.result(timeout=WAIT) == 1
    assert done.wait(WAIT)
    assert seen == [True]
    assert "optim_step" in repr(future)
