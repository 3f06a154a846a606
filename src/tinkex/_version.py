"""The installed version of tinkex, read from package metadata (no version string in code)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["sdk_version"]


@cache
def sdk_version() -> str:
    try:
        return version("tinkex")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
