"""``python -m tinkex.cli``: the same as the ``tinkex`` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
