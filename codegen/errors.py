"""Problems found in a manifest, each with its position and key path."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManifestError", "Problem"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(Exception):
    """The manifest has problems; ``problems`` lists every one of them, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the manifest:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))
