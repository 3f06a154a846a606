"""The worker's side of a fan-out: one task (a batch of items) in whatever process the executor
chose. The sampler is built there once per process and run, from a recipe of a few hundred
bytes (with or without the key: ``pickle_credentials``), and kept for that run's later tasks;
the items of a task run at once on threads, and the task returns their outcomes with the
process's numbers so far."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import inspect
import os
import pickle
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from .._sampler_pickle import sampler_from_state, warn_if_key_pickled
from .._sampling_client import SamplingClient
from ._report import ProcessConcurrency

__all__ = ["Failure", "Recipe", "Task", "TaskResult", "forget_run", "run_task"]

#: Runs whose samplers a process keeps (older ones are closed): a process serves one run at a
#: time, or a few when several fan-outs share an executor.
KEEP_RUNS = 4


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a worker builds the run's sampler: ``sampler_state`` (the key in it or not)."""

    run_id: str
    state: dict[str, Any]

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled for another process (a thread pool's tasks are not pickled): the moment the
        # key, if nobody chose, leaves this process.
        warn_if_key_pickled(self.state)
        return (Recipe, (self.run_id, self.state))


@dataclasses.dataclass(frozen=True)
class Failure:
    """An item's error, as it can cross a process boundary: the exception when it pickles,
    its type, text and traceback always."""

    type_name: str
    message: str
    traceback: str
    error: BaseException | None
    deadline: bool = False  # the run's deadline ended it, not the item's own error


@dataclasses.dataclass(frozen=True)
class Task:
    """A batch of items for one worker: ``(index, item)`` pairs, run at once."""

    recipe: Recipe
    fn: Callable[[SamplingClient, Any], Any]
    items: tuple[tuple[int, Any], ...]
    deadline: float  # wall clock (time.time()): processes share no monotonic clock


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """Each item's outcome (its result, or a Failure) and the process's numbers so far."""

    outcomes: tuple[tuple[int, bool, Any], ...]
    process: ProcessConcurrency


class _Run:
    """One run's sampler in this process and what the process did for the run."""

    def __init__(self, sampler: SamplingClient) -> None:
        self.sampler = sampler
        self.lock = threading.Lock()
        self.tasks = 0
        self.items = 0
        self.in_flight = 0
        self.peak = 0

    def started(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def finished(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.items += 1

    def snapshot(self) -> ProcessConcurrency:
        with self.lock:
            tasks, items, peak = self.tasks, self.items, self.peak
        return ProcessConcurrency(
            host=socket.gethostname(),
            pid=os.getpid(),
            tasks=tasks,
            items=items,
            peak_items_in_flight=peak,
            sampler=self.sampler.concurrency(),
        )


_RUNS: collections.OrderedDict[str, _Run] = collections.OrderedDict()
_RUNS_LOCK = threading.Lock()


def _run_for(recipe: Recipe) -> _Run:
    """The run's state in this process, its sampler built on the run's first task here."""
    evicted: list[_Run] = []
    with _RUNS_LOCK:
        run = _RUNS.get(recipe.run_id)
        if run is None:
            run = _Run(sampler_from_state(recipe.state))  # ConfigError: no key here
            _RUNS[recipe.run_id] = run
            while len(_RUNS) > KEEP_RUNS:
                evicted.append(_RUNS.popitem(last=False)[1])
        else:
            _RUNS.move_to_end(recipe.run_id)
    for old in evicted:
        old.sampler.close()
    return run


def forget_run(run_id: str) -> None:
    """Close the run's sampler in this process, if it has one (the parent, after a run on a
    thread pool; worker processes close theirs when newer runs push them out)."""
    with _RUNS_LOCK:
        run = _RUNS.pop(run_id, None)
    if run is not None:
        run.sampler.close()


def run_task(task: Task) -> TaskResult:
    """Run a task's items at once, each on a thread of its own, until the run's deadline.

    An item still running at the deadline is reported as a ``TimeoutError`` and left to end on
    its own (a thread cannot be stopped; an awaitable item is cancelled, and so is its sample).
    """
    run = _run_for(task.recipe)
    with run.lock:
        run.tasks += 1
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(len(task.items), 1), thread_name_prefix="tinkex-rollout"
    )
    try:
        futures = {
            pool.submit(_one, run, task.fn, item, task.deadline): index
            for index, item in task.items
        }
        concurrent.futures.wait(futures, timeout=max(task.deadline - time.time(), 0.0))
        outcomes: list[tuple[int, bool, Any]] = []
        for future, index in futures.items():
            if future.done():
                ok, value = future.result()
                outcomes.append((index, ok, value))
            else:
                late = TimeoutError(f"item {index} was still running at the run's deadline")
                outcomes.append((index, False, _failure(late, deadline=True)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return TaskResult(tuple(outcomes), run.snapshot())


def _one(
    run: _Run, fn: Callable[[SamplingClient, Any], Any], item: Any, deadline: float
) -> tuple[bool, Any]:
    """One item: ``fn(sampler, item)``, awaited on a loop of this thread when it is a coroutine."""
    if time.time() >= deadline:
        late = TimeoutError("not started: the run's deadline had passed")
        return False, _failure(late, deadline=True)
    run.started()
    try:
        result = fn(run.sampler, item)
        if inspect.isawaitable(result):
            result = asyncio.run(_bounded(result, deadline - time.time()))
        return True, result
    except TimeoutError as err:
        return False, _failure(err, deadline=time.time() >= deadline)
    except Exception as err:
        return False, _failure(err)
    finally:
        run.finished()


async def _bounded(awaitable: Awaitable[Any], seconds: float) -> Any:
    return await asyncio.wait_for(awaitable, max(seconds, 0.0))


def _failure(err: BaseException, *, deadline: bool = False) -> Failure:
    """``err`` in a form that crosses processes (the exception itself only if it pickles)."""
    text = "".join(traceback.format_exception(err))
    carried: BaseException | None = err
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # an exception whose arguments cannot be rebuilt travels as text
        carried = None
    return Failure(type(err).__qualname__, str(err), text, carried, deadline)
