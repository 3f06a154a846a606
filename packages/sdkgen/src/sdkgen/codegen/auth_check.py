"""Checks of `api.auth` beyond what the typed model can say: header names that are HTTP tokens,
and several credentials that would overwrite each other on the wire."""

from __future__ import annotations

import re
from collections.abc import Callable

from .loader import Key
from .manifest import Auth, auth_list

__all__ = ["check_auth"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _where(auth: Auth) -> str:
    """What a credential occupies on the wire: a header (case-insensitive) or a query name."""
    if auth.scheme == "query":
        return f"query parameter `{auth.query}`"
    header = "Authorization" if auth.scheme == "basic" else auth.header or ""
    return f"header `{header.lower()}`"


def check_auth(auth: Auth | list[Auth] | None, add: Callable[[Key, str], None]) -> None:
    """Report bad header names and clashes among the credentials through ``add(path, message)``.

    Example::

        check_auth(manifest.api.auth, checker.add)
    """
    schemes = auth_list(auth)
    many = isinstance(auth, list)
    if many and not schemes:
        add(("api", "auth"), "an empty list: give at least one credential or remove `auth`")
    seen: dict[str, int] = {}
    envs: dict[str, int] = {}
    for index, scheme in enumerate(schemes):
        base: Key = ("api", "auth", index) if many else ("api", "auth")
        if scheme.header is not None and not _TOKEN.match(scheme.header):
            add((*base, "header"), f"header name `{scheme.header}` is not an HTTP token")
        where = _where(scheme)
        if where in seen:
            add(base, f"{where} is already used by credential {seen[where]}: give each its own")
        seen.setdefault(where, index)
        for key in ("env", "password_env"):
            name = getattr(scheme, key)
            if name is None:
                continue
            if name in envs:
                add(
                    (*base, key), f"environment variable `{name}` is read by another credential too"
                )
            envs.setdefault(name, index)
