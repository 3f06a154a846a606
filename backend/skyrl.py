"""Compatibility shim: the launcher is the public module ``tinkex.local`` now.

Use ``tinkex backend up|status|down`` from a terminal and ``from tinkex.local import
running_backend`` from Python (docs/guides/local-backend.md). This module re-exports those
names and keeps the old commands working, also with a bare ``python3`` from the checkout::

    python -m backend.skyrl start|status|stop|env     # as tinkex backend up|status|down
    .venv/bin/python -m backend.skyrl probe           # start, exercise tinkex, stop
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:
    import tinkex.local  # noqa: F401
except ImportError:  # a bare python3 in the checkout: tinkex.local needs only the stdlib
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tinkex.local import (
    MODEL_ALIAS,
    Backend,
    BackendError,
    cache_dir,
    down,
    ensure_env,
    ensure_model,
    running_backend,
    start_backend,
    status,
    tokenize,
    up,
    venv_python,
)

__all__ = [
    "MODEL_ALIAS",
    "Backend",
    "BackendError",
    "cache_dir",
    "ensure_env",
    "ensure_model",
    "main",
    "running_backend",
    "start_backend",
    "tokenize",
    "venv_python",
]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    try:
        if command == "start":
            print(json.dumps(up().to_json(), indent=2))
        elif command == "stop":
            found = down()
            print(
                f"stopped pid {found.backend.pid}"
                if found.running and found.backend
                else "nothing running"
            )
        elif command == "status":
            found = status()
            print(json.dumps(found.to_json(), indent=2))
            return 0 if found.healthy else 1
        elif command == "env":
            python = ensure_env()
            print(json.dumps({"python": str(python), "model_dir": str(ensure_model(python))}))
        elif command == "probe":
            from backend import probe  # needs tinkex's dependencies: the project venv

            return int(probe.main(args[1:]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except BackendError as exc:
        print(f"[tinkex backend] FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
