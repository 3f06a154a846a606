"""Sizes for people: one formatter for the CLI, download progress and the local backend's build
(stdlib only, so ``tinkex.local`` stays cheap to import)."""

from __future__ import annotations

__all__ = ["format_bytes"]


def format_bytes(size: float) -> str:
    """``size`` bytes in binary units: ``"512 B"``, ``"2.0 KiB"``, ``"1.3 GiB"``.

    Example::

        assert format_bytes(2048) == "2.0 KiB"
    """
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(amount) < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"
