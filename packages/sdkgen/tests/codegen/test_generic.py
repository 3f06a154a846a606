"""The generator and the runtime know nothing of any particular API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# The kit's directory (packages/sdkgen): its source, tests and docs name no particular API.
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["src/sdkgen", "tests", "docs", "examples", "README.md"])
def test_no_tinker_names(folder: str) -> None:
    offenders = []
    top = ROOT / folder
    for path in sorted(top.rglob("*") if top.is_dir() else [top]):
        if (
            path.is_file()
            and path != Path(__file__).resolve()
            and path.suffix in {".py", ".j2", ".md", ".txt", ".yaml", ".json"}
        ):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search("tinker", line, re.IGNORECASE):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_kit_never_imports_an_sdk_made_with_it() -> None:
    paths = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    assert paths
    for path in paths:
        source = path.read_text()
        imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, re.MULTILINE)
        assert all(name.split(".")[0] != "tinkex" for name in imports), path


def test_the_generator_and_the_runtime_agree_on_safe_methods() -> None:
    # The generator keeps its own copy (it imports nothing of the runtime): a method the
    # runtime sends no idempotency key with must get no `idempotency_key` argument, and back.
    from sdkgen.codegen import ir
    from sdkgen.runtime import _request

    assert ir.SAFE_METHODS == _request.SAFE_METHODS
