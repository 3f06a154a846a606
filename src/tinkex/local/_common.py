"""What the launcher's parts share: constants, the cache's paths, the errors, log reading."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

SKYRL_VERSION = "0.3.0"
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MODEL_ALIAS = "tiny-qwen3"
MAX_LORA_RANK = 8
BACKEND_CONFIG = {"max_lora_adapters": 16, "max_lora_rank": MAX_LORA_RANK}

HERE = Path(__file__).resolve().parent
UV_STANDIN = HERE / "uv"
TINY_MODEL_SCRIPT = HERE / "_tiny_model.py"


class BackendError(RuntimeError):
    """The local backend could not be built, started or stopped; the message says why and
    names the log to read."""


class PortInUseError(BackendError):
    """The port asked for on 127.0.0.1 is taken by another program."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} on {HOST} is in use by another program: choose another port")
        self.port = port


def say(msg: str) -> None:
    """A progress line on stderr (stdout stays for results)."""
    print(f"[tinkex backend] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """The cache root: ``$TINKEX_BACKEND_CACHE``, else ``~/.cache/tinkex/skyrl-tx-<version>``.

    Example::

        from tinkex.local import cache_dir
        print(cache_dir() / "server.json")
    """
    env = os.environ.get("TINKEX_BACKEND_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "tinkex" / f"skyrl-tx-{SKYRL_VERSION}"
    return base.expanduser().resolve()


def logs_dir() -> Path:
    d = cache_dir() / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock on ``<cache>/<name>`` between processes (builds, ``up``/``down``).

    Two different names never wait on each other, so a holder of one may take the other.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # say why nothing happens for a while
            say(f"another process holds {root / name}: waiting for it (a build or a start)")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would mix tinkex's python into the backend's
    (``PYTHONPATH``, ``PYTHONHOME``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def offline_env() -> dict[str, str]:
    """What the backend's processes run with: no network for models, JAX on the CPU."""
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "JAX_PLATFORMS": "cpu",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",  # skyrl-tx logs through rich, which wraps at 80 columns otherwise
    }


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log (read from its last 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(line.rstrip() for line in data.splitlines()[-lines:])


def log_cause(path: Path) -> str:
    """The last exception line of a log (the engine's traceback ends in one), if any."""
    found = ""
    for line in tail(path, 400).splitlines():
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*:", line.strip()):
            found = line.strip()
    return f" ({found[:300]})" if found else ""
