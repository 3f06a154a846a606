"""The progress of a download: a rich bar on stderr and/or a callback, per file.

In a notebook, rich draws its bar with ipywidgets; without them it would show nothing until the
end, so there the progress is a few plain text lines instead."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .._units import format_bytes

__all__ = ["Progress", "ProgressCallback", "TextBar"]

#: Seconds between two lines of the text progress (its first and last lines always appear).
TEXT_INTERVAL = 2.0

#: ``progress(name, bytes_done, bytes_total_or_None)``, called as a file's bytes arrive.
ProgressCallback = Callable[[str, int, int | None], None]


class Progress:
    """A rich progress bar on stderr (when rich is importable), and/or a callback."""

    def __init__(self, progress: bool | ProgressCallback) -> None:
        self._callback: ProgressCallback | None = progress if callable(progress) else None
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        self._name = ""
        self._done = 0
        self._total: int | None = None
        if progress is True:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )
            except ImportError:  # pragma: no cover - rich is a dependency, but optional here
                return
            console = Console(stderr=True)
            if console.is_jupyter and importlib.util.find_spec("ipywidgets") is None:
                self._bar = TextBar()
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self._bar.start()

    def begin(self, name: str, total: int | None) -> None:
        with self._lock:
            self._name, self._done, self._total = name, 0, total
            if self._bar is not None:
                self._task = self._bar.add_task(name, total=total)
        if self._callback is not None:
            self._callback(name, 0, total)

    def advance(self, amount: int) -> None:
        with self._lock:
            self._done += amount
            done, name, total = self._done, self._name, self._total
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, advance=amount)
        if self._callback is not None:
            self._callback(name, done, total)

    def close(self) -> None:
        if self._bar is not None:
            with contextlib.suppress(Exception):
                self._bar.stop()
            self._bar = None


class TextBar:
    """Progress as plain lines on stderr (a notebook without ipywidgets): a line when a file
    starts, at most one every :data:`TEXT_INTERVAL` seconds, and one when it is complete. It
    has the few methods of rich's ``Progress`` that :class:`Progress` uses.

    Example::

        bar = TextBar()
        task = bar.add_task("weights.tar", total=2048)
        bar.update(task, advance=2048)  # "weights.tar: 2.0 KiB / 2.0 KiB (100%)"
    """

    def __init__(self) -> None:
        self._tasks: dict[int, list[Any]] = {}  # id -> [name, done, total, last line time]

    def add_task(self, name: str, total: int | None) -> int:
        task = len(self._tasks)
        self._tasks[task] = [name, 0, total, 0.0]
        self._line(task)
        return task

    def update(self, task: int, advance: int) -> None:
        state = self._tasks[task]
        state[1] += advance
        complete = state[2] is not None and state[1] >= state[2]
        if complete or time.monotonic() - state[3] >= TEXT_INTERVAL:
            self._line(task)

    def stop(self) -> None:
        for task, (_, done, total, _) in self._tasks.items():
            if total is None or done < total:
                self._line(task)  # where it stopped
        self._tasks.clear()

    def _line(self, task: int) -> None:
        state = self._tasks[task]
        name, done, total = state[0], state[1], state[2]
        if total:
            text = f"{name}: {format_bytes(done)} / {format_bytes(total)} ({100 * done // total}%)"
        else:
            text = f"{name}: {format_bytes(done)}"
        state[3] = time.monotonic()
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
