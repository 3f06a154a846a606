"""The one size formatter (CLI tables, download progress, the local backend's build)."""

from __future__ import annotations

import pytest

from tinkex._units import format_bytes


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (int(2.2 * 1024**3), "2.2 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_sizes_in_binary_units(size: int, text: str) -> None:
    assert format_bytes(size) == text
