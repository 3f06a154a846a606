"""User code type-checked against tinkex, as a user's ``mypy --strict`` sees it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

USER_CODE = textwrap.dedent(
    """
    import tinkex
    from tinkex import AmbiguousOutcomeError, ServiceClient

    def make() -> tinkex.ServiceClient:
        return ServiceClient(base_url="http://127.0.0.1:1")

    errors: tuple[type[Exception], ...] = (AmbiguousOutcomeError, tinkex.APIError)
    """
)


@pytest.mark.timeout(180)
def test_public_names_are_exported_to_strict_type_checkers(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "user_code.py").write_text(USER_CODE)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            "mypy.ini",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "user_code.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert "does not explicitly export" not in output, output
    assert proc.returncode == 0, output
