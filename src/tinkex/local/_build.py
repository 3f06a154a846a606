"""Building the backend's own virtualenv and the tiny model, once, with progress on stderr.

The pip steps can be silent for minutes (torch unpacks about 1 GB, the dependency step resolves
and downloads dozens of packages), so each step prints what it does when it starts and a
heartbeat every :data:`HEARTBEAT_SECONDS` while it runs: elapsed time, the bytes its log
holds, the venv's size and growth, and the log's last line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .._units import format_bytes
from ._common import (
    MODEL_ALIAS,
    SKYRL_VERSION,
    TINY_MODEL_SCRIPT,
    BackendError,
    cache_dir,
    clean_env,
    file_lock,
    logs_dir,
    offline_env,
    say,
    tail,
)

SKYRL_SPEC = f"skyrl-tx=={SKYRL_VERSION}"
TORCH_SPEC = "torch==2.13.0"
# skyrl-tx's runtime deps (its base requirements, the `tinker` extra without the hosted SDK
# and postgres drivers, the `jax` extra without jax[cuda12]).
RUNTIME_DEPS = [
    "jax>=0.8,<1",
    "flax>=0.12.2",
    "optax>=0.2.5",
    "transformers>=4.56.1,<5",
    "tokenizers",
    "safetensors",
    "peft",
    "datasets",
    "pillow",
    "rich",
    "typer",
    "cloudpathlib",
    "hf_transfer",
    "fastapi[standard]",
    "sqlmodel",
    "sqlalchemy[asyncio]",
    "aiosqlite",
]
INSTALL_SPEC: dict[str, Any] = {
    "format": 1,
    "python": "3.11",
    "steps": [
        ["pip", "install", "--no-deps", SKYRL_SPEC],
        ["pip", "install", TORCH_SPEC],
        ["pip", "install", "-c", "<torch pin>", *RUNTIME_DEPS],
    ],
}
HEARTBEAT_SECONDS = 10.0
STEPS = ("venv", "skyrl-tx", "torch-dryrun", "torch", "deps", "verify")


def venv_dir() -> Path:
    return cache_dir() / "venv"


def venv_python() -> Path:
    """The python of the backend's virtualenv (it exists once the environment is built).

    Example::

        from tinkex.local import venv_python
        print(venv_python().exists())  # built yet?
    """
    return venv_dir() / "bin" / "python"


def model_dir() -> Path:
    """Where the tiny model lives: keyed on the contents of the script that builds it."""
    digest = hashlib.sha256(TINY_MODEL_SCRIPT.read_bytes()).hexdigest()[:12]
    return cache_dir() / "models" / f"tiny-qwen3-{digest}"


def _base_python() -> str:
    """A python 3.11 (the CPU torch wheel on disk is cp311) to create the venv with."""
    env = os.environ.get("TINKEX_BACKEND_PYTHON")
    if env:
        return env
    if sys.version_info[:2] == (3, 11):
        base = getattr(sys, "_base_executable", None) or sys.executable
        if base and Path(base).exists():
            return base
        return sys.executable
    found = shutil.which("python3.11")
    if found:
        return found
    raise BackendError(
        "no python 3.11 found to build the backend environment (set TINKEX_BACKEND_PYTHON to one)"
    )


def _stamp_path() -> Path:
    return venv_dir() / "tinkex-install.json"


def _stamp_ok() -> bool:
    try:
        recorded = json.loads(_stamp_path().read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == INSTALL_SPEC and venv_python().exists())


def tree_size(path: Path) -> int:
    """The bytes of the files under ``path`` (0 when it does not exist)."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    return total


def _last_line(log: Path) -> str:
    lines = [
        ln.strip() for ln in tail(log, 5).splitlines() if ln.strip() and not ln.startswith("$ ")
    ]
    return lines[-1][:100] if lines else ""


def run_step(
    name: str,
    what: str,
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    watch: Path | None = None,
) -> float:
    """Run one build step with its output in ``logs/install-<name>.log``; return its seconds.

    Prints what it does, then a heartbeat every :data:`HEARTBEAT_SECONDS` (elapsed, log bytes,
    the size of ``watch`` and its growth, the log's last line). A failure raises
    :class:`BackendError` naming the step, its exit code and its log, with the log's tail;
    an interrupt stops the step's process before it propagates.
    """
    log = logs_dir() / f"install-{name}.log"
    say(f"{name}: {what} (log: {log})")
    t0 = time.monotonic()
    start_size = tree_size(watch) if watch is not None else 0
    with open(log, "w") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=clean_env() if env is None else env,
            )
        except OSError as exc:
            raise BackendError(f"install step '{name}' could not run: {exc}; log: {log}") from exc
        try:
            next_beat = t0 + HEARTBEAT_SECONDS
            while True:
                try:
                    rc = proc.wait(timeout=max(0.05, min(1.0, next_beat - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() >= next_beat:
                    next_beat += HEARTBEAT_SECONDS
                    _heartbeat(name, t0, log, watch, start_size)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    elapsed = time.monotonic() - t0
    if rc != 0:
        raise BackendError(
            f"install step '{name}' failed (exit {rc}) after {elapsed:.0f}s; log: {log}\n"
            f"--- last lines of {log} ---\n{tail(log, 25)}"
        )
    say(f"{name}: done in {elapsed:.1f}s")
    return elapsed


def _heartbeat(name: str, t0: float, log: Path, watch: Path | None, start_size: int) -> None:
    parts = [f"{time.monotonic() - t0:.0f}s"]
    with contextlib.suppress(OSError):
        parts.append(f"log {format_bytes(log.stat().st_size)}")
    if watch is not None:
        size = tree_size(watch)
        parts.append(f"venv {format_bytes(size)} (+{format_bytes(max(0, size - start_size))})")
    last = _last_line(log)
    say(f"  {name}: still running, " + ", ".join(parts) + (f"; last: {last}" if last else ""))


def torch_download_problem(report: dict[str, Any]) -> str | None:
    """Why a pip ``--dry-run --report`` for torch would download a (CUDA, multi-GB) build.

    ``None`` when torch comes from a local file (pip's find-links) and nothing CUDA comes along.
    """
    for item in report.get("install", []):
        name = str(item.get("metadata", {}).get("name", "")).lower()
        version = item.get("metadata", {}).get("version", "")
        url = str(item.get("download_info", {}).get("url", ""))
        if name.startswith("nvidia-") or name == "triton":
            return f"pip would install {name} {version} from {url}: a CUDA torch build"
        if name == "torch" and not url.startswith("file:"):
            return f"pip would download torch {version} from {url} instead of a local CPU wheel"
    return None


def _check_torch_source(pip: list[str], step: str) -> None:
    """Refuse to let pip download a (multi-GB, CUDA) torch: it must come from local disk."""
    report = logs_dir() / "install-torch-dryrun.json"
    run_step(
        "torch-dryrun",
        f"{step} check that pip takes {TORCH_SPEC} from local disk (a dry run)",
        [*pip, "install", "--dry-run", "--report", str(report), TORCH_SPEC],
    )
    data = json.loads(report.read_text())
    problem = torch_download_problem(data)
    if problem and os.environ.get("TINKEX_BACKEND_ALLOW_TORCH_DOWNLOAD") != "1":
        raise BackendError(
            f"install step 'torch' stopped before it started: {problem} (several GB). "
            f"Expected the CPU wheel {TORCH_SPEC} on local disk (pip's find-links). Set "
            f"TINKEX_BACKEND_ALLOW_TORCH_DOWNLOAD=1 to allow the download. Report: {report}"
        )
    for item in data.get("install", []):
        if item.get("metadata", {}).get("name", "").lower() == "torch":
            url = item.get("download_info", {}).get("url", "")
            say(f"torch {item['metadata'].get('version')} from {url}")


def ensure_env() -> Path:
    """Build the backend's virtualenv unless its stamp matches; return its python.

    Serialised between processes by a file lock; a half-built venv is rebuilt from scratch.

    Example::

        from tinkex.local import ensure_env
        python = ensure_env()  # about 0.2 s when built; minutes the first time
    """
    if _stamp_ok():
        return venv_python()
    with file_lock(".build.lock"):
        if _stamp_ok():  # built by a concurrent launcher while we waited
            return venv_python()
        t0 = time.monotonic()
        venv = venv_dir()
        say(
            f"building the local backend's environment in {venv} (once; several minutes "
            f"and about 2.2 GB; {len(STEPS)} steps, each with a log)"
        )
        if venv.exists():
            say(f"install spec changed or build incomplete: removing {venv}")
            shutil.rmtree(venv)
        py = str(venv_python())
        pip = [py, "-m", "pip", "--disable-pip-version-check"]
        n = len(STEPS)
        run_step("venv", f"1/{n} create the virtualenv", [_base_python(), "-m", "venv", str(venv)])
        run_step(
            "skyrl-tx",
            f"2/{n} install {SKYRL_SPEC} without its dependencies",
            [*pip, "install", "--no-deps", SKYRL_SPEC],
            watch=venv,
        )
        _check_torch_source(pip, f"3/{n}")
        run_step(
            "torch",
            f"4/{n} install {TORCH_SPEC} (the CPU wheel on local disk, about 1 GB unpacked)",
            [*pip, "install", TORCH_SPEC],
            watch=venv,
        )
        pin = venv / "tinkex-torch-pin.txt"
        pin.write_text(TORCH_SPEC + "\n")
        run_step(
            "deps",
            f"5/{n} install skyrl-tx's runtime dependencies (CPU jax, flax, transformers, "
            "fastapi, ...)",
            [*pip, "install", "-c", str(pin), *RUNTIME_DEPS],
            watch=venv,
        )
        run_step(
            "verify",
            f"6/{n} import torch, jax and skyrl-tx; check no GPU package came along",
            [
                py,
                "-c",
                "import importlib.metadata as m, torch, jax, tx.tinker.api, tx.tinker.engine;"
                "gpu = [d.metadata['Name'] for d in m.distributions()"
                " if d.metadata['Name'].lower().startswith(('nvidia-', 'jax-cuda', 'triton'))];"
                "assert not gpu, f'GPU packages were installed: {gpu}';"
                "print('torch', torch.__version__, 'jax', jax.__version__, jax.devices())",
            ],
            env=clean_env(JAX_PLATFORMS="cpu"),
        )
        _stamp_path().write_text(json.dumps(INSTALL_SPEC, indent=2) + "\n")
        say(f"environment ready in {time.monotonic() - t0:.0f}s: {venv}")
    return venv_python()


def ensure_model(python: Path | None = None) -> Path:
    """Build (once) the tiny Qwen3 model and its tokenizer; return their directory.

    Example::

        from tinkex.local import ensure_model
        print(ensure_model())  # ~/.cache/tinkex/skyrl-tx-0.3.0/models/tiny-qwen3-<hash>
    """
    target = model_dir()
    marker = target / "tinkex_tiny_model.json"
    if marker.exists():
        return target
    python = python or ensure_env()
    with file_lock(".build.lock"):
        if marker.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        run_step(
            "tiny-model",
            "build the tiny random-weight Qwen3 model and its tokenizer",
            [str(python), str(TINY_MODEL_SCRIPT), str(tmp)],
            env=clean_env(**offline_env()),
        )
        os.rename(tmp, target)
    return target


def alias_model_dir(name: str) -> Path | None:
    """The tiny model's directory when ``name`` is the local backend's alias (``"tiny-qwen3"``)
    and the backend's environment is built (the model is built if missing); else ``None``.

    What a tokenizer needs where requests send the alias: the files live in the cache.

    Example::

        from tinkex.local import alias_model_dir
        print(alias_model_dir("tiny-qwen3"))  # None before `tinkex backend up` built it
    """
    if name != MODEL_ALIAS or not venv_python().exists():
        return None
    return ensure_model()
