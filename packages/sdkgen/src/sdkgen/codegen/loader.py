"""YAML loading that remembers where every key and value came from (line and column).

A manifest is plain data, so the loader accepts only plain YAML and refuses the rest with a located
problem before anything is built: aliases and anchors' uses (a "billion laughs" file would
otherwise expand to gigabytes, and a recursive one never ends), merge keys, explicit or
non-JSON tags (``!!python/...``, ``!!binary``, dates), non-string mapping keys, integers beyond
64 bits, non-finite numbers, nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES`
nodes, files larger than :data:`MAX_MANIFEST_BYTES` and files that are not UTF-8.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ManifestError, Problem

__all__ = [
    "MAX_DEPTH",
    "MAX_MANIFEST_BYTES",
    "MAX_NODES",
    "MAX_PROBLEMS",
    "Loaded",
    "dotted",
    "load_yaml",
]

Key = tuple[str | int, ...]

# The real manifest is under 100 KB and 15 levels deep; these leave ample room while keeping the
# pure-Python parser's time (about 4 s per MiB) and the composer's recursion bounded.
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_DEPTH = 64
# Keys, values and items (the real manifest has about 7,000): parsing costs about 50 us and
# 1.4 KB per node in pure Python, so a 1 MiB list of numbers would take half a minute and a GB.
MAX_NODES = 50_000
# Problems listed in one error; the rest are counted (a file of aliases would list thousands).
MAX_PROBLEMS = 100
# A number literal longer than this is refused before it is converted: YAML 1.1 sexagesimal
# integers (`1:2:3:...`) cost quadratic time to convert, and 2**64 has 20 digits.
_MAX_NUMBER_CHARS = 100
_INT_LIMIT = 2**64

_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_CORE + t for t in ("null", "bool", "int", "float", "str", "seq", "map"))
_REUSE_HINT = (
    "anchors and aliases are not allowed in a manifest; write the value out, or define a schema "
    "once under `schemas:` and refer to it with `$ref: '#/schemas/Name'`"
)


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
    # The file a key came from where it is not ``file``: a manifest merged from an OpenAPI
    # document and an overlay points each key at the file that said it.
    files: dict[Key, str] = field(default_factory=dict)

    def position(self, path: Key) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor present in the file."""
        return self.locate(path)[1:]

    def locate(self, path: Key) -> tuple[str, int, int]:
        """File, line and column of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.positions:
                line, col = self.positions[key]
                return self.files.get(key, self.file), line, col
            key = key[:-1]
        return self.file, 1, 1

    def problem(self, path: Key, message: str) -> Problem:
        file, line, col = self.locate(path)
        return Problem(file, line, col, dotted(path), message)


class _AliasNode(yaml.ScalarNode):
    """Stands where an alias was: the alias is reported, never expanded."""

    def __init__(self, name: str | None, anchor_line: int | None, event: Any) -> None:
        super().__init__(_CORE + "null", "", event.start_mark, event.end_mark)
        self.name = name
        self.anchor_line = anchor_line


class _TooBig(Exception):
    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer with aliases replaced by placeholders and a depth limit."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                f"more than {MAX_NODES} YAML nodes (keys, values and list items): far more "
                "than an API description needs; split the file or remove generated content",
            )
        if self.check_event(yaml.AliasEvent):
            event: yaml.AliasEvent = self.get_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            line = target.start_mark.line + 1 if target is not None else None
            return _AliasNode(event.anchor, line, event)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooBig(
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                f"nested deeper than {MAX_DEPTH} levels",
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None  # an event was there (the parser raises otherwise)
        return node


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_MANIFEST_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ManifestError([Problem(str(path), 1, 1, "", f"cannot read: {reason}")]) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            [
                Problem(
                    str(path),
                    1,
                    1,
                    "",
                    f"the file is larger than {MAX_MANIFEST_BYTES} bytes, the most a manifest "
                    "may be; split out what is not API description",
                )
            ]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        prefix = data[: err.start].decode("utf-8")
        line, col = _position(prefix, len(prefix))
        raise ManifestError(
            [
                Problem(
                    str(path),
                    line,
                    col,
                    "",
                    f"the file is not UTF-8 (byte 0x{data[err.start]:02x} at offset "
                    f"{err.start}); save it as UTF-8",
                )
            ]
        ) from None


def _compose(path: Path, text: str) -> yaml.Node | None:
    def fail(line: int, col: int, message: str) -> ManifestError:
        return ManifestError([Problem(str(path), line, col, "", message)])

    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks every character at once: a ReaderError comes from here
        return loader.get_single_node()
    except _TooBig as err:
        raise fail(err.mark.line + 1, err.mark.column + 1, str(err)) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise fail(line, col, f"YAML syntax error: {err.problem}") from None
    except yaml.reader.ReaderError as err:
        line, col = _position(text, err.position)
        raise fail(
            line, col, f"unacceptable character #x{err.character:04x}: {err.reason}"
        ) from None
    except yaml.YAMLError as err:
        raise fail(1, 1, f"YAML error: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return {"str": "string", "null": "null", "bool": "boolean"}.get(
        node.tag[len(_CORE) :], "number"
    )


class _Builder:
    """Plain Python data from a composed node tree; problems are collected, not raised."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.problems: list[Problem] = []
        self.omitted = 0

    def add(self, node: yaml.Node, path: Key, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.omitted += 1
            return
        mark = node.start_mark
        self.problems.append(
            Problem(self.loaded.file, mark.line + 1, mark.column + 1, dotted(path), message)
        )

    def build(self, node: yaml.Node, path: Key) -> Any:
        self.loaded.positions.setdefault(
            path, (node.start_mark.line + 1, node.start_mark.column + 1)
        )
        if isinstance(node, _AliasNode):
            where = f"anchor at line {node.anchor_line}" if node.anchor_line else "no such anchor"
            self.add(node, path, f"YAML alias `*{node.name}` ({where}): {_REUSE_HINT}")
            return None
        if node.tag not in _PLAIN_TAGS:
            self.add(
                node,
                path,
                f"YAML tag `{_shown_tag(node.tag)}` is not allowed: a manifest holds only strings, "
                "numbers, booleans, null, lists and mappings; remove the tag, or quote the value "
                "to keep it as a string",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(n, (*path, i)) for i, n in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # the three kinds of YAML node
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: Key) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in out:
                self.add(key_node, child, "duplicate key (the later one would silently win)")
            self.loaded.positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, child)
        return out

    def key(self, node: yaml.Node, path: Key) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _CORE + "str":
            return str(node.value)
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _CORE + "int"
            and _STATUS_KEY.match(node.value)
        ):
            return str(node.value)  # an HTTP status (`404:` under `errors`), kept as its text
        if node.tag == _CORE + "merge":
            self.add(
                node, (*path, "<<"), "YAML merge keys (`<<`) are not allowed: write the keys out"
            )
        elif isinstance(node, _AliasNode):
            self.build(node, path)
        else:
            self.add(
                node,
                path,
                f"a mapping key must be a string, not a {_kind(node)}; quote it if it is a name",
            )
        return None

    def scalar(self, node: yaml.ScalarNode, path: Key) -> Any:
        numeric = node.tag in (_CORE + "int", _CORE + "float")
        if numeric and len(node.value) > _MAX_NUMBER_CHARS:
            what = "integer" if node.tag == _CORE + "int" else "number"
            self.add(node, path, f"{what} out of range ({len(node.value)} characters long)")
            return None
        value = _CONSTRUCTOR.construct_object(node, deep=True)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
            self.add(node, path, "integer out of range (a manifest's integers fit in 64 bits)")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.add(node, path, f"number is not finite ({node.value}); write a finite number")
            return None
        return value


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STATUS_KEY = re.compile(r"^[1-9][0-9]{2}$")


def load_yaml(path: Path) -> Loaded:
    """Parse the manifest at ``path`` into plain data, remembering every key's position.

    Args:
        path: the manifest file (UTF-8 YAML, one document, a mapping at the top level).

    Raises:
        ManifestError: listing every problem found, each as ``file:line:column``: a syntax error,
            duplicate keys, aliases, tags, out-of-range numbers, too large or too deep a file.

    Example:
        >>> load_yaml(Path("api.yaml")).data["manifest_version"]  # doctest: +SKIP
        1
    """
    text = _read(path)
    node = _compose(path, text)
    if node is None:
        raise ManifestError([Problem(str(path), 1, 1, "", "the manifest is empty")])
    loaded = Loaded(str(path), None)
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise ManifestError(
            [
                Problem(
                    str(path),
                    line,
                    col,
                    "",
                    "the manifest must be a mapping at the top level (manifest_version, api, "
                    f"resources, schemas), not a {_kind(node)}",
                )
            ]
        )
    builder = _Builder(loaded)
    loaded.data = builder.build(node, ())
    if builder.problems:
        raise ManifestError(builder.problems, omitted=builder.omitted)
    return loaded
