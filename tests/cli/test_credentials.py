"""Where the API key comes from (``tinkex._credentials``): argument > TINKER_API_KEY >
TINKER_CREDENTIAL_CMD > the credential file, for the CLI and for a ServiceClient alike."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.fake_tinker import FakeTinker
from tinkex import ConfigError, ServiceClient
from tinkex._credentials import (
    CREDENTIAL_CMD_ENV,
    find_api_key,
    resolve_api_key,
    run_credential_command,
)

from .conftest import API_KEY, CLI

FILE_KEY = "tml-from-the-credential-file-1234"
CMD_KEY = "tml-from-the-credential-command-5678"


def store_key(key: str = FILE_KEY) -> Path:
    path = Path(os.environ["HOME"]) / ".tinker" / "credentials.json"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    record = {"type": "manual", "key": key, "name": "laptop"}
    path.write_text(json.dumps({"version": 1, "default": "1", "keys": {"1": record}}))
    return path


def printing(text: str) -> str:
    """A command line that prints ``text`` (run without a shell)."""
    return shlex.join([sys.executable, "-c", f"print({text!r})"])


def keys_sent(server: FakeTinker, since: int) -> set[str | None]:
    return {r.headers.get("x-api-key") for r in server.requests[since:]}


def test_the_order_argument_env_command_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_api_key() is None
    path = store_key()
    found = find_api_key()
    assert found is not None
    assert (found.key, found.source) == (FILE_KEY, str(path))
    monkeypatch.setenv(CREDENTIAL_CMD_ENV, printing(CMD_KEY))
    found = find_api_key()
    assert found is not None
    assert (found.key, found.source) == (CMD_KEY, CREDENTIAL_CMD_ENV)
    monkeypatch.setenv("TINKER_API_KEY", API_KEY)
    found = find_api_key()
    assert found is not None
    assert (found.key, found.source) == (API_KEY, "TINKER_API_KEY")
    found = find_api_key("tml-given")
    assert found is not None
    assert (found.key, found.source) == ("tml-given", "argument")
    # With the variable set, the settings read it themselves (and name it in their errors).
    assert resolve_api_key(None) is None
    monkeypatch.delenv("TINKER_API_KEY")
    assert resolve_api_key(None) == CMD_KEY


def test_a_service_client_uses_the_stored_key(fake_tinker_server: FakeTinker) -> None:
    store_key()
    since = len(fake_tinker_server.requests)
    with ServiceClient(base_url=fake_tinker_server.base_url) as service:
        service.create_rest_client().list_training_runs().result()
    assert keys_sent(fake_tinker_server, since) == {FILE_KEY}


def test_the_cli_uses_the_command_before_the_file(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_key()
    monkeypatch.setenv(CREDENTIAL_CMD_ENV, printing(CMD_KEY))
    since = len(server.requests)
    result = cli("--base-url", server.base_url, "run", "list", base=False)
    assert result.code == 0, result.err
    assert keys_sent(server, since) == {CMD_KEY}
    assert CMD_KEY not in result.all


def test_the_command_runs_without_a_shell() -> None:
    # A shell would expand the variable and run 'false' after the semicolon.
    assert run_credential_command("echo $HOME; false") == "$HOME; false"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("no-such-program-tinkex --x", "no such program 'no-such-program-tinkex'"),
        (
            shlex.join([sys.executable, "-c", "import sys; sys.exit('vault is sealed')"]),
            "exited with status 1: vault is sealed",
        ),
        (printing(""), "printed nothing"),
        ("'unclosed", "cannot be split into a command"),
    ],
)
def test_a_failing_command_is_named_with_why(command: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        run_credential_command(command)
    assert CREDENTIAL_CMD_ENV in str(caught.value)
    assert message in str(caught.value)


def test_a_hanging_command_is_stopped() -> None:
    hang = shlex.join([sys.executable, "-c", "import time; time.sleep(30)"])
    with pytest.raises(ConfigError, match=r"did not finish within 0.5 s"):
        run_credential_command(hang, timeout=0.5)


def test_the_cli_reports_a_failing_command_in_one_line(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CREDENTIAL_CMD_ENV, "no-such-program-tinkex")
    result = cli("--base-url", server.base_url, "run", "list", base=False)
    assert result.code == 2
    assert result.error_line.startswith("error: invalid setting: $TINKER_CREDENTIAL_CMD")
    assert "no such program" in result.error_line
    assert "Traceback" not in result.err


def test_a_broken_credential_file_is_named(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store_key()
    path.write_text("{not json")
    result = cli("--base-url", server.base_url, "run", "list", base=False)
    assert result.code == 2
    assert f"the credential file {path} is not JSON" in result.error_line
