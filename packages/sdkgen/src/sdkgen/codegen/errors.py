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
    """The manifest has problems; ``problems`` lists them in file order (the loader lists at
    most 100 and counts the rest in ``omitted``)."""

    def __init__(self, problems: list[Problem], *, omitted: int = 0) -> None:
        self.problems = sorted(set(problems))
        self.omitted = omitted  # further problems found but not listed
        count = len(self.problems) + omitted
        lines = [f"{count} problem{'s' if count != 1 else ''} in the manifest:"]
        lines += [f"  {p}" for p in self.problems]
        if omitted:
            lines.append(f"  ... and {omitted} more like these")
        super().__init__("\n".join(lines))
