"""Call headers: set by ``call_scope`` for the outermost call, carried by the context into the
work it submits, merged by ``build_request``, and absent from detached background work."""

from __future__ import annotations

import asyncio
import contextvars
import inspect

import httpx
import pytest
from sdkgen.runtime import BackgroundLoop, ClientConfig
from sdkgen.runtime._call_context import (
    call_scope,
    current_call_headers,
    detached_context,
    without_call_headers,
)
from sdkgen.runtime._request import CallArgs, build_request
from tests.runtime._support import API_SPEC, endpoint

OUTER = {"x-call": "Outer.run"}
INNER = {"x-call": "Inner.run"}


@call_scope(INNER)
def inner() -> dict[str, str] | None:
    seen = current_call_headers()
    return dict(seen) if seen is not None else None


@call_scope(OUTER)
def outer() -> dict[str, str] | None:
    return inner()


@call_scope(INNER)
async def inner_async(x: int, *, y: str = "a") -> dict[str, str] | None:
    await asyncio.sleep(0)
    seen = current_call_headers()
    return dict(seen) if seen is not None else None


@call_scope(OUTER)
async def outer_async() -> dict[str, str] | None:
    return await inner_async(1)


def test_the_outermost_call_wins_and_nothing_is_left_behind() -> None:
    assert inner() == INNER
    assert outer() == OUTER
    assert current_call_headers() is None
    assert asyncio.run(inner_async(1)) == INNER
    assert asyncio.run(outer_async()) == OUTER
    assert current_call_headers() is None


def test_headers_are_reset_when_the_call_raises() -> None:
    @call_scope(OUTER)
    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        boom()
    assert current_call_headers() is None


def test_signatures_and_coroutine_functions_are_kept() -> None:
    assert inspect.iscoroutinefunction(inner_async)
    assert not inspect.iscoroutinefunction(inner)
    assert list(inspect.signature(inner_async).parameters) == ["x", "y"]
    assert inner_async.__name__ == "inner_async"


def test_build_request_merges_the_call_headers_under_explicit_ones() -> None:
    config = ClientConfig.resolve(API_SPEC, base_url="http://127.0.0.1:1", api_key="k")
    spec = endpoint("search")

    def build(extra: dict[str, str] | None = None) -> httpx.Request:
        return build_request(
            API_SPEC,
            config,
            spec,
            CallArgs(extra_headers=extra),
            retries_taken=0,
            timeout=httpx.Timeout(1.0),
        )

    assert "x-call" not in build().headers
    with_headers = call_scope(OUTER)(build)
    assert with_headers().headers["x-call"] == "Outer.run"
    assert with_headers({"x-call": "explicit"}).headers["x-call"] == "explicit"


def test_work_submitted_to_the_loop_thread_carries_the_call_and_detached_work_does_not() -> None:
    loop = BackgroundLoop("call-context-test")

    async def seen() -> dict[str, str] | None:
        headers = current_call_headers()
        return dict(headers) if headers is not None else None

    @call_scope(OUTER)
    def submit_in_call() -> tuple[object, object, object]:
        direct = loop.submit(seen())
        detached = detached_context().run(loop.submit, seen())

        async def spawns_task() -> dict[str, str] | None:
            with without_call_headers():  # a task created here starts without the call
                task = asyncio.get_running_loop().create_task(seen())
            return await task

        return direct, detached, loop.submit(spawns_task())

    try:
        direct, detached, spawned = submit_in_call()
        assert direct.result(5) == OUTER  # type: ignore[attr-defined]
        assert detached.result(5) is None  # type: ignore[attr-defined]
        assert spawned.result(5) is None  # type: ignore[attr-defined]
        assert loop.submit(seen()).result(5) is None
    finally:
        loop.close()


def test_a_detached_context_leaves_other_variables_alone() -> None:
    other: contextvars.ContextVar[str] = contextvars.ContextVar("other", default="unset")
    token = other.set("kept")
    try:
        context = call_scope(OUTER)(detached_context)()
        assert context.run(current_call_headers) is None
        assert context.run(other.get) == "kept"
    finally:
        other.reset(token)
