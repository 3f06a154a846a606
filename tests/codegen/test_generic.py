"""The generator and the runtime know nothing of any particular API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["codegen", "src/tinkex/runtime"])
def test_no_tinker_names(folder: str) -> None:
    offenders = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.is_file() and path.suffix in {".py", ".j2", ".md", ".txt"}:
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search("tinker", line, re.IGNORECASE):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_codegen_never_imports_the_generated_sdk() -> None:
    for path in (ROOT / "codegen").rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+tinkex", source, re.MULTILINE), path
