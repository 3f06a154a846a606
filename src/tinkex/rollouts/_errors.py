"""The errors of a fan-out: an item failed (its index, the worker, the worker's traceback), or
the run's deadline passed."""

from __future__ import annotations

from sdkgen.runtime import SDKError

__all__ = ["RolloutError", "RolloutTimeoutError"]


class RolloutError(SDKError):
    """An item of a fan-out failed, or the task carrying it did. ``index`` is the item's place
    in the input; ``worker`` the ``host:pid`` it ran in (None when the task never reached
    one); ``remote_traceback`` the worker's traceback. The original exception is chained
    (``__cause__``) when it could be carried back from the worker.

    Example::

        try:
            map_rollouts(sampler, rollout, prompts, executor=pool)
        except RolloutError as err:
            print(err.index, err.worker, err.__cause__)
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None,
        worker: str | None = None,
        remote_traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.index = index
        self.worker = worker
        self.remote_traceback = remote_traceback


class RolloutTimeoutError(RolloutError, TimeoutError):
    """The fan-out's deadline (``timeout``) passed before every item finished. ``done`` items
    had finished; ``index`` is the first unfinished one. Tasks not yet started were cancelled;
    running ones end on their own (their samplers' waits are bounded by the same deadline)."""

    def __init__(self, message: str, *, index: int | None, done: int) -> None:
        super().__init__(message, index=index)
        self.done = done
