"""The one detached server per cache: started by :func:`up`, recorded in ``server.json``,
checked by :func:`status`, stopped by :func:`down` (``tinkex backend up|status|down``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

from ._common import DEFAULT_PORT, BackendError, PortInUseError, cache_dir, file_lock, say
from ._proc import group_alive, port_taken, proc_start_ticks, stop_process_group
from ._server import Backend, start_backend


@dataclasses.dataclass(frozen=True)
class ServerStatus:
    """What :func:`status` finds.

    Attributes:
        backend: The server :func:`up` recorded, or ``None`` when none is recorded.
        running: Its process is still there (the same process: a reused PID does not count).
        healthy: It answers ``GET /api/v1/healthz``.
        state_file: The record's file, ``<cache>/server.json``.

    Example::

        from tinkex.local import status
        s = status()
        print(s.running and s.backend.base_url)
    """

    backend: Backend | None
    running: bool
    healthy: bool
    state_file: Path

    def to_json(self) -> dict[str, Any]:
        """The status as one JSON object (the record's fields, or ``null`` ones)."""
        record: dict[str, Any] = self.backend.to_json() if self.backend else {}
        record.pop("pid_start", None)
        return {
            "running": self.running,
            "healthy": self.healthy,
            "state_file": str(self.state_file),
            **{k: record.get(k) for k in ("base_url", "base_model", "pid", "port", "log_path")},
            "run_dir": record.get("run_dir"),
            "model_dir": record.get("model_dir"),
        }


def state_file() -> Path:
    """``<cache>/server.json``: the record of the server :func:`up` started.

    Example::

        from tinkex.local import state_file
        print(state_file().exists())
    """
    return cache_dir() / "server.json"


def _read() -> dict[str, Any] | None:
    try:
        data = json.loads(state_file().read_text())
        Backend.from_json(data)  # a record that cannot be read counts as none
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(data)


def _alive(record: dict[str, Any]) -> bool:
    pid = int(record["pid"])
    now = proc_start_ticks(pid)
    if now is None:
        return False
    start = record.get("pid_start")
    if start is not None and now != start:
        return False  # the PID now belongs to another process
    return group_alive(pid)


def status() -> ServerStatus:
    """Whether the server :func:`up` started is running and healthy.

    Example::

        from tinkex.local import status
        print(status().running)
    """
    record = _read()
    if record is None:
        return ServerStatus(None, running=False, healthy=False, state_file=state_file())
    backend = Backend.from_json(record)
    running = _alive(record)
    healthy = running and backend.healthy()
    return ServerStatus(backend, running=running, healthy=healthy, state_file=state_file())


def up(port: int | None = None, timeout: float | None = None) -> Backend:
    """Start a local server that outlives this process (or return the one already running).

    Builds what is missing (minutes the first time, with progress on stderr), starts skyrl-tx
    detached on ``127.0.0.1:<port>``, waits until it is ready and records it in
    ``server.json`` for :func:`status` and :func:`down`.

    Args:
        port: The port (default 8000). When a server already runs on another port,
            :class:`BackendError` says so; a port another program holds raises
            :class:`PortInUseError`.
        timeout: Seconds to wait until ready (see :func:`start_backend`).

    Returns:
        The running server (``base_url``, ``base_model``, ``pid``, ``log_path``, ...).

    Example::

        from tinkex.local import down, up
        backend = up()  # http://127.0.0.1:8000, model "tiny-qwen3"
        ...
        down()
    """
    with file_lock(".server.lock"):
        current = status()
        if current.running and current.backend is not None:
            if port is not None and port != current.backend.port:
                raise BackendError(
                    f"a local backend already runs at {current.backend.base_url} (pid "
                    f"{current.backend.pid}); stop it first (tinkex backend down) to start one "
                    f"on port {port}"
                )
            return current.backend
        use_port = DEFAULT_PORT if port is None else port
        if port_taken(use_port):
            raise PortInUseError(use_port)
        backend = start_backend(timeout=timeout, detach=True, port=use_port)
        text = json.dumps(backend.to_json(), indent=2) + "\n"
        state_file().write_text(text)
        (backend.run_dir / "server.json").write_text(text)
        return backend


def down() -> ServerStatus:
    """Stop the server :func:`up` started, by PID (SIGTERM to its group, SIGKILL after 15 s).

    A record whose process is gone is removed. Nothing recorded: nothing to do.

    Returns:
        The status found before stopping (``running`` says whether there was one to stop).

    Example::

        from tinkex.local import down
        was = down()
        print("stopped" if was.running else "nothing was running")
    """
    with file_lock(".server.lock"):
        found = status()
        if found.backend is None:
            return found
        if found.running:
            stop_process_group(found.backend.pid)
            say(f"skyrl-tx (pid {found.backend.pid}) stopped")
        state_file().unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (found.backend.run_dir / "server.json").unlink()
        return found
