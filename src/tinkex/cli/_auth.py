"""``tinkex auth status``: is the API key set, and does the server accept it?"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._app import API_KEY_ENV, Context, add_command, add_group
from ._errors import EXIT_OK, CLIError

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "auth",
        common,
        help="check the API key",
        description=(
            "The API key comes from --api-key, else from $TINKER_API_KEY; it is never printed."
        ),
    )
    add_command(
        sub,
        "status",
        common,
        _status,
        help="say where the key comes from and whether the server accepts it",
    )


def _status(ctx: Context) -> int:
    from sdkgen.runtime import AuthenticationError, NotFoundError, PermissionDeniedError

    source = (
        "--api-key" if ctx.args.api_key else API_KEY_ENV if os.environ.get(API_KEY_ENV) else None
    )
    if source is None:
        raise CLIError(f"no API key: pass --api-key or set {API_KEY_ENV}")
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
