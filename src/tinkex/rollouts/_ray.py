"""Ray as a ``concurrent.futures.Executor``: each ``submit`` is one Ray task, so the fan-out
(and any code written for an executor) runs on a Ray cluster unchanged. Needs ``tinkex[ray]``."""

from __future__ import annotations

import concurrent.futures
import importlib
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

__all__ = ["RayExecutor"]

P = ParamSpec("P")
T = TypeVar("T")


def _load_ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ImportError(
            "RayExecutor needs Ray: pip install 'tinkex[ray]' (or pip install 'ray>=2.40,<3')"
        ) from None


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What a Ray worker runs: the submitted call."""
    return fn(*args, **kwargs)


class RayExecutor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` whose calls run as Ray tasks.

    Call ``ray.init(...)`` first (else Ray starts a local instance with its defaults). Ray
    reuses its worker processes, so :func:`map_rollouts` builds the sampler once per worker
    process, as on a process pool. The functions and items must be importable or picklable
    by the workers (Ray pickles with cloudpickle). Cancelling a returned future cancels its
    Ray task.

    Args:
        num_cpus: CPUs each task reserves (1); fewer than 1 runs more tasks per CPU.
        **remote_options: Other options of ``ray.remote`` (``num_gpus``, ``max_retries``,
            ``runtime_env``, ...).

    Example::

        import ray
        from tinkex.rollouts import RayExecutor, map_rollouts

        ray.init(num_cpus=4)
        with RayExecutor() as executor:
            out = map_rollouts(sampler, rollout, prompts, executor=executor)
    """

    def __init__(self, *, num_cpus: float = 1.0, **remote_options: Any) -> None:
        self._ray = _load_ray()
        self._remote = self._ray.remote(num_cpus=num_cpus, **remote_options)(_call)
        self._lock = threading.Lock()
        self._refs: dict[concurrent.futures.Future[Any], Any] = {}
        self._shut = False

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Run ``fn(*args, **kwargs)`` as a Ray task.

        Args:
            fn: The function (importable by the workers, or picklable by cloudpickle).
            *args: Its positional arguments.
            **kwargs: Its keyword arguments.

        Returns:
            A future of its result.
        """
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            ref = self._remote.remote(fn, args, kwargs)
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            self._refs[future] = ref
        future.add_done_callback(self._settled)
        # Ray's own future is only read: a cancel of ours must not race Ray setting its result.
        ref.future().add_done_callback(lambda done: _copy(done, future))
        return future

    def _settled(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            ref = self._refs.pop(future, None)
        if future.cancelled() and ref is not None:
            self._ray.cancel(ref)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more calls; cancel the pending ones if asked; wait for the rest if asked.

        Args:
            wait: Wait until every submitted task has ended.
            cancel_futures: Cancel the tasks not yet finished.
        """
        with self._lock:
            self._shut = True
            pending = dict(self._refs)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait and pending:
            concurrent.futures.wait(list(pending))


def _copy(source: concurrent.futures.Future[Any], target: concurrent.futures.Future[Any]) -> None:
    """Ray's outcome into the executor's future, unless that one was cancelled meanwhile."""
    if target.done():
        return
    try:
        error = source.exception()
    except concurrent.futures.CancelledError as err:
        error = err
    try:
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(source.result())
    except concurrent.futures.InvalidStateError:
        pass  # cancelled between the check and now
