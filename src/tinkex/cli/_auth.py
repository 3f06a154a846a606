"""``tinkex auth ...``: store the API key (login, logout), and ask the server about it (status,
whoami).

The key of a command comes from, first found: ``--api-key``, ``$TINKER_API_KEY``,
``$TINKER_CREDENTIAL_CMD`` (a command printing the key, run without a shell), the credential
file ``~/.tinker/credentials.json`` that ``tinkex auth login`` and the official
``tinker auth login`` both write (see ``tinkex._credentials``).
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from typing import TYPE_CHECKING, Any

from . import _output
from ._app import API_KEY_ENV, Context, add_command, add_group
from ._errors import EXIT_OK, CLIError, UsageError, route_missing

if TYPE_CHECKING:
    from .._credentials import FoundKey
    from .._generated import models

__all__ = ["register"]

_NO_KEY = (
    f"no API key: pass --api-key, set {API_KEY_ENV}, set TINKER_CREDENTIAL_CMD, "
    "or run 'tinkex auth login'"
)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "auth",
        common,
        help="log in and out, and check the API key",
        description=(
            "The API key comes from --api-key, else $TINKER_API_KEY, else the output of "
            "$TINKER_CREDENTIAL_CMD (a command run without a shell), else the default key of "
            "~/.tinker/credentials.json (written by 'tinkex auth login' and by the official "
            "'tinker auth login'). It is never printed."
        ),
    )
    add_command(
        sub,
        "login",
        common,
        _login,
        help="check an API key with the server and store it as the default credential",
        description="Check an API key with the server and store it as the default credential "
        "in ~/.tinker/credentials.json (mode 0600). The key is read from --api-key, else asked "
        "for without echo on a terminal, else read as one line from stdin.",
        epilog="examples:\n  tinkex auth login\n  pass show tinker | tinkex auth login",
    )
    add_command(
        sub,
        "logout",
        common,
        _logout,
        help="remove the stored default credential",
        description="Remove the default credential from ~/.tinker/credentials.json. A key "
        "pasted at login stays valid on the server; delete it in the console if it must stop "
        "working.",
    )
    add_command(
        sub,
        "status",
        common,
        _status,
        help="say where the key comes from and whether the server accepts it",
    )
    add_command(
        sub,
        "whoami",
        common,
        _whoami,
        help="show the user, organisation and key name of the key in use",
    )


def _find_key(ctx: Context) -> FoundKey:
    """The key of this command and its source (running the credential command at most once)."""
    from .._credentials import find_api_key

    found = find_api_key(ctx.args.api_key)
    if found is None:
        raise CLIError(_NO_KEY)
    ctx.use_api_key(found.key)
    return found


def _source(found: FoundKey) -> str:
    return "--api-key" if found.source == "argument" else found.source


def _describe_key(ctx: Context) -> models.SelfApiKeyResponse:
    """What the server knows of the key (raises the API's errors)."""
    return ctx.rest().get_current_api_key().result()


# -- login / logout --------------------------------------------------------------------------


def _read_key(ctx: Context) -> str:
    if ctx.args.api_key:
        return str(ctx.args.api_key).strip()
    if _output.isatty(sys.stdin):
        return getpass.getpass("Paste your API key: ", stream=sys.stderr).strip()
    return sys.stdin.readline().strip()


def _login(ctx: Context) -> int:
    from sdkgen.runtime import AuthenticationError, NotFoundError, PermissionDeniedError

    from .._credentials import CredentialStore

    store = CredentialStore()
    stored = store.default_key()
    if stored is not None:
        raise CLIError(
            f"already logged in (key {stored[1].get('name', stored[0])!r} in {store.path}); "
            "run 'tinkex auth logout' first"
        )
    key = _read_key(ctx)
    if not key:
        raise UsageError("no API key given: paste one at the prompt, pipe it, or pass --api-key")
    ctx.use_api_key(key)
    host = socket.gethostname().split(".", 1)[0] or "unknown"
    try:
        described = _describe_key(ctx)
    except (AuthenticationError, PermissionDeniedError) as err:
        raise CLIError(
            f"the server at {ctx.base_url} refused the key: {err.detail}; nothing was stored"
        ) from err
    except NotFoundError as err:
        if not route_missing(err):
            raise
        # A self-hosted server: it cannot describe keys, so the key is stored unchecked.
        key_id = f"tinkex-{host}"
        record: dict[str, Any] = {
            "type": "manual",
            "key": key,
            "name": f"tinkex-cli-{host}",
            "note": f"not checked: {ctx.base_url} has no key endpoint",
        }
        who = f"an unchecked key ({ctx.base_url} cannot describe keys)"
    else:
        key_id = str(described.key_id)
        record = {
            "type": "manual",
            "key": key,
            "name": described.name,
            "note": described.note,
            "details": described.details.model_dump(mode="json"),
        }
        details = described.details
        who = f"{details.user_details.email} ({details.org_details.name})"
    store.add(key_id, record, default=True)
    if ctx.out.json:
        ctx.out.emit_json(
            {"logged_in": True, "key_id": key_id, "name": record["name"], "file": str(store.path)}
        )
    else:
        ctx.out.line(
            f"logged in as {who}; stored key {record['name']!r} as the default credential "
            f"in {store.path}"
        )
    return EXIT_OK


def _logout(ctx: Context) -> int:
    from .._credentials import CredentialStore

    store = CredentialStore()
    stored = store.default_key()
    if stored is None:
        raise CLIError(f"no default credential in {store.path}: nothing to log out from")
    key_id, record = stored
    revoked = False
    if record.get("type") == "generated":
        # Only a key minted for this machine is revoked; a pasted key may be used elsewhere.
        ctx.use_api_key(record["key"])
        service = ctx.service()
        holder = service.holder
        holder.submit(holder.api.auth.revoke_current_api_key(), "revoke_current_api_key").result()
        revoked = True
    store.remove(key_id)
    name = record.get("name", key_id)
    if ctx.out.json:
        ctx.out.emit_json({"logged_out": True, "key_id": key_id, "revoked": revoked})
    elif revoked:
        ctx.out.line(f"removed credential {name!r} and revoked its key on the server")
    else:
        ctx.out.line(
            f"removed credential {name!r} from {store.path}; the key itself is still valid on "
            "the server (delete it in the console if it should stop working)"
        )
    return EXIT_OK


# -- status / whoami -------------------------------------------------------------------------


def _status(ctx: Context) -> int:
    from sdkgen.runtime import AuthenticationError, NotFoundError, PermissionDeniedError

    source = _source(_find_key(ctx))
    rest = ctx.rest()
    key: Any = None
    try:
        try:
            key = rest.get_current_api_key().result()
        except NotFoundError:  # a server that cannot describe keys: a request that needs one
            rest.get_server_capabilities().result()
    except (AuthenticationError, PermissionDeniedError) as err:
        raise CLIError(
            f"the server at {ctx.base_url} refused the key from {source}: {err.detail}"
        ) from err
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "base_url": ctx.base_url,
                "key_source": source,
                "accepted": True,
                "key": key.model_dump(mode="json") if key is not None else None,
            }
        )
        return EXIT_OK
    rows: list[tuple[str, Any]] = [
        ("server", ctx.base_url),
        ("key from", source),
        ("accepted", "yes"),
    ]
    if key is not None:
        rows += [
            ("key name", key.name),
            ("key id", key.key_id),
            ("organisation", key.details.org_details.name),
            ("user", key.details.user_details.email),
        ]
    else:
        rows.append(("key details", "the server does not describe keys"))
    ctx.out.fields(rows)
    return EXIT_OK


def _whoami(ctx: Context) -> int:
    from sdkgen.runtime import NotFoundError

    source = _source(_find_key(ctx))
    try:
        key = _describe_key(ctx)
    except NotFoundError as err:
        if route_missing(err):
            raise CLIError(
                f"{ctx.base_url} has no get_current_api_key endpoint (404 on the route itself): "
                "this server cannot say whom the key belongs to"
            ) from err
        raise
    if ctx.out.json:
        ctx.out.emit_json({"key_source": source, **key.model_dump(mode="json")})
        return EXIT_OK
    ctx.out.fields(
        [
            ("email", key.details.user_details.email),
            ("organisation", key.details.org_details.name),
            ("key name", key.name),
            ("key id", key.key_id),
            ("key from", source),
        ]
    )
    return EXIT_OK
