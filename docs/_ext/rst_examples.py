"""A griffe extension for ``make docs``: the project's docstrings are written for ``help()``,
with two reST forms Markdown lacks. Code introduced by a line ending in ``::`` and an indented
block (``Example::``) becomes a fenced Python block, the ``::`` a plain colon; a role such as
``:class:`APIFuture``` becomes inline code. Nothing else of a docstring changes, and the
sources stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_INTRO = re.compile(r"^(?P<indent>[ \t]*)(?P<text>\S.*?)::[ \t]*$")
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def fence_literal_blocks(text: str) -> str:
    """Every ``intro::`` + blank line + indented block, as ``intro:`` + a fenced python block."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _INTRO.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block_start = j
        while j < len(lines) and (not lines[j].strip() or _indent_of(lines[j]) > len(indent)):
            j += 1
        while j > block_start and not lines[j - 1].strip():
            j -= 1
        block = lines[block_start:j]
        if not block:  # "::" with nothing indented after it: leave the line alone
            out.append(lines[i])
            i += 1
            continue
        depth = min(_indent_of(line) for line in block if line.strip())
        out.append(f"{indent}{match['text']}:")
        out.append("")
        out.append(f"{indent}```python")
        out.extend(f"{indent}{line[depth:]}" if line.strip() else "" for line in block)
        out.append(f"{indent}```")
        i = j
    return "\n".join(out)


def plain_roles(text: str) -> str:
    """``:class:`X``` (and the other Python roles) as inline code; ``~a.b.X`` as ``X``."""

    def code(match: re.Match[str]) -> str:
        target = match["target"]
        return f"``{target.rsplit('.', 1)[-1] if match['tilde'] else target}``"

    return _ROLE.sub(code, text)


class RstLiteralBlocks(griffe.Extension):
    """Rewrite ``::`` literal blocks of every loaded docstring before mkdocstrings parses it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = plain_roles(fence_literal_blocks(obj.docstring.value))
