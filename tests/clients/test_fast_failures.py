"""Issue 14, "fast, clear failures", as a user meets them: a missing key fails before any
request, a wrong URL (closed port, unresolvable host) fails in seconds with one line saying
what to check, no stamina warnings by default, and ``TINKER_LOG`` honoured."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

import tinkex as tinker
from tests.fake_tinker import FakeTinker

from .conftest import ServiceFactory

#: A bound only a retry loop of a minute would pass (no tight timing: the machine may be busy).
GENEROUS = 30.0

PROBE = """
import sys, tinkex
try:
    tinkex.ServiceClient(base_url=sys.argv[1], api_key="tml-test-key").get_server_capabilities()
except Exception as err:
    print(f"{type(err).__name__}: {err}")
"""


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(code: str, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TINKER_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def test_a_closed_port_fails_fast_with_one_clear_line() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done, took = _run(PROBE, url)
    assert took < GENEROUS, (took, done.stdout)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith(f"ServerUnreachableError: could not reach {url}: connection refused")
    assert "TINKER_BASE_URL" in lines[0]
    assert "stamina" not in done.stderr  # retries are tinkex's to report, at INFO
    assert "retrying" not in done.stderr  # and INFO is not shown by default


def test_an_unresolvable_host_fails_fast_and_says_dns() -> None:
    # ".invalid" never resolves (RFC 2606): the resolver says so without the network.
    url = "http://tinkex-fast-failure.invalid:8000"
    done, took = _run(PROBE, url)
    assert took < GENEROUS, (took, done.stdout)
    assert f"could not reach {url}: the host name does not resolve (DNS)" in done.stdout
    assert "stamina" not in done.stderr


def test_tinker_log_info_shows_the_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    done, _ = _run(PROBE, url, TINKER_LOG="info")
    assert "INFO] retrying get_server_capabilities" in done.stderr  # a handler was added
    assert "stamina" not in done.stderr


def test_tinker_log_sets_the_sdk_loggers_level() -> None:
    code = (
        "import logging, tinkex\n"
        "tinkex.ServiceClient(base_url='http://127.0.0.1:9')\n"
        "print(logging.getLogger('tinkex').getEffectiveLevel())\n"
        "logging.getLogger('tinkex').debug('probe line')\n"
    )
    debug, _ = _run(code, TINKER_LOG="debug")
    assert debug.stdout.split() == ["10"]
    assert "probe line" in debug.stderr
    unset, _ = _run(code)
    assert unset.stdout.split() == ["30"]
    assert "probe line" not in unset.stderr


def test_no_key_for_the_hosted_api_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TINKER_API_KEY")
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    started = time.monotonic()
    with pytest.raises(tinker.ConfigError) as caught:
        tinker.ServiceClient(transport=httpx.MockTransport(record))
    assert time.monotonic() - started < GENEROUS
    text = str(caught.value)
    assert text.startswith("api_key must be set")  # the official SDK's words, then the fix
    assert "TINKER_API_KEY" in text
    assert "api_key=" in text
    assert "tinkex auth login" in text  # the manifest's missing_help: the other way to a key
    assert not sent


def test_a_local_server_needs_no_key(
    make_service: ServiceFactory, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TINKER_API_KEY")
    service = make_service(server)  # the fake server listens on 127.0.0.1
    assert service.get_server_capabilities().supported_models is not None
