"""``python -m tinkex``: the same as the ``tinkex`` command (and ``python -m tinkex.cli``)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
