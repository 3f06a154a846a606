"""YAML loading that remembers where every key and value came from (line and column)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ManifestError, Problem

__all__ = ["Loaded", "dotted", "load_yaml"]

Key = tuple[str | int, ...]


def dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Loaded:
    file: str
    data: Any
    positions: dict[Key, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Key) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor present in the file."""
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return (1, 1)

    def problem(self, path: Key, message: str) -> Problem:
        line, col = self.position(path)
        return Problem(self.file, line, col, dotted(path), message)


def _construct(node: yaml.Node, path: Key, loaded: Loaded, problems: list[Problem]) -> Any:
    loaded.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                line = key_node.start_mark.line + 1
                problems.append(
                    Problem(
                        loaded.file,
                        line,
                        key_node.start_mark.column + 1,
                        dotted((*path, str(key))),
                        "duplicate key (the later one would silently win)",
                    )
                )
            child = (*path, str(key))
            loaded.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _construct(value_node, child, loaded, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, (*path, i), loaded, problems) for i, n in enumerate(node.value)]
    return _scalar(node)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar(node: yaml.Node) -> Any:
    return _CONSTRUCTOR.construct_object(node, deep=True)


def load_yaml(path: Path) -> Loaded:
    """Parse ``path``; a syntax error or duplicate keys raise :class:`ManifestError`."""
    text = path.read_text(encoding="utf-8")
    loaded = Loaded(str(path), None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ManifestError(
            [Problem(str(path), line, col, "", f"YAML syntax error: {err.problem}")]
        ) from err
    if node is None:
        raise ManifestError([Problem(str(path), 1, 1, "", "the manifest is empty")])
    problems: list[Problem] = []
    loaded.data = _construct(node, (), loaded, problems)
    if problems:
        raise ManifestError(problems)
    return loaded
