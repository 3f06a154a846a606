"""What the ``tinkex`` command writes: tables or JSON on stdout, progress and prompts on stderr.

Tables use ``rich`` when it is installed and stdout is a terminal; otherwise (piped output, or
no rich) they are plain columns aligned with spaces, stable for ``grep`` and ``awk``. JSON mode
writes exactly one JSON document to stdout. Progress bars appear only when stderr is a terminal.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Literal, Protocol

from .. import _units

__all__ = [
    "Format",
    "Output",
    "Progress",
    "format_bytes",
    "format_time",
    "isatty",
    "rich_available",
]

Format = Literal["table", "json"]


def isatty(stream: IO[str] | Any) -> bool:
    """Whether ``stream`` is an interactive terminal (False for anything without ``isatty``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def rich_available() -> bool:
    return importlib.util.find_spec("rich") is not None


def format_time(value: dt.datetime | None) -> str:
    """A timestamp in UTC to the second, or ``-``."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def format_bytes(size: int | None) -> str:
    return "-" if size is None else _units.format_bytes(size)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True) if value else "-"
    return str(value)


class Progress(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def set_total(self, total: int | None) -> None: ...


class _NoProgress:
    def advance(self, amount: int = 1) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass


class _PlainProgress:
    """``description: n/total`` rewritten in place on a terminal without rich."""

    def __init__(self, stream: IO[str], description: str, total: int | None) -> None:
        self.stream, self.description, self.total, self.done = stream, description, total, 0
        self._draw()

    def _draw(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        self.stream.write(f"\r{self.description}: {self.done}{of}")
        self.stream.flush()

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        self._draw()

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._draw()

    def clear(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


class _RichProgress:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, amount: int = 1) -> None:
        self.progress.advance(self.task, amount)

    def set_total(self, total: int | None) -> None:
        self.progress.update(self.task, total=total)


class Output:
    """Renders results in the chosen format; all writes go through here."""

    def __init__(self, fmt: Format, *, redact: Sequence[str] = ()) -> None:
        self.format: Format = fmt
        self.redact_values = [v for v in redact if len(v) >= 6]  # see _app._secrets
        self.rich = rich_available()

    # -- streams (looked up on each use, so that tests can capture them) ----------------------

    @property
    def stdout(self) -> IO[str]:
        return sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return sys.stderr

    @property
    def json(self) -> bool:
        return self.format == "json"

    def redact(self, text: str) -> str:
        """``text`` with every secret (the API key) masked."""
        for value in self.redact_values:
            text = text.replace(value, "***")
        return text

    def _write(self, stream: IO[str], text: str) -> None:
        stream.write(self.redact(text))
        stream.flush()

    # -- results -----------------------------------------------------------------------------

    def emit_json(self, document: Any) -> None:
        """One JSON document on stdout."""
        self._write(self.stdout, json.dumps(document, indent=2, default=str) + "\n")

    def line(self, text: str = "") -> None:
        """A line of human-readable output on stdout (table mode only)."""
        self._write(self.stdout, text + "\n")

    def note(self, text: str) -> None:
        """A remark for a person (hints, counts) on stderr, so that stdout stays clean."""
        self._write(self.stderr, text + "\n")

    def error(self, text: str) -> None:
        self._write(self.stderr, f"error: {text}\n")

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
    ) -> None:
        cells = [[_cell(v) for v in row] for row in rows]
        if self.rich and isatty(self.stdout):
            self._rich_table(columns, cells, title)
            return
        widths = [len(c) for c in columns]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        lines = []
        for row in [[c.upper() for c in columns], *cells]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        self._write(self.stdout, "\n".join(lines) + "\n")

    def _rich_table(
        self, columns: Sequence[str], cells: list[list[str]], title: str | None
    ) -> None:
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        for i, name in enumerate(columns):
            # The first column holds identifiers people copy: it keeps its full width, and the
            # other columns wrap when the terminal is too narrow.
            first = max((len(row[0]) for row in cells), default=0) if i == 0 else None
            table.add_column(name.upper(), no_wrap=i == 0, min_width=first, overflow="fold")
        for row in cells:
            table.add_row(*(self.redact(v) for v in row))
        Console(file=self.stdout, highlight=False).print(table)

    def fields(self, pairs: Sequence[tuple[str, Any]], *, title: str | None = None) -> None:
        """One record as ``key: value`` lines."""
        cells = [(k, _cell(v)) for k, v in pairs]
        if self.rich and isatty(self.stdout):
            from rich.console import Console
            from rich.table import Table

            table = Table(title=title, show_header=False, show_edge=False, box=None)
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")
            for key, value in cells:
                table.add_row(key, self.redact(value))
            Console(file=self.stdout, highlight=False).print(table)
            return
        width = max((len(k) for k, _ in cells), default=0)
        text = "\n".join(f"{(k + ':').ljust(width + 1)}  {v}" for k, v in cells)
        self._write(self.stdout, text + "\n")

    # -- interaction -------------------------------------------------------------------------

    @property
    def interactive(self) -> bool:
        """Progress bars are drawn only for a person watching stderr."""
        return isatty(self.stderr)

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Progress]:
        """A progress bar on stderr while the block runs (nothing when stderr is not a TTY)."""
        if not self.interactive:
            yield _NoProgress()
            return
        if not self.rich:
            plain = _PlainProgress(self.stderr, description, total)
            try:
                yield plain
            finally:
                plain.clear()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress as RichProgress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            # We decided stderr is a terminal; rich need not guess again.
            console=Console(file=self.stderr, force_terminal=True),
            transient=True,
        )
        with bar:
            yield _RichProgress(bar, bar.add_task(description, total=total))

    def confirm(self, question: str) -> bool:
        """Ask on stderr, read the answer from stdin; only ``y``/``yes`` agrees."""
        self._write(self.stderr, f"{question} [y/N]: ")
        answer = sys.stdin.readline()
        if not answer.endswith("\n") or not isatty(self.stderr):
            # The terminal echoes the answer's newline; elsewhere end the prompt's line here.
            self._write(self.stderr, "\n")
        return answer.strip().lower() in ("y", "yes")
