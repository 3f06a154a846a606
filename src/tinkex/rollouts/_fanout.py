"""The caller's side of a fan-out: items cut into tasks, a bounded number in flight on the
user's executor, outcomes gathered in order or as they complete, errors raised with the item's
index, one deadline for the whole run, and the per-process report."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, NoReturn, TypeVar, overload

from .._sampler_pickle import sampler_state
from .._sampling_client import SamplingClient
from .._settings import PickleCredentials
from ._errors import RolloutError, RolloutTimeoutError
from ._report import ProcessConcurrency, RolloutReport
from ._worker import Failure, Recipe, Task, TaskResult, forget_run, run_task

__all__ = ["RolloutResults", "RolloutStream", "iter_rollouts", "map_rollouts"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_ITEMS_PER_TASK = 8
DEFAULT_TIMEOUT = 3600.0


@dataclasses.dataclass(frozen=True)
class RolloutResults(Generic[R]):
    """What :func:`map_rollouts` returns: every item's result, in the items' order, and the
    report of the run.

    Example::

        out = map_rollouts(sampler, rollout, prompts, executor=pool)
        first = out.results[0]
        print(out.report)
    """

    results: list[R]
    report: RolloutReport


class RolloutStream(Generic[R]):
    """A fan-out in progress: iterate it for ``(index, result)`` pairs as items complete.

    Made by :func:`iter_rollouts`. The first failed item raises :class:`RolloutError` (the
    rest are cancelled); the deadline raises :class:`RolloutTimeoutError`. Leaving a ``with``
    block, or ``close()``, cancels the tasks not yet started. ``report`` is the report so far
    (complete once the stream is exhausted).

    Example::

        with iter_rollouts(sampler, rollout, prompts, executor=pool) as stream:
            for index, result in stream:
                print(index, result)
        print(stream.report)
    """

    def __init__(
        self,
        sampler: SamplingClient,
        fn: Callable[[SamplingClient, Any], Any],
        items: Iterable[Any],
        *,
        executor: concurrent.futures.Executor,
        items_per_task: int,
        max_in_flight: int | None,
        timeout: float,
        credentials: PickleCredentials | None,
    ) -> None:
        _check_positive_int("items_per_task", items_per_task)
        if max_in_flight is not None:
            _check_positive_int("max_in_flight", max_in_flight)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
        self._executor = executor
        self._fn = fn
        self._items_per_task = items_per_task
        self._max_in_flight = max_in_flight or 32 * items_per_task
        self._timeout = float(timeout)
        state = sampler_state(sampler, credentials)
        state["result_timeout"] = self._timeout  # a worker's waits end with the run
        self._recipe = Recipe(uuid.uuid4().hex, state)
        self._items = enumerate(items)
        self._held: tuple[tuple[int, Any], ...] | None = None  # the next task, not yet sent
        self._pending: dict[concurrent.futures.Future[TaskResult], tuple[int, ...]] = {}
        self._ready: collections.deque[tuple[int, R]] = collections.deque()
        self._processes: dict[tuple[str, int], ProcessConcurrency] = {}
        self._started = time.monotonic()
        self._deadline = self._started + self._timeout
        self._finished_at: float | None = None
        self._done = 0
        self._in_flight = 0
        self._peak = 0
        self._closed = False

    # -- iterating ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[int, R]]:
        return self

    def __next__(self) -> tuple[int, R]:
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._closed:
                raise StopIteration
            self._submit_more()
            if not self._pending:
                self.close()
                raise StopIteration
            left = self._deadline - time.monotonic()
            done, _ = concurrent.futures.wait(
                self._pending, timeout=max(left, 0.0), return_when="FIRST_COMPLETED"
            )
            if not done:
                self._expire()
            for future in done:
                self._collect(future)

    def _submit_more(self) -> None:
        """Send tasks while the next one fits under ``max_in_flight`` (one always may)."""
        while not self._closed:
            if self._held is None:
                self._held = tuple(itertools.islice(self._items, self._items_per_task))
                if not self._held:
                    self._held = None
                    return
            size = len(self._held)
            if self._pending and self._in_flight + size > self._max_in_flight:
                return
            wall_deadline = time.time() + (self._deadline - time.monotonic())
            task = Task(self._recipe, self._fn, self._held, wall_deadline)
            indexes = tuple(index for index, _ in self._held)
            self._held = None
            try:
                future = self._executor.submit(run_task, task)
            except Exception as err:  # a shut-down executor, say
                self._fail_task(indexes, err)
            self._pending[future] = indexes
            self._in_flight += size
            self._peak = max(self._peak, self._in_flight)

    def _collect(self, future: concurrent.futures.Future[TaskResult]) -> None:
        indexes = self._pending.pop(future)
        self._in_flight -= len(indexes)
        try:
            result = future.result()
        except Exception as err:
            self._fail_task(indexes, err)
        process = result.process
        key = (process.host, process.pid)
        known = self._processes.get(key)
        self._processes[key] = known.merged(process) if known is not None else process
        worker = f"{process.host}:{process.pid}"
        for index, ok, value in sorted(result.outcomes, key=lambda outcome: outcome[0]):
            if ok:
                self._done += 1
                self._ready.append((index, value))
                continue
            failure: Failure = value
            if failure.deadline:
                self._expire(index)
            self._done += 1
            self.close()
            raise RolloutError(
                f"item {index} failed in {worker}: {failure.type_name}: {failure.message}\n\n"
                f"the worker's traceback:\n{failure.traceback}",
                index=index,
                worker=worker,
                remote_traceback=failure.traceback,
            ) from failure.error
        self._finished_at = time.monotonic()

    def _fail_task(self, indexes: tuple[int, ...], err: BaseException) -> NoReturn:
        """A task that failed as a whole (not sent, not unpickled, the sampler not built, the
        worker died): raised for its first item."""
        self.close()
        span = f"items {indexes[0]}..{indexes[-1]}" if len(indexes) > 1 else f"item {indexes[0]}"
        raise RolloutError(
            f"the task of {span} failed as a whole: {type(err).__name__}: {err} (a task fails "
            "so when it cannot be sent, when fn or an item does not pickle, when the worker "
            "cannot build the sampler, or when the worker died)",
            index=indexes[0],
        ) from err

    def _expire(self, *late: int) -> NoReturn:
        unfinished = [*late, *(i for indexes in self._pending.values() for i in indexes)]
        if self._held:
            unfinished.append(self._held[0][0])
        self.close()
        first = min(unfinished) if unfinished else None
        raise RolloutTimeoutError(
            f"the rollouts' deadline of {self._timeout:g} s passed with {self._done} items "
            f"done; the first unfinished is item {first} (raise timeout=, or check the "
            "workers: running items end on their own, bounded by the same deadline)",
            index=first,
            done=self._done,
        )

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel the tasks not yet started and close this process's sampler of the run.
        Running tasks end on their own."""
        if self._closed:
            return
        self._closed = True
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._in_flight = 0
        forget_run(self._recipe.run_id)  # a thread pool's tasks built it in this process

    def __enter__(self) -> RolloutStream[R]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def report(self) -> RolloutReport:
        """The per-process report of the items finished so far."""
        end = self._finished_at if self._finished_at is not None else time.monotonic()
        return RolloutReport(
            items=self._done,
            seconds=end - self._started,
            items_per_task=self._items_per_task,
            max_in_flight=self._max_in_flight,
            peak_in_flight=self._peak,
            processes=tuple(self._processes[key] for key in sorted(self._processes)),
        )


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a whole number of 1 or more")


@overload
def iter_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, T], Awaitable[R]],
    items: Iterable[T],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = ...,
    max_in_flight: int | None = ...,
    timeout: float = ...,
    credentials: PickleCredentials | None = ...,
) -> RolloutStream[R]: ...


@overload
def iter_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, T], R],
    items: Iterable[T],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = ...,
    max_in_flight: int | None = ...,
    timeout: float = ...,
    credentials: PickleCredentials | None = ...,
) -> RolloutStream[R]: ...


def iter_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, Any], Any],
    items: Iterable[Any],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = DEFAULT_ITEMS_PER_TASK,
    max_in_flight: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    credentials: PickleCredentials | None = None,
) -> RolloutStream[Any]:
    """Run ``fn(sampler, item)`` for every item on ``executor``; results as they complete.

    The items go out in tasks of ``items_per_task``; a worker runs a task's items at once,
    each on a thread of its own (a coroutine function's items on an event loop of that
    thread). Each worker process builds the sampler once per run from a recipe of a few
    hundred bytes, and keeps it for the run's later tasks.

    Args:
        sampler: The sampler every worker samples from.
        fn: ``fn(sampler, item) -> result`` (or an ``async def``): picklable for a process
            pool or Ray (defined at module level, importable by the workers).
        items: The inputs (any iterable; read as tasks go out). Each must pickle.
        executor: Any ``concurrent.futures.Executor``: a ``ProcessPoolExecutor`` (use
            ``mp_context=multiprocessing.get_context("spawn")``), ``RayExecutor`` for Ray,
            or a ``ThreadPoolExecutor`` (nothing is pickled then).
        items_per_task: Items per task, run at once in the worker (8).
        max_in_flight: Items sent and not finished, at most (default 32 tasks' worth).
        timeout: Seconds for the whole run (3,600); the workers' samplers wait no longer.
        credentials: What the recipe carries of the API key: ``"include"``,
            ``"environment"`` (each worker finds its own), or None: the sampler's
            ServiceClient's ``pickle_credentials``.

    Returns:
        A :class:`RolloutStream` of ``(index, result)`` pairs, in completion order.

    Raises:
        ValueError: ``items_per_task``, ``max_in_flight`` or ``timeout`` out of range.

    Example::

        pool = ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn"))
        with pool, iter_rollouts(sampler, rollout, prompts, executor=pool) as stream:
            for index, result in stream:
                print(index, result)
    """
    return RolloutStream(
        sampler,
        fn,
        items,
        executor=executor,
        items_per_task=items_per_task,
        max_in_flight=max_in_flight,
        timeout=timeout,
        credentials=credentials,
    )


@overload
def map_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, T], Awaitable[R]],
    items: Iterable[T],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = ...,
    max_in_flight: int | None = ...,
    timeout: float = ...,
    credentials: PickleCredentials | None = ...,
) -> RolloutResults[R]: ...


@overload
def map_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, T], R],
    items: Iterable[T],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = ...,
    max_in_flight: int | None = ...,
    timeout: float = ...,
    credentials: PickleCredentials | None = ...,
) -> RolloutResults[R]: ...


def map_rollouts(
    sampler: SamplingClient,
    fn: Callable[[SamplingClient, Any], Any],
    items: Iterable[Any],
    *,
    executor: concurrent.futures.Executor,
    items_per_task: int = DEFAULT_ITEMS_PER_TASK,
    max_in_flight: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    credentials: PickleCredentials | None = None,
) -> RolloutResults[Any]:
    """Run ``fn(sampler, item)`` for every item on ``executor``; every result, in order.

    :func:`iter_rollouts` with the results gathered: the arguments are the same.

    Args:
        sampler: The sampler every worker samples from.
        fn: ``fn(sampler, item) -> result`` (or an ``async def``), picklable.
        items: The inputs.
        executor: Any ``concurrent.futures.Executor`` (spawn process pool, ``RayExecutor``,
            thread pool).
        items_per_task: Items per task, run at once in the worker (8).
        max_in_flight: Items sent and not finished, at most (default 32 tasks' worth).
        timeout: Seconds for the whole run (3,600).
        credentials: ``"include"``, ``"environment"`` or None (the ServiceClient's choice).

    Returns:
        :class:`RolloutResults`: ``results`` in the items' order, and ``report``.

    Raises:
        RolloutError: An item failed (``index``, the worker, its traceback; the cause chained).
        RolloutTimeoutError: ``timeout`` passed first.

    Example::

        def rollout(sampler, prompt):  # at module level: the workers import it
            params = types.SamplingParams(max_tokens=32)
            return sampler.sample(prompt, 4, params).result().sequences

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            out = map_rollouts(sampler, rollout, prompts, executor=pool, timeout=600)
        print(out.report)
    """
    with iter_rollouts(
        sampler,
        fn,
        items,
        executor=executor,
        items_per_task=items_per_task,
        max_in_flight=max_in_flight,
        timeout=timeout,
        credentials=credentials,
    ) as stream:
        found = dict(stream)
        return RolloutResults([found[i] for i in range(len(found))], stream.report)
