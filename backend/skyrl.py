"""A real local Tinker backend: the open-source skyrl-tx 0.3.0 server on CPU.

Stdlib only, so any python can run it (the project venv, a bare python3, CI)::

    python -m backend.skyrl start     # build what is missing, start, wait until ready
    python -m backend.skyrl status    # is the server from `start` still up?
    python -m backend.skyrl stop      # stop it by PID (its process group)
    python -m backend.skyrl probe     # start, exercise tinkex against it, stop (needs tinkex)
    python -m backend.skyrl env       # only build the environment and the tiny model

From Python (tests, examples, ``make demo``)::

    from backend.skyrl import running_backend
    with running_backend() as b:
        b.base_url, b.base_model, b.pid, b.log_path

What it does, once and cached under ``~/.cache/tinkex/skyrl-tx-0.3.0`` (``TINKEX_BACKEND_CACHE``):

* ``venv/``: a virtualenv of its own with skyrl-tx (no extras), the CPU torch wheel that
  lies on disk, and skyrl-tx's runtime deps with CPU jax. Rebuilt only when the stamp file
  ``venv/tinkex-install.json`` (the exact install spec) is missing or different. Each step
  logs to ``logs/install-*.log``; a failure names the step and its log.
* ``models/tiny-qwen3-<hash>/``: a random-weight Qwen3 and a byte-level BPE tokenizer made
  by ``backend/tiny_model.py`` (keyed on that file's contents).
* ``runs/<id>/``: per server start: ``server.log``, ``tinker.db``, ``checkpoints/`` and
  ``bin/uv`` (the stand-in skyrl-tx needs to start its engine). The newest few are kept.

The server listens on 127.0.0.1 only, on a free port, in a process group of its own; it is
stopped by PID (SIGTERM to the group, then SIGKILL after a bound), also on Ctrl-C.

Environment knobs: ``TINKEX_BACKEND_CACHE``, ``TINKEX_BACKEND_PYTHON`` (a python 3.11 to build
the venv with), ``TINKEX_BACKEND_START_TIMEOUT`` (seconds, default 300),
``TINKEX_BACKEND_ALLOW_TORCH_DOWNLOAD=1`` (let pip fetch torch from an index).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SKYRL_VERSION = "0.3.0"
HERE = Path(__file__).resolve().parent
UV_STANDIN = HERE / "uv"
TINY_MODEL_SCRIPT = HERE / "tiny_model.py"

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
BACKEND_CONFIG = {"max_lora_adapters": 16, "max_lora_rank": 8}
ENGINE_READY_LINE = "Starting background engine"
HOST = "127.0.0.1"
KEEP_RUNS = 5
STOP_GRACE_SECONDS = 15.0


class BackendError(RuntimeError):
    """The backend could not be installed, built, started or stopped."""


def _say(msg: str) -> None:
    print(f"[skyrl-backend] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    env = os.environ.get("TINKEX_BACKEND_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "tinkex" / f"skyrl-tx-{SKYRL_VERSION}"
    return base.expanduser().resolve()


def venv_dir() -> Path:
    return cache_dir() / "venv"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def logs_dir() -> Path:
    d = cache_dir() / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """Serialise builds between concurrent launchers (tests, make demo, CI)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(line.rstrip() for line in data.splitlines()[-lines:])


def _log_cause(path: Path) -> str:
    """The last exception line of a log (the engine's traceback ends in one), if any."""
    import re

    found = ""
    for line in tail(path, 400).splitlines():
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*:", line.strip()):
            found = line.strip()
    return f" ({found[:300]})" if found else ""


# --------------------------------------------------------------------------- environment


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
    return recorded == INSTALL_SPEC and venv_python().exists()


def _run_step(name: str, cmd: list[str], env: dict[str, str] | None = None) -> float:
    log = logs_dir() / f"install-{name}.log"
    _say(f"step {name}: {' '.join(cmd)}  (log: {log})")
    t0 = time.monotonic()
    with open(log, "w") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            rc = subprocess.call(
                cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        except OSError as exc:
            raise BackendError(f"install step '{name}' could not run: {exc}; log: {log}") from exc
    elapsed = time.monotonic() - t0
    if rc != 0:
        raise BackendError(
            f"install step '{name}' failed (exit {rc}) after {elapsed:.0f}s; log: {log}\n"
            f"--- last lines of {log} ---\n{tail(log, 25)}"
        )
    _say(f"step {name}: done in {elapsed:.1f}s")
    return elapsed


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


def _check_torch_source(pip: list[str]) -> None:
    """Refuse to let pip download a (multi-GB, CUDA) torch: it must come from local disk."""
    report = logs_dir() / "install-torch-dryrun.json"
    _run_step("torch-dryrun", [*pip, "install", "--dry-run", "--report", str(report), TORCH_SPEC])
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
            _say(f"torch {item['metadata'].get('version')} from {url}")


def ensure_env() -> Path:
    """Build the backend virtualenv unless its stamp matches; return its python."""
    if _stamp_ok():
        return venv_python()
    with _cache_lock():
        if _stamp_ok():  # built by a concurrent launcher while we waited
            return venv_python()
        t0 = time.monotonic()
        venv = venv_dir()
        if venv.exists():
            _say(f"install spec changed or build incomplete: rebuilding {venv}")
            shutil.rmtree(venv)
        py = str(venv_python())
        pip = [py, "-m", "pip", "--disable-pip-version-check"]
        _run_step("venv", [_base_python(), "-m", "venv", str(venv)])
        _run_step("skyrl-tx", [*pip, "install", "--no-deps", SKYRL_SPEC])
        _check_torch_source(pip)
        _run_step("torch", [*pip, "install", TORCH_SPEC])
        pin = venv / "tinkex-torch-pin.txt"
        pin.write_text(TORCH_SPEC + "\n")
        _run_step("deps", [*pip, "install", "-c", str(pin), *RUNTIME_DEPS])
        _run_step(
            "verify",
            [
                py,
                "-c",
                "import importlib.metadata as m, torch, jax, tx.tinker.api, tx.tinker.engine;"
                "gpu = [d.metadata['Name'] for d in m.distributions()"
                " if d.metadata['Name'].lower().startswith(('nvidia-', 'jax-cuda', 'triton'))];"
                "assert not gpu, f'GPU packages were installed: {gpu}';"
                "print('torch', torch.__version__, 'jax', jax.__version__, jax.devices())",
            ],
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
        )
        _stamp_path().write_text(json.dumps(INSTALL_SPEC, indent=2) + "\n")
        _say(f"backend environment ready in {time.monotonic() - t0:.0f}s: {venv}")
    return venv_python()


def ensure_model(python: Path | None = None) -> Path:
    """Build (once) the tiny Qwen3 model + tokenizer dir; return its path."""
    digest = hashlib.sha256(TINY_MODEL_SCRIPT.read_bytes()).hexdigest()[:12]
    target = cache_dir() / "models" / f"tiny-qwen3-{digest}"
    marker = target / "tinkex_tiny_model.json"
    if marker.exists():
        return target
    python = python or ensure_env()
    with _cache_lock():
        if marker.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        env = {**os.environ, **_offline_env()}
        _run_step("tiny-model", [str(python), str(TINY_MODEL_SCRIPT), str(tmp)], env=env)
        os.rename(tmp, target)
    return target


def _offline_env() -> dict[str, str]:
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "JAX_PLATFORMS": "cpu",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",  # skyrl-tx logs through rich, which wraps at 80 columns otherwise
    }


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _proc_start_ticks(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): tells a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(
    pid: int, proc: subprocess.Popen[bytes] | None = None, grace: float = STOP_GRACE_SECONDS
) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if still there after ``grace``."""

    def gone() -> bool:
        if proc is not None and proc.poll() is None:
            return False
        return not _group_alive(pid)

    if gone():
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.1)
    _say(f"server group {pid} still up {grace:.0f}s after SIGTERM: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the server if the process that started it dies (even by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _prune_runs(runs: Path) -> None:
    try:
        old = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for p in old[:-KEEP_RUNS]:
        try:  # a server may still be using it
            if _group_alive(int((p / "server.pid").read_text())):
                continue
        except (OSError, ValueError):
            pass
        shutil.rmtree(p, ignore_errors=True)


@dataclasses.dataclass
class Backend:
    """A running skyrl-tx server."""

    base_url: str
    base_model: str
    pid: int
    port: int
    log_path: Path
    run_dir: Path
    python: Path
    started_at: float
    ready_seconds: float
    _proc: subprocess.Popen[bytes] | None = dataclasses.field(default=None, repr=False)

    @property
    def tokenizer_dir(self) -> str:
        return self.base_model

    def alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return _group_alive(self.pid)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def stop(self) -> None:
        stop_process_group(self.pid, self._proc)

    def to_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "base_model": self.base_model,
            "pid": self.pid,
            "pid_start": _proc_start_ticks(self.pid),
            "port": self.port,
            "log_path": str(self.log_path),
            "run_dir": str(self.run_dir),
            "python": str(self.python),
            "started_at": self.started_at,
            "ready_seconds": self.ready_seconds,
        }


def start_backend(
    timeout: float | None = None,
    run_dir: Path | None = None,
    *,
    detach: bool = False,
    port: int | None = None,
) -> Backend:
    """Build what is missing, start skyrl-tx on a free 127.0.0.1 port, wait until ready.

    On timeout, early exit or Ctrl-C the server's process group is killed and a
    :class:`BackendError` (or the KeyboardInterrupt) is raised with the log tail.
    Unless ``detach`` (the ``start`` command), the server also gets SIGTERM when this
    process dies, so a killed test run leaves no server behind (Linux sends it when the *thread*
    that called this ends: start from a thread that lives as long as the server should).
    ``run_dir`` and ``port`` of an
    earlier server start it again on the same address, database and checkpoints (a restart).
    """
    if timeout is None:
        timeout = float(os.environ.get("TINKEX_BACKEND_START_TIMEOUT", "300"))
    python = ensure_env()
    model = ensure_model(python)
    if run_dir is None:
        runs = cache_dir() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        _prune_runs(runs)
        run_dir = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{free_port()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    bindir = run_dir / "bin"
    bindir.mkdir(exist_ok=True)
    uv = bindir / "uv"
    shutil.copyfile(UV_STANDIN, uv)
    uv.chmod(0o755)
    (run_dir / "checkpoints").mkdir(exist_ok=True)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(_offline_env())
    env["PATH"] = os.pathsep.join([str(bindir), str(python.parent), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["TINKEX_SKYRL_PYTHON"] = str(python)
    # JAX's persistent compilation cache: later runs skip most of the 2-5 s compiles per shape.
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_dir() / "jax-cache"))
    env.pop("TX_DATABASE_URL", None)

    last_error: BackendError | None = None
    fixed_port = port
    for _attempt in range(3):  # a port taken between our probe and the server's bind: retry
        port = fixed_port or free_port()
        # A new log per start: a restart in the same run_dir keeps the earlier server's log.
        log_path = next(
            path
            for n in itertools.count()
            if not (path := run_dir / ("server.log" if n == 0 else f"server.{n}.log")).exists()
        )
        cmd = [
            str(python), "-m", "tx.tinker.api",
            "--host", HOST,
            "--port", str(port),
            "--base-model", str(model),
            "--checkpoints-base", str(run_dir / "checkpoints"),
            "--database-url", f"sqlite:///{run_dir / 'tinker.db'}",
            "--backend", "jax",
            "--backend-config", json.dumps(BACKEND_CONFIG),
        ]  # fmt: skip
        try:
            return _launch(cmd, env, run_dir, log_path, port, str(model), python, timeout, detach)
        except BackendError as exc:
            last_error = exc
            if fixed_port or "address already in use" not in tail(log_path, 60).lower():
                raise
            _say(f"port {port} was taken; retrying on another")
    assert last_error is not None
    raise last_error


def _launch(
    cmd: list[str],
    env: dict[str, str],
    run_dir: Path,
    log_path: Path,
    port: int,
    model: str,
    python: Path,
    timeout: float,
    detach: bool,
) -> Backend:
    _say(f"starting skyrl-tx on {HOST}:{port} (log: {log_path})")
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=run_dir,
            env=env,
            start_new_session=True,  # its own process group: pgid == pid
            preexec_fn=None if detach else _die_with_parent,
        )
    (run_dir / "server.pid").write_text(f"{proc.pid}\n")
    base_url = f"http://{HOST}:{port}"
    backend = Backend(
        base_url=base_url,
        base_model=model,
        pid=proc.pid,
        port=port,
        log_path=log_path,
        run_dir=run_dir,
        python=python,
        started_at=time.time(),
        ready_seconds=0.0,
        _proc=proc,
    )
    try:
        healthy = False
        deadline = t0 + timeout
        while True:
            if proc.poll() is not None:
                raise BackendError(
                    f"skyrl-tx exited early with code {proc.returncode}{_log_cause(log_path)}; "
                    f"log: {log_path}\n"
                    f"--- last lines of {log_path} ---\n{tail(log_path)}"
                )
            if not healthy and _http_ok(f"{base_url}/api/v1/healthz"):
                healthy = True
                _say(f"healthz answers after {time.monotonic() - t0:.1f}s; waiting for the engine")
            if healthy and ENGINE_READY_LINE in " ".join(tail(log_path, 400).split()):
                break
            if time.monotonic() > deadline:
                what = "the engine" if healthy else "healthz"
                raise BackendError(
                    f"skyrl-tx not ready after {timeout:.0f}s (waiting for {what})"
                    f"{_log_cause(log_path)}; "
                    f"log: {log_path}\n--- last lines of {log_path} ---\n{tail(log_path)}"
                )
            time.sleep(0.25)
    except BaseException:
        stop_process_group(proc.pid, proc, grace=5)
        raise
    backend.ready_seconds = time.monotonic() - t0
    _say(f"skyrl-tx ready at {base_url} in {backend.ready_seconds:.1f}s (pid {proc.pid})")
    return backend


@contextlib.contextmanager
def running_backend(timeout: float | None = None) -> Iterator[Backend]:
    """Start skyrl-tx for the duration of a ``with`` block; always stop it by PID.

    SIGTERM to this (main-thread) process is turned into an exception while the block
    runs, so ``kill`` of a test or demo run also stops the server.
    """
    restore = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None):

            def _on_term(signum: int, frame: object) -> None:
                raise SystemExit(128 + signum)

            signal.signal(signal.SIGTERM, _on_term)
            restore = previous
    backend: Backend | None = None
    try:
        backend = start_backend(timeout=timeout)
        yield backend
    finally:
        if backend is not None:
            backend.stop()
            _say(f"skyrl-tx (pid {backend.pid}) stopped")
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def tokenize(texts: list[str], model_dir: str | Path | None = None) -> list[list[int]]:
    """Token ids of ``texts`` with the tiny tokenizer, computed by the backend venv's python.

    The SDK's own venv needs neither transformers nor tokenizers for this.
    """
    python = ensure_env()
    model_dir = str(model_dir or ensure_model(python))
    code = (
        "import json,sys;from transformers import AutoTokenizer;"
        "t=AutoTokenizer.from_pretrained(sys.argv[1]);"
        "print(json.dumps([t.encode(x, add_special_tokens=False) for x in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [str(python), "-c", code, model_dir],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={**os.environ, **_offline_env()},
        check=False,
    )
    if out.returncode != 0:
        raise BackendError(f"tokenizing with {model_dir} failed:\n{out.stderr[-2000:]}")
    return [list(map(int, ids)) for ids in json.loads(out.stdout)]


# --------------------------------------------------------------------------- CLI


def _state_file() -> Path:
    return cache_dir() / "server.json"


def _read_state() -> dict[str, Any] | None:
    try:
        return dict(json.loads(_state_file().read_text()))
    except (OSError, ValueError):
        return None


def _state_alive(state: dict[str, Any]) -> bool:
    pid = int(state["pid"])
    start = state.get("pid_start")
    if start is not None and _proc_start_ticks(pid) not in (start, None):
        return False  # the PID now belongs to another process
    return _group_alive(pid) and _proc_start_ticks(pid) is not None


def _cmd_start(args: list[str]) -> int:
    state = _read_state()
    if state and _state_alive(state):
        _say(f"already running (pid {state['pid']}): {state['base_url']}")
        print(json.dumps(state, indent=2))
        return 0
    backend = start_backend(detach=True)
    info = backend.to_json()
    _state_file().write_text(json.dumps(info, indent=2) + "\n")
    (backend.run_dir / "server.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


def _cmd_status(args: list[str]) -> int:
    state = _read_state()
    if not state:
        print("not running (no state file)")
        return 1
    if not _state_alive(state):
        print(f"not running (pid {state['pid']} is gone); last log: {state['log_path']}")
        return 1
    healthy = _http_ok(f"{state['base_url']}/api/v1/healthz")
    print(
        f"running: pid {state['pid']} at {state['base_url']} "
        f"({'healthy' if healthy else 'NOT answering healthz'}); base_model {state['base_model']}; "
        f"log {state['log_path']}"
    )
    return 0 if healthy else 1


def _cmd_stop(args: list[str]) -> int:
    state = _read_state()
    if not state:
        print("nothing to stop (no state file)")
        return 0
    if _state_alive(state):
        stop_process_group(int(state["pid"]))
        print(f"stopped pid {state['pid']}")
    else:
        print(f"pid {state['pid']} was not running")
    _state_file().unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (Path(state["run_dir"]) / "server.json").unlink()
    return 0


def _cmd_env(args: list[str]) -> int:
    t0 = time.monotonic()
    python = ensure_env()
    model = ensure_model(python)
    print(json.dumps({"python": str(python), "base_model": str(model)}, indent=2))
    _say(f"environment and model ready in {time.monotonic() - t0:.1f}s")
    return 0


def _cmd_probe(args: list[str]) -> int:
    try:
        from backend import probe  # needs tinkex (and httpx): run it with the project venv
    except ImportError as exc:
        raise BackendError(
            f"the probe needs tinkex importable ({exc}); run it with the project venv: "
            ".venv/bin/python -m backend.skyrl probe"
        ) from exc
    return probe.main(args)


COMMANDS = {
    "start": _cmd_start,
    "stop": _cmd_stop,
    "status": _cmd_status,
    "env": _cmd_env,
    "probe": _cmd_probe,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        print(f"usage: python -m backend.skyrl {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except BackendError as exc:
        _say(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
