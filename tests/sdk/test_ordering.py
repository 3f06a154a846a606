"""Reserved sequence ids pass in order, whatever order their coroutines run in."""

from __future__ import annotations

import asyncio

from tinkex._ordering import Turnstile


async def test_turns_pass_in_reservation_order() -> None:
    gate = Turnstile(first=1)
    starts = [gate.reserve(n) for n in (1, 2, 1)]  # ids 1, 2-3, 4
    assert starts == [1, 2, 4]
    order: list[int] = []

    async def op(start: int, count: int, delay: float) -> None:
        await asyncio.sleep(delay)
        async with gate.turn(start, count):
            order.append(start)

    # The last reservation is ready first; it must still go last.
    await asyncio.gather(op(4, 1, 0), op(2, 2, 0.01), op(1, 1, 0.02))
    assert order == [1, 2, 4]
    assert gate.next_id == 5


async def test_a_cancelled_waiter_does_not_block_the_ones_behind_it() -> None:
    gate = Turnstile(first=1)
    first, second, third = gate.reserve(1), gate.reserve(1), gate.reserve(1)
    done: list[int] = []

    async def op(start: int) -> None:
        async with gate.turn(start, 1):
            done.append(start)

    blocked = asyncio.create_task(op(second))
    later = asyncio.create_task(op(third))
    await asyncio.sleep(0.01)
    blocked.cancel()  # gives up its id before its turn
    await asyncio.gather(blocked, return_exceptions=True)
    await op(first)
    await asyncio.wait_for(later, 2)
    assert done == [first, third]


async def test_a_failing_operation_passes_its_turn_on() -> None:
    gate = Turnstile(first=1)
    a, b = gate.reserve(1), gate.reserve(1)

    async def failing() -> None:
        async with gate.turn(a, 1):
            raise RuntimeError("submission failed")

    ran: list[int] = []

    async def ok() -> None:
        async with gate.turn(b, 1):
            ran.append(b)

    results = await asyncio.gather(failing(), ok(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert ran == [b]
