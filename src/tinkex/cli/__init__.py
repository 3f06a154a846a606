"""The ``tinkex`` command: checkpoints, training runs, sampling and models from a terminal.

Run ``tinkex --help`` (or ``python -m tinkex.cli --help``). From Python, ``main([...])`` runs
the command with those arguments and returns its exit code::

    from tinkex.cli import main
    code = main(["--format", "json", "checkpoint", "list", "--limit", "0"])
"""

from __future__ import annotations

from ._app import main

__all__ = ["main"]
