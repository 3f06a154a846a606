"""Starting skyrl-tx, waiting until it is ready, and stopping it by PID."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._build import ensure_env, ensure_model
from ._common import (
    BACKEND_CONFIG,
    HOST,
    MODEL_ALIAS,
    UV_STANDIN,
    BackendError,
    PortInUseError,
    cache_dir,
    clean_env,
    log_cause,
    offline_env,
    say,
    tail,
)
from ._proc import (
    die_with_parent,
    free_port,
    group_alive,
    http_ok,
    port_taken,
    proc_start_ticks,
    prune_runs,
    stop_process_group,
)

ENGINE_READY_LINE = "Starting background engine"


@dataclasses.dataclass
class Backend:
    """A running local skyrl-tx server.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``: give it to ``ServiceClient(base_url=...)`` or
            ``TINKER_BASE_URL``.
        base_model: The model name requests must send: ``"tiny-qwen3"``.
        model_dir: The model's directory (config, weights, tokenizer files).
        pid: The server's PID, which leads its process group (the engine is in it too).
        port: The port on 127.0.0.1.
        log_path: The server's log (its and the engine's output).
        run_dir: This server's directory: database, checkpoints, logs.
        python: The backend environment's python (it has ``transformers``, ``tokenizers``).
        started_at: When it was started (seconds since the epoch).
        ready_seconds: How long it took to become ready.

    Example::

        from tinkex.local import running_backend
        with running_backend() as backend:
            print(backend.base_url, backend.base_model, backend.pid)
    """

    base_url: str
    base_model: str
    model_dir: Path
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
        """The directory to load the tokenizer from (``AutoTokenizer.from_pretrained``)."""
        return str(self.model_dir)

    def alive(self) -> bool:
        """Whether the server's process (group) is still there."""
        if self._proc is not None:
            return self._proc.poll() is None
        return group_alive(self.pid)

    def healthy(self) -> bool:
        """Whether the server answers ``GET /api/v1/healthz`` now."""
        return http_ok(f"{self.base_url}/api/v1/healthz")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        return tail(self.log_path, lines)

    def stop(self) -> None:
        """SIGTERM the server's process group; SIGKILL it if still there after 15 s."""
        stop_process_group(self.pid, self._proc)

    def to_json(self) -> dict[str, Any]:
        """The record written to ``server.json`` (and read back by :meth:`from_json`)."""
        return {
            "base_url": self.base_url,
            "base_model": self.base_model,
            "model_dir": str(self.model_dir),
            "pid": self.pid,
            "pid_start": proc_start_ticks(self.pid),
            "port": self.port,
            "log_path": str(self.log_path),
            "run_dir": str(self.run_dir),
            "python": str(self.python),
            "started_at": self.started_at,
            "ready_seconds": self.ready_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Backend:
        """A record of :meth:`to_json` (of a server another process started)."""
        return cls(
            base_url=str(data["base_url"]),
            base_model=str(data["base_model"]),
            model_dir=Path(data.get("model_dir") or data["base_model"]),
            pid=int(data["pid"]),
            port=int(data["port"]),
            log_path=Path(data["log_path"]),
            run_dir=Path(data["run_dir"]),
            python=Path(data["python"]),
            started_at=float(data.get("started_at", 0.0)),
            ready_seconds=float(data.get("ready_seconds", 0.0)),
        )


def _link_model(run_dir: Path, model: Path) -> None:
    """``<run_dir>/tiny-qwen3 -> <model dir>``: the server runs in ``run_dir`` with
    ``--base-model tiny-qwen3``, which transformers (and skyrl-tx's engine, started in the same
    directory) load as a relative path, so requests send the short name."""
    link = run_dir / MODEL_ALIAS
    with contextlib.suppress(OSError):
        if link.is_symlink() and Path(os.readlink(link)) == model:
            return
    tmp = run_dir / f".{MODEL_ALIAS}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(model, target_is_directory=True)
    os.replace(tmp, link)


def start_backend(
    timeout: float | None = None,
    run_dir: Path | None = None,
    *,
    detach: bool = False,
    port: int | None = None,
) -> Backend:
    """Build what is missing, start skyrl-tx on 127.0.0.1, wait until it is ready.

    On timeout, early exit or Ctrl-C the server's process group is killed and a
    :class:`BackendError` (or the ``KeyboardInterrupt``) is raised with the log's tail.

    Unless ``detach``, the server also gets SIGTERM when the caller dies, even by SIGKILL
    (Linux ``PR_SET_PDEATHSIG``), so a killed test run leaves no server behind. Linux sends
    that signal when the *thread* that called this ends: start it from a thread that lives
    as long as the server should (the main thread, or one that waits).

    Args:
        timeout: Seconds to wait until ready (default ``$TINKEX_BACKEND_START_TIMEOUT``, else
            300).
        run_dir: The directory for its database, checkpoints and logs (default: a new one
            under ``<cache>/runs``). With ``port``, the ``run_dir`` and ``port`` of an earlier
            server start it again on the same address, database and checkpoints (a restart).
        detach: Keep running after this process ends (no parent-death signal).
        port: The port (default: a free one, retried on another if taken meanwhile). A given
            port that is taken raises :class:`PortInUseError`.

    Returns:
        The running :class:`Backend`; stop it with ``backend.stop()``.

    Example::

        from tinkex.local import start_backend
        backend = start_backend()
        try:
            print(backend.base_url)
        finally:
            backend.stop()
    """
    if timeout is None:
        timeout = float(os.environ.get("TINKEX_BACKEND_START_TIMEOUT", "300"))
    if port is not None and port_taken(port):
        raise PortInUseError(port)
    python = ensure_env()
    model = ensure_model(python)
    if run_dir is None:
        runs = cache_dir() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        prune_runs(runs)
        run_dir = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{free_port()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    bindir = run_dir / "bin"
    bindir.mkdir(exist_ok=True)
    uv = bindir / "uv"
    shutil.copyfile(UV_STANDIN, uv)
    uv.chmod(0o755)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    _link_model(run_dir, model)

    env = clean_env(**offline_env())
    env["PATH"] = os.pathsep.join([str(bindir), str(python.parent), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["TINKEX_SKYRL_PYTHON"] = str(python)
    # JAX's persistent compilation cache: later runs skip most of the 2-5 s compiles per shape.
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(cache_dir() / "jax-cache"))
    env.pop("TX_DATABASE_URL", None)

    last_error: BackendError | None = None
    for _attempt in range(3):  # a port taken between our probe and the server's bind: retry
        use_port = port or free_port()
        # A new log per start: a restart in the same run_dir keeps the earlier server's log.
        log_path = next(
            path
            for n in itertools.count()
            if not (path := run_dir / ("server.log" if n == 0 else f"server.{n}.log")).exists()
        )
        cmd = [
            str(python), "-m", "tx.tinker.api",
            "--host", HOST,
            "--port", str(use_port),
            "--base-model", MODEL_ALIAS,
            "--checkpoints-base", str(run_dir / "checkpoints"),
            "--database-url", f"sqlite:///{run_dir / 'tinker.db'}",
            "--backend", "jax",
            "--backend-config", json.dumps(BACKEND_CONFIG),
        ]  # fmt: skip
        fields: dict[str, Any] = {
            "base_url": f"http://{HOST}:{use_port}",
            "base_model": MODEL_ALIAS,
            "model_dir": model,
            "port": use_port,
            "log_path": log_path,
            "run_dir": run_dir,
            "python": python,
        }
        try:
            return _launch(cmd, env, fields, timeout, detach)
        except BackendError as exc:
            last_error = exc
            if "address already in use" not in tail(log_path, 60).lower():
                raise
            if port is not None:
                raise PortInUseError(port) from exc
            say(f"port {use_port} was taken; retrying on another")
    assert last_error is not None
    raise last_error


def _launch(
    cmd: list[str], env: dict[str, str], fields: dict[str, Any], timeout: float, detach: bool
) -> Backend:
    log_path: Path = fields["log_path"]
    base_url: str = fields["base_url"]
    say(f"starting skyrl-tx on {HOST}:{fields['port']} (log: {log_path})")
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=fields["run_dir"],  # where the model alias's link is
            env=env,
            start_new_session=True,  # its own process group: pgid == pid
            preexec_fn=None if detach else die_with_parent,
        )
    (fields["run_dir"] / "server.pid").write_text(f"{proc.pid}\n")
    backend = Backend(**fields, pid=proc.pid, started_at=time.time(), ready_seconds=0.0, _proc=proc)
    try:
        healthy = False
        deadline = t0 + timeout
        next_note = t0 + 10
        while True:
            if proc.poll() is not None:
                raise BackendError(
                    f"skyrl-tx exited early with code {proc.returncode}{log_cause(log_path)}; "
                    f"log: {log_path}\n"
                    f"--- last lines of {log_path} ---\n{tail(log_path)}"
                )
            if not healthy and http_ok(f"{base_url}/api/v1/healthz"):
                healthy = True
                say(f"healthz answers after {time.monotonic() - t0:.1f}s; waiting for the engine")
            if healthy and ENGINE_READY_LINE in " ".join(tail(log_path, 400).split()):
                break
            now = time.monotonic()
            if now > deadline:
                what = "the engine" if healthy else "healthz"
                raise BackendError(
                    f"skyrl-tx not ready after {timeout:.0f}s (waiting for {what})"
                    f"{log_cause(log_path)}; "
                    f"log: {log_path}\n--- last lines of {log_path} ---\n{tail(log_path)}"
                )
            if now >= next_note:  # never silent for long, on a loaded machine too
                next_note += 10
                what = "the engine" if healthy else "healthz"
                say(f"  still starting ({now - t0:.0f}s; waiting for {what})")
            time.sleep(0.25)
    except BaseException:
        stop_process_group(proc.pid, proc, grace=5)
        raise
    backend.ready_seconds = time.monotonic() - t0
    say(f"skyrl-tx ready at {base_url} in {backend.ready_seconds:.1f}s (pid {proc.pid})")
    return backend


@contextlib.contextmanager
def running_backend(timeout: float | None = None) -> Iterator[Backend]:
    """A local skyrl-tx server for the length of a ``with`` block, always stopped by PID.

    It is stopped on leaving the block, on Ctrl-C, and on SIGTERM to this process (turned into
    ``SystemExit`` while the block runs, when called from the main thread with no handler of
    its own). If this process dies, even by SIGKILL, Linux sends the server SIGTERM too
    (``PR_SET_PDEATHSIG``; it fires when the *thread* that entered the block ends).

    Args:
        timeout: Seconds to wait until ready (see :func:`start_backend`).

    Example::

        import tinkex as tinker
        from tinkex.local import running_backend

        with running_backend() as backend, tinker.ServiceClient(base_url=backend.base_url) as s:
            training = s.create_lora_training_client(backend.base_model, rank=8).result()
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
            say(f"skyrl-tx (pid {backend.pid}) stopped")
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def tokenize(texts: list[str], model_dir: str | Path | None = None) -> list[list[int]]:
    """Token ids of ``texts`` with the tiny model's tokenizer, run by the backend's python.

    tinkex's own environment needs neither ``transformers`` nor ``tokenizers`` for this.

    Args:
        texts: The texts; no special tokens are added.
        model_dir: The model directory (``Backend.tokenizer_dir``); ``None`` or the alias
            ``"tiny-qwen3"`` mean the local tiny model (built if missing).

    Example::

        from tinkex.local import tokenize
        [ids] = tokenize(["The quick brown fox"])
    """
    python = ensure_env()
    if model_dir is None or str(model_dir) == MODEL_ALIAS:
        model_dir = ensure_model(python)
    code = (
        "import json,sys;from transformers import AutoTokenizer;"
        "t=AutoTokenizer.from_pretrained(sys.argv[1]);"
        "print(json.dumps([t.encode(x, add_special_tokens=False) for x in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [str(python), "-c", code, str(model_dir)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=clean_env(**offline_env()),
        check=False,
    )
    if out.returncode != 0:
        raise BackendError(f"tokenizing with {model_dir} failed:\n{out.stderr[-2000:]}")
    return [list(map(int, ids)) for ids in json.loads(out.stdout)]
