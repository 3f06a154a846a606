"""A real Tinker server on this machine: skyrl-tx 0.3.0 on CPU with a tiny model.

No account, no GPU: the open-source `skyrl-tx <https://pypi.org/project/skyrl-tx/>`_ server
with a tiny random-weight Qwen3 (2 layers, a 384-token vocabulary), requested as
``"tiny-qwen3"`` with a LoRA rank up to 8. Its loss falls as it trains; its samples are
gibberish. It backs ``make demo``, the examples and the end-to-end tests.

From a terminal (``tinkex backend up|status|down``; the server outlives the command)::

    tinkex backend up          # builds what is missing, starts on 127.0.0.1:8000, waits
    export TINKER_BASE_URL=http://127.0.0.1:8000   # no API key needed on this machine
    tinkex backend status
    tinkex backend down

From Python::

    from tinkex.local import running_backend
    with running_backend() as backend:   # stopped on exit, on Ctrl-C, on SIGTERM
        backend.base_url, backend.base_model, backend.pid, backend.log_path

Everything is built once and cached under ``~/.cache/tinkex/skyrl-tx-0.3.0``
(``$TINKEX_BACKEND_CACHE``): the server's own virtualenv (about 2.2 GB), the tiny model, one
directory per server run. This module uses only the standard library: importing it is cheap,
and the heavy parts (torch, jax, transformers) live in that virtualenv, never in tinkex's.
Settings: ``TINKEX_BACKEND_CACHE``, ``TINKEX_BACKEND_PYTHON`` (a python 3.11 to build the
virtualenv with), ``TINKEX_BACKEND_START_TIMEOUT`` (seconds, default 300),
``TINKEX_BACKEND_ALLOW_TORCH_DOWNLOAD=1`` (let pip fetch torch from an index).
"""

from __future__ import annotations

from ._build import alias_model_dir, ensure_env, ensure_model, venv_python
from ._common import (
    DEFAULT_PORT,
    MAX_LORA_RANK,
    MODEL_ALIAS,
    BackendError,
    PortInUseError,
    cache_dir,
)
from ._record import ServerStatus, down, state_file, status, up
from ._server import Backend, running_backend, start_backend, tokenize

__all__ = [
    "DEFAULT_PORT",
    "MAX_LORA_RANK",
    "MODEL_ALIAS",
    "Backend",
    "BackendError",
    "PortInUseError",
    "ServerStatus",
    "alias_model_dir",
    "cache_dir",
    "down",
    "ensure_env",
    "ensure_model",
    "running_backend",
    "start_backend",
    "state_file",
    "status",
    "tokenize",
    "up",
    "venv_python",
]
