"""What translating an OpenAPI document builds up: the manifest data, where each of its keys
came from in the document, notes on what was left out, and problems that stop the import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..loader import Key, Loaded, dotted

__all__ = ["Context"]


@dataclass
class Context:
    doc: Loaded
    data: dict[str, Any] = field(default_factory=dict)
    positions: dict[Key, tuple[int, int]] = field(default_factory=dict)
    files: dict[Key, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # The document's component schema name -> the manifest's (CamelCase, unique).
    schema_names: dict[str, str] = field(default_factory=dict)
    # keyword -> the places it was dropped at (reported once per keyword, not per place).
    dropped: dict[str, list[Key]] = field(default_factory=dict)

    def mark(self, out: Key, src: Key) -> None:
        """Manifest key ``out`` came from document key ``src`` (the first mark wins)."""
        if out not in self.positions:
            file, line, col = self.doc.locate(src)
            self.positions[out] = (line, col)
            self.files[out] = file

    def where(self, src: Key) -> str:
        file, line, col = self.doc.locate(src)
        return f"{file}:{line}:{col}"

    def note(self, src: Key, message: str) -> None:
        """Something the manifest cannot say, left out or approximated (not an error)."""
        self.notes.append(f"{self.where(src)}: {dotted(src)}: {message}")

    def fail(self, src: Key, message: str) -> None:
        self.problems.append(self.doc.problem(src, message))

    def drop(self, keyword: str, src: Key) -> None:
        self.dropped.setdefault(keyword, []).append(src)

    def flush_dropped(self) -> None:
        for keyword, places in sorted(self.dropped.items()):
            more = f" and {len(places) - 1} more places" if len(places) > 1 else ""
            self.note(
                places[0],
                f"schema keyword `{keyword}` left out{more}: the manifest's schemas do not have it "
                "(the generated models accept a little more than the document says)",
            )
        self.dropped.clear()
