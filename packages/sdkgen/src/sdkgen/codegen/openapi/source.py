"""Reading an OpenAPI document (JSON or YAML) into plain data with every key's position.

JSON is parsed here rather than by the YAML loader: a served ``/openapi.json`` is often one
line of compact JSON, which PyYAML reads differently in corner cases (escapes, surrogate
pairs), and its positions must still say line *and* column. YAML documents go through the
manifest loader, with its limits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ManifestError, Problem
from ..loader import MAX_DEPTH, Key, Loaded, load_yaml

__all__ = ["MAX_DOCUMENT_BYTES", "read_document"]

# Public API descriptions reach a few MB (the largest well-known ones about 10); a limit keeps
# a wrong file (a dump, a binary) from being read whole.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_SPACE = re.compile(r"[ \t\n\r]*")
_WORDS = {"true": True, "false": False, "null": None}


class _JSONError(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class _Parser:
    """A recursive-descent JSON parser that records where each key and item starts."""

    def __init__(self, text: str, loaded: Loaded) -> None:
        self.text = text
        self.loaded = loaded
        self.lines = [m.start() for m in re.finditer("\n", text)]

    def where(self, index: int) -> tuple[int, int]:
        line = _bisect(self.lines, index)
        start = self.lines[line - 1] + 1 if line else 0
        return line + 1, index - start + 1

    def skip(self, index: int) -> int:
        match = _SPACE.match(self.text, index)
        return match.end() if match else index

    def value(self, index: int, path: Key, depth: int) -> tuple[Any, int]:
        index = self.skip(index)
        self.loaded.positions.setdefault(path, self.where(index))
        if depth > MAX_DEPTH:
            raise _JSONError(index, f"nested deeper than {MAX_DEPTH} levels")
        char = self.text[index : index + 1]
        if char == "{":
            return self.mapping(index + 1, path, depth)
        if char == "[":
            return self.sequence(index + 1, path, depth)
        if char == '"':
            try:
                return json.decoder.scanstring(self.text, index + 1)  # type: ignore[attr-defined,no-any-return]
            except json.JSONDecodeError as err:
                raise _JSONError(err.pos, err.msg) from None
        for word, value in _WORDS.items():
            if self.text.startswith(word, index):
                return value, index + len(word)
        match = _NUMBER.match(self.text, index)
        if match is None:
            raise _JSONError(index, "expected a JSON value")
        number = match.group(0)
        if match.group(1) or match.group(2):
            return float(number), match.end()
        return int(number), match.end()

    def mapping(self, index: int, path: Key, depth: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        index = self.skip(index)
        if self.text.startswith("}", index):
            return out, index + 1
        while True:
            index = self.skip(index)
            if not self.text.startswith('"', index):
                raise _JSONError(index, "expected a string key")
            key_at = index
            key, index = json.decoder.scanstring(self.text, index + 1)  # type: ignore[attr-defined]
            if key in out:
                raise _JSONError(key_at, f"duplicate key {key!r} (the later one would win)")
            self.loaded.positions[(*path, key)] = self.where(key_at)
            index = self.skip(index)
            if not self.text.startswith(":", index):
                raise _JSONError(index, "expected `:` after a key")
            out[key], index = self.value(index + 1, (*path, key), depth + 1)
            index = self.skip(index)
            if self.text.startswith(",", index):
                index += 1
            elif self.text.startswith("}", index):
                return out, index + 1
            else:
                raise _JSONError(index, "expected `,` or `}`")

    def sequence(self, index: int, path: Key, depth: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        index = self.skip(index)
        if self.text.startswith("]", index):
            return out, index + 1
        while True:
            item, index = self.value(index, (*path, len(out)), depth + 1)
            out.append(item)
            index = self.skip(index)
            if self.text.startswith(",", index):
                index += 1
            elif self.text.startswith("]", index):
                return out, index + 1
            else:
                raise _JSONError(index, "expected `,` or `]`")


def _bisect(starts: list[int], index: int) -> int:
    """How many of the sorted ``starts`` are below ``index`` (the 0-based line of ``index``)."""
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] < index:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _read_json(path: Path) -> Loaded:
    def fail(line: int, col: int, message: str) -> ManifestError:
        return ManifestError([Problem(str(path), line, col, "", message)])

    try:
        data = path.read_bytes()
    except OSError as err:
        raise fail(1, 1, f"cannot read: {err.strerror or type(err).__name__}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise fail(1, 1, f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise fail(1, 1, f"the document is not UTF-8 (byte offset {err.start})") from None
    loaded = Loaded(str(path), None)
    parser = _Parser(text, loaded)
    try:
        value, end = parser.value(0, (), 0)
        end = parser.skip(end)
        if end != len(text):
            raise _JSONError(end, "extra data after the document")
    except _JSONError as err:
        line, col = parser.where(err.index)
        raise fail(line, col, f"invalid JSON: {err}") from None
    except RecursionError:
        raise fail(1, 1, "invalid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise fail(1, 1, "an OpenAPI document is a JSON object at the top level")
    loaded.data = value
    return loaded


def read_document(path: Path) -> Loaded:
    """The OpenAPI document at ``path`` (``.json``: JSON; anything else: YAML) with positions.

    Raises:
        ManifestError: a syntax error, a duplicate key or a file that is too large, located.
    """
    if path.suffix.lower() == ".json":
        return _read_json(path)
    return load_yaml(path)
