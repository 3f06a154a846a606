"""``tinkex auth status`` against the fake server."""

from __future__ import annotations

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
