"""Hand-written modules stay small enough to read in one sitting (the project's rule: under
600 lines); generated code is exempt."""

from __future__ import annotations

from pathlib import Path

import tinkex

LIMIT = 600
ROOT = Path(tinkex.__file__).resolve().parent


def test_no_hand_written_module_is_over_the_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in ROOT.rglob("*.py")
        if "_generated" not in path.parts
    }
    assert len(sizes) > 50  # the walk found the package
    over = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not over, f"split these modules (over {LIMIT} lines): {over}"
