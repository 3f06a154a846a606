"""The official ``tinker`` CLI's commands, one for one, in ``tinkex``: each command of
``official_cli.json`` (made by ``extract_official_cli.py`` from the tinker 0.38.0 wheel) exists
with the same path, takes every one of its options and as many positional arguments, and the
README's command table lists exactly these commands, each next to its tinkex twin."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tinkex.cli._app import build_parser

HERE = Path(__file__).parent
OFFICIAL: dict[str, Any] = json.loads((HERE / "official_cli.json").read_text())
README = HERE.parent.parent / "README.md"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def tinkex_command(path: str) -> argparse.ArgumentParser | None:
    """The parser of ``tinkex <path>`` (e.g. ``"checkpoint delete"``), or None."""
    parser: argparse.ArgumentParser | None = build_parser()
    for word in path.split():
        assert parser is not None
        parser = _subcommands(parser).get(word)
        if parser is None:
            return None
    return parser


def test_the_extracted_list_is_the_whole_official_cli() -> None:
    # A guard against a broken extraction: the seven groups of tinker 0.38.0 are all there.
    groups = {path.split()[0] for path in OFFICIAL["commands"]}
    assert groups == {"auth", "billing", "checkpoint", "model", "run", "session", "version"}
    assert len(OFFICIAL["commands"]) == 19


@pytest.mark.parametrize("path", sorted(OFFICIAL["commands"]))
def test_every_official_command_has_a_tinkex_twin(path: str) -> None:
    spec = OFFICIAL["commands"][path]
    parser = tinkex_command(path)
    assert parser is not None, f"tinkex has no '{path}' command"
    options = {s for a in parser._actions for s in a.option_strings}
    missing = sorted(set(spec["options"]) - options)
    assert not missing, f"tinkex {path} lacks {missing}"
    assert set(OFFICIAL["global_options"]) <= options
    positionals = [
        a for a in parser._actions if not a.option_strings and a.dest not in ("command",)
    ]
    assert len(positionals) == len(spec["arguments"]), [a.dest for a in positionals]


def test_the_readme_table_lists_the_official_commands_one_for_one() -> None:
    rows = re.findall(
        r"^\| `tinker ([a-z -]+)` \| `tinkex ([a-z -]+)` \|", README.read_text(), re.M
    )
    official = [official for official, _ in rows]
    assert sorted(official) == sorted(OFFICIAL["commands"]), "README table differs"
    for official_path, tinkex_path in rows:
        assert official_path == tinkex_path
        assert tinkex_command(tinkex_path) is not None
