"""The download progress in a notebook without ipywidgets: plain text lines, not rich's bar
(which needs ipywidgets there and would show nothing)."""

from __future__ import annotations

import sys

import pytest
import rich.console

from tinkex._download import progress as progress_module
from tinkex._download.progress import Progress, TextBar


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not importable


def test_a_notebook_without_ipywidgets_gets_text_lines(
    notebook: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress_module, "TEXT_INTERVAL", 1e9)  # only the first and last lines
    bar = Progress(True)
    bar.begin("adapter.tar.gz", 4096)
    bar.advance(1024)
    bar.advance(3072)
    bar.close()
    assert capsys.readouterr().err.splitlines() == [
        "adapter.tar.gz: 0 B / 4.0 KiB (0%)",
        "adapter.tar.gz: 4.0 KiB / 4.0 KiB (100%)",
    ]


def test_text_lines_come_at_the_interval_and_an_unfinished_file_says_where_it_stopped(
    notebook: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress_module, "TEXT_INTERVAL", 0.0)
    bar = Progress(True)
    bar.begin("weights", None)  # no length known
    bar.advance(2048)
    bar.close()
    assert capsys.readouterr().err.splitlines() == [
        "weights: 0 B",
        "weights: 2.0 KiB",
        "weights: 2.0 KiB",
    ]


def test_outside_a_notebook_the_rich_bar_stays(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: False)
    bar = Progress(True)
    assert bar._bar is not None
    assert not isinstance(bar._bar, TextBar)
    bar.close()
