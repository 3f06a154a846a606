"""The manifest format's documentation says what the loader and the generator really do."""

from __future__ import annotations

import re
from pathlib import Path

import sdkgen.codegen
from sdkgen.codegen.keys_table import keys_tables, splice

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifest-format.md"
TEMPLATES = Path(sdkgen.codegen.__file__).parent / "templates"


def test_every_key_the_loader_accepts_is_in_the_keys_tables() -> None:
    text = DOC.read_text()
    assert splice(text) == text, (
        "docs/manifest-format.md's key tables are stale: regenerate them with\n"
        "  python -c 'from pathlib import Path; from sdkgen.codegen.keys_table import splice; "
        'p = Path("docs/manifest-format.md"); p.write_text(splice(p.read_text()))\''
    )


def test_the_tables_name_defaults_and_requirements() -> None:
    tables = keys_tables()
    assert "| `poll_interval` | number | `0.5` |" in tables
    assert "| `env` | string | required |" in tables  # api.auth.env
    assert "#### `resources.<resource>.endpoints.<endpoint>.paginate`" in tables


def test_the_documented_templates_are_the_kits() -> None:
    named = set(re.findall(r"`([\w.]+\.j2)`", DOC.read_text()))
    assert named == {p.name for p in TEMPLATES.glob("*.j2")}
