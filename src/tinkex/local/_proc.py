"""Processes and ports: free ports, process groups stopped by PID, the parent-death signal."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ._common import HOST, say

STOP_GRACE_SECONDS = 15.0
KEEP_RUNS = 5


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_taken(port: int) -> bool:
    """Whether another program holds ``port`` on 127.0.0.1 (binds as the server will, with
    ``SO_REUSEADDR``, so a socket of an earlier server in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def proc_start_ticks(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): tells a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group ``pgid`` is left."""
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
        return not group_alive(pid)

    if gone():
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.1)
    say(f"server group {pid} still up {grace:.0f}s after SIGTERM: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the server when the thread that started it ends (``PR_SET_PDEATHSIG``).

    The kernel sends it when the *thread* that forked the child exits, not only the process:
    a server started from a short-lived thread dies with that thread.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of ``url`` answers 2xx within ``timeout``."""
    import urllib.error  # here: urllib.request costs milliseconds at import (http, ssl)
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def prune_runs(runs: Path) -> None:
    """Remove all but the newest :data:`KEEP_RUNS` run directories whose server is gone."""
    try:
        old = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for p in old[:-KEEP_RUNS]:
        try:  # a server may still be using it
            if group_alive(int((p / "server.pid").read_text())):
                continue
        except (OSError, ValueError):
            pass
        shutil.rmtree(p, ignore_errors=True)
