"""The progress of a download: a rich bar on stderr and/or a callback, per file."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "ProgressCallback"]

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
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
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
