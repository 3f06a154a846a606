"""``max_response_bytes`` is manifest data: the API's and an endpoint's reach the emitted specs
(issue 10, finding 2); a manifest without it keeps the runtime's default (256 MiB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError

MINI = Path(__file__).parent / "golden" / "mini.yaml"


def _with_limits(tmp_path: Path) -> Path:
    text = MINI.read_text()
    text = text.replace("api:\n", "api:\n  max_response_bytes: 1048576\n", 1)
    text = text.replace(
        "      get_note:\n", "      get_note:\n        max_response_bytes: 4096\n", 1
    )
    manifest = tmp_path / "mini.yaml"
    manifest.write_text(text)
    return manifest


def test_the_api_and_endpoint_limits_are_emitted(tmp_path: Path) -> None:
    out = tmp_path / "limited_sdk"
    generate(_with_limits(tmp_path), out)
    api = (out / "api.py").read_text()
    assert "max_response_bytes=1048576" in api
    endpoints = (out / "endpoints.py").read_text()
    assert endpoints.count("max_response_bytes=") == 1
    assert "max_response_bytes=4096" in endpoints


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_a_limit_must_be_a_positive_integer(tmp_path: Path, value: str) -> None:
    manifest = tmp_path / "mini.yaml"
    manifest.write_text(
        MINI.read_text().replace("api:\n", f"api:\n  max_response_bytes: {value}\n", 1)
    )
    with pytest.raises(ManifestError, match="max_response_bytes"):
        generate(manifest, tmp_path / "out")
