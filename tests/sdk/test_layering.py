"""The hand-written Tinker layer calls the generated, typed methods (issue 11, point 4): no
endpoint looked up by string key, no call around the generated method with a bare spec."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tinkex"
# `api.submit(spec, ...)` / `api.stream(spec, ...)` / `api.request(spec, ...)`: the runtime's
# untyped entry points, which the generated methods wrap.
BYPASS = re.compile(r"\bENDPOINTS\b|\bapi\.(submit|stream|request|poll_once)\(")


def _hand_written() -> list[Path]:
    files = sorted(p for p in SRC.rglob("*.py") if "_generated" not in p.parts)
    assert len(files) > 40  # the scan sees the package
    return files


def test_hand_written_code_calls_generated_methods_not_the_runtime_by_endpoint() -> None:
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in _hand_written()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BYPASS.search(line)
    ]
    assert found == []


# `from sdkgen.runtime._x import` / `import sdkgen.runtime._x`: the kit's private modules, which
# may change under another SDK's feet; what tinkex needs from the kit is public there.
PRIVATE_KIT = re.compile(r"^\s*(from|import)\s+sdkgen\.runtime\._\w+")


def test_hand_written_code_uses_only_the_kits_public_names() -> None:
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in _hand_written()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE_KIT.search(line)
    ]
    assert found == []
