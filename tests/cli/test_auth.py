"""``tinkex auth status`` against the fake server."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

from tests.fake_tinker import FakeTinker, faults

from .conftest import API_KEY, CLI

ME = "/api/v1/auth/apikey/me"
KEY = {
    "key_id": 7,
    "name": "laptop",
    "note": "",
    "details": {"org_details": {"name": "Acme Lab"}, "user_details": {"email": "ada@acme.test"}},
}


def test_a_server_that_describes_the_key(cli: CLI, server: FakeTinker) -> None:
    server.inject(ME, faults.status(200, body=KEY), times=2)
    result = cli("auth", "status")
    assert result.code == 0, result.err
    for text in ("--api-key", "laptop", "Acme Lab", "ada@acme.test", server.base_url):
        assert text in result.out
    doc = cli("auth", "status", "-f", "json").json()
    assert doc["accepted"] is True
    assert doc["key_source"] == "--api-key"
    assert doc["key"]["details"]["org_details"]["name"] == "Acme Lab"
    (request, *_) = server.requests_to(ME)
    assert request.headers["x-api-key"] == API_KEY


def test_a_server_that_cannot_describe_keys_is_asked_something_else(
    cli: CLI, server: FakeTinker
) -> None:
    result = cli("auth", "status")  # the fake has no key endpoint: 404
    assert result.code == 0, result.err
    assert "does not describe keys" in result.out
    assert server.requests_to("get_server_capabilities")


def test_a_refused_key_exits_1_naming_where_it_came_from(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject(ME, faults.status(401, body={"detail": "unknown key"}))
    monkeypatch.setenv("TINKER_API_KEY", API_KEY)
    result = cli("--base-url", server.base_url, "auth", "status", base=False)
    assert result.code == 1
    assert "refused the key from TINKER_API_KEY" in result.error_line
    assert "unknown key" in result.error_line


def test_no_key_at_all_says_how_to_give_one(cli: CLI, server: FakeTinker) -> None:
    result = cli("--base-url", server.base_url, "auth", "status", base=False)
    assert result.code == 1
    assert "no API key" in result.error_line
    assert "TINKER_API_KEY" in result.error_line
    assert server.requests_to(ME) == []


# -- login, logout, whoami, and the credential file -------------------------------------------

OFFICIAL_FILE = ".tinker/credentials.json"  # where the official 'tinker auth login' writes


def credential_file() -> Path:
    return Path(os.environ["HOME"]) / OFFICIAL_FILE


def test_login_stores_the_key_where_the_official_cli_does_then_every_command_uses_it(
    cli: CLI, server: FakeTinker
) -> None:
    server.inject(ME, faults.status(200, body=KEY), times=3)
    result = cli("auth", "login")  # the key from --api-key
    assert result.code == 0, result.err
    assert "ada@acme.test (Acme Lab)" in result.out
    path = credential_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The official CLI's format (StoredCredentialsV1): both tools read what either wrote.
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["default"] == "7"
    assert doc["keys"]["7"] == {
        "type": "manual",
        "key": API_KEY,
        "name": "laptop",
        "note": "",
        "details": KEY["details"],
    }
    sent = len(server.requests)
    # No --api-key and no TINKER_API_KEY: the stored key is used, and named as the source.
    result = cli("--base-url", server.base_url, "auth", "whoami", base=False)
    assert result.code == 0, result.err
    assert "ada@acme.test" in result.out
    assert "Acme Lab" in result.out
    assert str(path) in result.out
    listed = cli(
        "--base-url", server.base_url, "checkpoint", "list", "--run-id", "run-a", base=False
    )
    assert listed.code == 0, listed.err
    assert {r.headers.get("x-api-key") for r in server.requests[sent:]} == {API_KEY}


def test_login_reads_a_piped_key_and_refuses_a_second_login(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject(ME, faults.status(200, body=KEY))
    monkeypatch.setattr("sys.stdin", io.StringIO(API_KEY + "\n"))
    result = cli("--base-url", server.base_url, "auth", "login", base=False)
    assert result.code == 0, result.err
    assert server.requests_to(ME)[0].headers["x-api-key"] == API_KEY
    again = cli("auth", "login")
    assert again.code == 1
    assert "already logged in" in again.error_line
    assert "tinkex auth logout" in again.error_line


def test_a_refused_key_is_not_stored(cli: CLI, server: FakeTinker) -> None:
    server.inject(ME, faults.status(401, body={"detail": "unknown key"}))
    result = cli("auth", "login")
    assert result.code == 1
    assert "refused the key" in result.error_line
    assert "nothing was stored" in result.error_line
    assert not credential_file().exists()


def test_login_on_a_server_without_the_key_route_stores_the_key_unchecked(
    cli: CLI, server: FakeTinker
) -> None:
    result = cli("auth", "login")  # the fake has no key endpoint: 404 "Not Found"
    assert result.code == 0, result.err
    assert "unchecked" in result.out
    doc = json.loads(credential_file().read_text())
    (record,) = doc["keys"].values()
    assert record["key"] == API_KEY
    assert record["type"] == "manual"


def test_whoami_on_a_server_without_the_route_says_so(cli: CLI, server: FakeTinker) -> None:
    result = cli("auth", "whoami")
    assert result.code == 1
    assert "has no get_current_api_key endpoint (404 on the route itself)" in result.error_line


def test_logout_removes_the_default_key_and_keeps_other_records(
    cli: CLI, server: FakeTinker
) -> None:
    path = credential_file()
    path.parent.mkdir(mode=0o700)
    other = {"type": "manual", "key": "tml-other-key-000", "name": "ci"}
    mine = {"type": "manual", "key": API_KEY, "name": "laptop"}
    path.write_text(json.dumps({"version": 1, "default": "7", "keys": {"7": mine, "9": other}}))
    result = cli("--base-url", server.base_url, "auth", "logout", base=False)
    assert result.code == 0, result.err
    assert "'laptop'" in result.out
    assert "still valid on the server" in result.out
    doc = json.loads(path.read_text())
    assert "default" not in doc
    assert doc["keys"] == {"9": other}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = cli("auth", "logout")
    assert again.code == 1
    assert "nothing to log out from" in again.error_line
    # A pasted key is not revoked on the server (it may be in use elsewhere).
    assert not [r for r in server.requests if r.method == "DELETE" and r.path == ME]
