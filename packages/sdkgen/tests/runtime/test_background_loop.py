"""BackgroundLoop: work handed over from any thread, one wake-up per burst of submissions,
cancellation that still lets the work clean up, and nothing left waiting after close."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from sdkgen.runtime import BackgroundLoop, ClientClosedError

WAIT = 10.0


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop("test-loop")
    yield background
    background.close()


def _hold(loop: BackgroundLoop, seconds: float) -> threading.Event:
    """Keep the loop busy for ``seconds``; the event is set once it is."""
    busy = threading.Event()

    def block() -> None:
        busy.set()
        time.sleep(seconds)

    loop.loop.call_soon_threadsafe(block)
    assert busy.wait(WAIT)
    return busy


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def test_results_come_back_to_every_thread(loop: BackgroundLoop) -> None:
    results: dict[int, int] = {}
    lock = threading.Lock()

    def worker(base: int) -> None:
        futures = [(base + i, loop.submit(_double(base + i))) for i in range(50)]
        for x, future in futures:
            value = future.result(WAIT)
            with lock:
                results[x] = value

    threads = [threading.Thread(target=worker, args=(1000 * t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(results) == 200
    assert all(value == 2 * x for x, value in results.items())


def test_exceptions_reach_the_waiter(loop: BackgroundLoop) -> None:
    async def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        loop.submit(fail()).result(WAIT)


def test_submissions_made_while_the_loop_is_busy_share_one_wake_up(
    loop: BackgroundLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio_loop = loop.loop
    wakes = 0
    original = asyncio_loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal wakes
        wakes += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    _hold(loop, 0.3)
    monkeypatch.setattr(asyncio_loop, "call_soon_threadsafe", counting)
    futures = [loop.submit(_double(i)) for i in range(10)]
    assert [f.result(WAIT) for f in futures] == [2 * i for i in range(10)]
    assert wakes == 1


def test_work_cancelled_before_it_started_still_runs_its_cleanup(loop: BackgroundLoop) -> None:
    cleaned = threading.Event()
    body_ran = threading.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(0)
            body_ran.set()
        finally:
            cleaned.set()

    _hold(loop, 0.3)
    future = loop.submit(work())
    assert future.cancel()  # before the loop has even picked it up
    assert cleaned.wait(WAIT), "the cancelled work never got to clean up"
    assert not body_ran.is_set()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result(WAIT)


def test_cancelling_a_running_future_cancels_the_work(loop: BackgroundLoop) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = loop.submit(forever())
    assert started.wait(WAIT)
    assert future.cancel()
    assert cancelled.wait(WAIT)


def test_close_leaves_no_waiter_hanging(loop: BackgroundLoop) -> None:
    _hold(loop, 0.2)
    future = loop.submit(asyncio.sleep(3600))
    started = time.monotonic()
    loop.close()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result(WAIT)
    assert time.monotonic() - started < WAIT


def test_a_closed_loop_refuses_work_without_a_never_awaited_warning() -> None:
    background = BackgroundLoop("test-loop")
    background.close()
    coro = _double(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ClientClosedError, match="closed"):
            background.submit(coro)
    assert coro.cr_frame is None  # closed, not left to be garbage-collected unawaited


def test_each_submission_runs_in_its_submitters_context(loop: BackgroundLoop) -> None:
    who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")

    async def read() -> str:
        return who.get()

    def submit_as(name: str) -> concurrent.futures.Future[str]:
        who.set(name)
        return loop.submit(read())

    _hold(loop, 0.2)  # all three in one burst, started by one wake-up
    futures = [contextvars.copy_context().run(submit_as, name) for name in "ABC"]
    assert [f.result(WAIT) for f in futures] == ["A", "B", "C"]


def test_only_coroutines_are_accepted(loop: BackgroundLoop) -> None:
    with pytest.raises(TypeError, match="coroutine"):
        loop.submit(object())  # type: ignore[arg-type]
    assert loop.submit(_double(2)).result(WAIT) == 4
