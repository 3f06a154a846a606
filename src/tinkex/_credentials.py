"""Where the API key comes from when it is not passed: the key resolution shared by the
clients and the ``tinkex auth`` commands.

The order, first found wins:

1. the ``api_key`` argument (``--api-key`` in the CLI);
2. ``$TINKER_API_KEY``;
3. ``$TINKER_CREDENTIAL_CMD``: a command whose standard output is the key, split like a shell
   line but run without a shell, once per client, within :data:`CREDENTIAL_CMD_TIMEOUT`
   seconds;
4. the default key of the credential file, ``~/.tinker/credentials.json``: the file and format
   the official ``tinker auth login`` writes, so a login with either tool serves both.

The file holds ``{"version": 1, "default": ID, "keys": {ID: {"type": "manual", "key": ...,
"name": ..., ...}}}``; it is written with mode 0600 in a directory with mode 0700, through a
temporary file renamed into place, and records this module does not know are kept as read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdkgen.runtime import ConfigError

__all__ = [
    "API_KEY_ENV",
    "CREDENTIAL_CMD_ENV",
    "CREDENTIAL_CMD_TIMEOUT",
    "CredentialStore",
    "FoundKey",
    "default_credentials_path",
    "find_api_key",
    "resolve_api_key",
    "run_credential_command",
]

API_KEY_ENV = "TINKER_API_KEY"
CREDENTIAL_CMD_ENV = "TINKER_CREDENTIAL_CMD"
#: Seconds the credential command may take before it is stopped and the client refuses to start.
CREDENTIAL_CMD_TIMEOUT = 30.0


def default_credentials_path() -> Path:
    """The credential file, ``~/.tinker/credentials.json`` (the official CLI's location).

    Example::

        default_credentials_path()  # PosixPath('/home/ada/.tinker/credentials.json')
    """
    return Path("~/.tinker/credentials.json").expanduser()


class CredentialStore:
    """The credential file: named keys and the name of the default one.

    Args:
        path: the file (default: :func:`default_credentials_path`).

    Example::

        store = CredentialStore()
        store.add("7", {"type": "manual", "key": "tml-...", "name": "laptop"}, default=True)
        store.default_key()  # ('7', {...})
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_credentials_path()

    def load(self) -> dict[str, Any]:
        """The file's document (an empty one when there is no file)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": 1, "default": None, "keys": {}}
        except OSError as err:
            raise ConfigError(f"cannot read the credential file {self.path}: {err}") from None
        try:
            doc = json.loads(raw)
        except ValueError as err:
            raise ConfigError(f"the credential file {self.path} is not JSON: {err}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys", {}), dict):
            raise ConfigError(f"the credential file {self.path} has no 'keys' object")
        doc.setdefault("keys", {})
        return doc

    def default_key(self) -> tuple[str, dict[str, Any]] | None:
        """The default key's id and record, or None."""
        doc = self.load()
        key_id = doc.get("default")
        record = doc["keys"].get(key_id) if isinstance(key_id, str) else None
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            return None
        return key_id, record  # type: ignore[return-value]

    def add(self, key_id: str, record: Mapping[str, Any], *, default: bool = True) -> None:
        """Store ``record`` under ``key_id`` (replacing one of that id), the default if asked."""
        doc = self.load()
        doc["keys"][key_id] = dict(record)
        if default:
            doc["default"] = key_id
        self._save(doc)

    def remove(self, key_id: str) -> None:
        """Remove the key ``key_id`` (and the default, when it named that key)."""
        doc = self.load()
        doc["keys"].pop(key_id, None)
        if doc.get("default") == key_id:
            doc["default"] = None
        self._save(doc)

    def _save(self, doc: dict[str, Any]) -> None:
        directory = self.path.parent
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)  # mkdir's mode is masked by the umask
        # The file holds live keys: it is never visible half-written or readable by others.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                clean = {k: v for k, v in doc.items() if v is not None}
                f.write(json.dumps(clean, indent=2) + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def run_credential_command(command: str, *, timeout: float = CREDENTIAL_CMD_TIMEOUT) -> str:
    """Run ``command`` (split like a shell line, run without a shell) and return what it
    printed, stripped; a failure raises :class:`ConfigError` naming the variable and why.

    Args:
        command: the command line, e.g. ``"vault read -field=key secret/tinker"``.
        timeout: seconds before the command is stopped.

    Example::

        key = run_credential_command("pass show tinker/api-key")
    """
    where = f"${CREDENTIAL_CMD_ENV} ({command!r})"
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise ConfigError(f"{where} cannot be split into a command: {err}") from None
    if not argv:
        raise ConfigError(f"{where} is empty")
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such program {argv[0]!r}") from None
    except PermissionError:
        raise ConfigError(f"{where}: {argv[0]!r} cannot be run (permission denied)") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        said = (done.stderr or "").strip().splitlines()
        why = f": {said[-1]}" if said else ""
        raise ConfigError(f"{where} exited with status {done.returncode}{why}")
    key = done.stdout.strip()
    if not key:
        raise ConfigError(f"{where} printed nothing; it must print the API key")
    return key


@dataclasses.dataclass(frozen=True)
class FoundKey:
    """A key and where it came from (``"argument"``, ``"TINKER_API_KEY"``,
    ``"TINKER_CREDENTIAL_CMD"`` or the credential file's path)."""

    key: str
    source: str


def find_api_key(
    api_key: str | None = None, environ: Mapping[str, str] | None = None
) -> FoundKey | None:
    """The key by the resolution order of this module, and its source; None if there is none.

    Args:
        api_key: a key given explicitly.
        environ: the environment (default: ``os.environ``).

    Example::

        found = find_api_key()
        print(found.source if found else "no key")
    """
    env = os.environ if environ is None else environ
    if api_key:
        return FoundKey(api_key, "argument")
    if env.get(API_KEY_ENV, "").strip():
        return FoundKey(env[API_KEY_ENV].strip(), API_KEY_ENV)
    command = env.get(CREDENTIAL_CMD_ENV, "").strip()
    if command:
        return FoundKey(run_credential_command(command), CREDENTIAL_CMD_ENV)
    store = CredentialStore()
    stored = store.default_key()
    if stored is not None:
        return FoundKey(stored[1]["key"].strip(), str(store.path))
    return None


def resolve_api_key(
    api_key: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The key a client is made with: ``api_key`` itself when given or when
    ``$TINKER_API_KEY`` is set (the settings read it, and name it in their errors), else the
    credential command's or the credential file's key, else None.

    Args:
        api_key: the client's ``api_key`` argument.
        environ: the environment (default: ``os.environ``).

    Example::

        key = resolve_api_key(None)  # e.g. the key stored by 'tinkex auth login'
    """
    env = os.environ if environ is None else environ
    if api_key is not None or env.get(API_KEY_ENV, "").strip():
        return api_key
    found = find_api_key(None, env)
    return found.key if found is not None else None
