"""``tinker://`` checkpoint paths: refused before any request when malformed, and normalized
from the short form some servers answer with."""

from __future__ import annotations

from .types import ParsedCheckpointTinkerPath

__all__ = ["check_tinker_path", "normalize_path"]


def normalize_path(path: str, kind: str) -> str:
    """``tinker://<run>/<name>`` (as some servers answer) as ``tinker://<run>/<kind>/<name>``."""
    if path.startswith("tinker://"):
        parts = path[len("tinker://") :].split("/")
        if len(parts) == 2 and all(parts):
            return f"tinker://{parts[0]}/{kind}/{parts[1]}"
    return path


def check_tinker_path(path: str) -> None:
    """Refuse, before any request, a path that is not ``tinker://<run id>/<kind>/<name>``."""
    ParsedCheckpointTinkerPath.from_tinker_path(path)
