"""Admission: one count and byte budget for every thread and event loop of a sampler."""

from __future__ import annotations

import asyncio
import threading

from tinkex._admission import Admission

WAIT = 10.0


class Peak:
    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def test_the_count_holds_across_loops_in_several_threads() -> None:
    admission, peak = Admission(count=2, capacity=10**9), Peak()

    async def one() -> None:
        async with admission.hold(1):
            peak.enter()
            await asyncio.sleep(0.01)
            peak.leave()

    async def loop_of_work() -> None:
        await asyncio.gather(*(one() for _ in range(5)))

    threads = [
        threading.Thread(target=asyncio.run, args=(asyncio.wait_for(loop_of_work(), WAIT),))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert peak.peak == 2
    assert admission.in_flight == 0


def test_the_byte_budget_and_an_oversized_request() -> None:
    admission, peak = Admission(count=100, capacity=10), Peak()

    async def one(nbytes: int) -> None:
        async with admission.hold(nbytes):
            peak.enter()
            await asyncio.sleep(0.01)
            peak.leave()

    async def main() -> None:
        await asyncio.gather(*(one(6) for _ in range(4)))
        assert peak.peak == 1  # two of 6 bytes do not fit in 10
        peak.peak = 0
        await asyncio.gather(one(25), one(1))  # larger than the budget: it goes alone
        assert peak.peak == 1

    asyncio.run(asyncio.wait_for(main(), WAIT))
    assert admission.in_flight == 0


def test_a_waiter_that_gives_up_does_not_keep_its_place() -> None:
    admission = Admission(count=1, capacity=10**9)

    async def main() -> None:
        order: list[str] = []
        await admission.acquire(1)  # the only slot
        doomed = asyncio.create_task(admission.acquire(1))
        later = asyncio.create_task(admission.acquire(1))
        await asyncio.sleep(0.01)
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        admission.release(1)
        await asyncio.wait_for(later, WAIT)
        order.append("later got in")
        admission.release(1)
        assert order == ["later got in"]

    asyncio.run(asyncio.wait_for(main(), WAIT))
    assert admission.in_flight == 0


def test_a_waiter_cancelled_just_as_it_is_let_in_passes_its_place_on() -> None:
    admission = Admission(count=1, capacity=10**9)

    async def main() -> None:
        await admission.acquire(1)
        waiter = asyncio.create_task(admission.acquire(1))
        after = asyncio.create_task(admission.acquire(1))
        await asyncio.sleep(0.01)
        admission.release(1)  # grants the first waiter (its wake-up is scheduled) ...
        waiter.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.wait_for(after, WAIT)  # the place went on, not lost
        admission.release(1)

    asyncio.run(asyncio.wait_for(main(), WAIT))
    assert admission.in_flight == 0


def test_a_waiter_on_a_closed_loop_does_not_block_the_others() -> None:
    admission = Admission(count=1, capacity=10**9)
    stranded = asyncio.new_event_loop()
    queued = threading.Event()

    async def wait_there() -> None:
        queued.set()
        await admission.acquire(1)

    async def hold_then_release() -> None:
        await admission.acquire(1)
        thread = threading.Thread(target=lambda: _run_briefly(stranded, wait_there()))
        thread.start()
        await asyncio.to_thread(queued.wait, WAIT)
        await asyncio.to_thread(thread.join, WAIT)
        stranded.close()  # that waiter's loop is gone while it waits
        admission.release(1)
        await asyncio.wait_for(admission.acquire(1), WAIT)
        admission.release(1)

    asyncio.run(asyncio.wait_for(hold_then_release(), WAIT))
    assert admission.in_flight == 0


def _run_briefly(loop: asyncio.AbstractEventLoop, coro: object) -> None:
    task = loop.create_task(coro)  # type: ignore[arg-type]
    loop.run_until_complete(asyncio.sleep(0.05))
    assert not task.done()  # still queued when its loop stops
    task._log_destroy_pending = False  # stranded on purpose: no "destroyed but pending" noise


def test_when_the_head_of_the_line_leaves_the_next_that_fits_goes_in() -> None:
    admission = Admission(count=10, capacity=10)

    async def main() -> None:
        await admission.acquire(6)  # held throughout
        big = asyncio.create_task(admission.acquire(8))  # does not fit: first in line
        small = asyncio.create_task(admission.acquire(1))  # fits, but behind it
        await asyncio.sleep(0.01)
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        await asyncio.wait_for(small, WAIT)  # let in without waiting for the 6 bytes
        admission.release(1)
        admission.release(6)

    asyncio.run(asyncio.wait_for(main(), WAIT))
    assert admission.in_flight == 0


def test_many_waiters_stranded_on_a_closed_loop_leave_the_limit_intact() -> None:
    admission = Admission(count=1, capacity=10**9)
    stranded = asyncio.new_event_loop()

    async def wait_there() -> None:
        await admission.acquire(1)

    async def main() -> None:
        await admission.acquire(1)

        def strand() -> None:
            tasks = [stranded.create_task(wait_there()) for _ in range(3000)]
            stranded.run_until_complete(asyncio.sleep(0.05))
            for task in tasks:
                task._log_destroy_pending = False

        await asyncio.to_thread(strand)
        stranded.close()
        admission.release(1)  # passes the place down the whole stranded line, without recursion
        await asyncio.wait_for(admission.acquire(1), WAIT)
        admission.release(1)

    asyncio.run(asyncio.wait_for(main(), WAIT))
    assert admission.in_flight == 0
