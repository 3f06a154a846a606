"""Credentials on the wire: which schemes an API uses, where each value is read from, and how it
is put on a request (a header, ``Authorization: Bearer``/``Basic``, or a query parameter).

The API's first credential keeps its historical home, ``ClientConfig.api_key`` (the ``api_key``
argument or ``$<env>``); every other value (a second credential, a basic-auth password) is kept
in ``ClientConfig.credentials`` under the name of the environment variable it is read from, which
is also its key in the ``credentials=`` argument. Every value is a ``Secret``: registered for
redaction the moment it is read.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

from ._redact import register_secret
from ._spec import APISpec, AuthSpec

__all__ = ["apply_auth", "auth_header_names", "auth_schemes", "credential_names"]


class _SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


def auth_schemes(api: APISpec) -> tuple[AuthSpec, ...]:
    """Every credential ``api`` sends, its primary one (``api.auth``) first.

    Example::

        [a.scheme for a in auth_schemes(API_SPEC)]  # ["raw", "bearer"]
    """
    return ((api.auth,) if api.auth is not None else ()) + api.extra_auth


def credential_names(api: APISpec) -> tuple[str, ...]:
    """The environment variables (and ``credentials=`` keys) of the values kept outside
    ``api_key``: every credential's but the primary's, and every basic-auth password.

    Example::

        credential_names(API_SPEC)  # ("FARM_TOKEN", "FARM_PASSWORD")
    """
    names: list[str] = []
    for index, scheme in enumerate(auth_schemes(api)):
        if index > 0:
            names.append(scheme.env)
        if scheme.password_env is not None:
            names.append(scheme.password_env)
    return tuple(names)


def auth_header_names(api: APISpec) -> tuple[str, ...]:
    """The headers the API's credentials travel in (secret: redacted in logs, dropped on a
    redirect to another origin).

    Example::

        auth_header_names(API_SPEC)  # ("X-API-Key", "Authorization")
    """
    names: list[str] = []
    for scheme in auth_schemes(api):
        if scheme.scheme == "basic":
            names.append("Authorization")
        elif scheme.header is not None and scheme.scheme != "query":
            names.append(scheme.header)
    return tuple(names)


def apply_auth(
    api: APISpec,
    api_key: _SecretLike | None,
    credentials: Mapping[str, _SecretLike],
    headers: MutableMapping[str, str],
    params: MutableMapping[str, Any],
) -> None:
    """Put every credential that has a value on the request being built; one without a value
    (neither argument nor environment) is left out, as a single missing key always was.

    Example::

        apply_auth(API_SPEC, config.api_key, config.credentials, headers, params)
    """
    for index, scheme in enumerate(auth_schemes(api)):
        held = api_key if index == 0 else credentials.get(scheme.env)
        if held is None:
            continue
        value = held.get_secret_value()
        if scheme.scheme == "query":
            params[scheme.query or ""] = value
        elif scheme.scheme == "basic":
            password = credentials.get(scheme.password_env or "")
            pair = f"{value}:{password.get_secret_value() if password else ''}"
            encoded = base64.b64encode(pair.encode()).decode()
            register_secret(encoded)  # the pair is readable from it: redact it too (cheap twice)
            headers["Authorization"] = "Basic " + encoded
        elif scheme.scheme == "bearer":
            headers[scheme.header or "Authorization"] = f"Bearer {value}"
        else:
            headers[scheme.header or ""] = value
