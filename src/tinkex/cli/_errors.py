"""Turning every failure into one readable line and an exit code.

Exit codes: 0 success, 1 the work failed (the API, the network, the disk, or input that the
server or the SDK rejected), 2 the command line was wrong (argparse errors, missing options,
bad settings), 130 interrupted.
"""

from __future__ import annotations

import errno
from typing import Any

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "UsageError",
    "explain",
    "route_missing",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A failure with its message already worded for the user."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CLIError):
    """The command line cannot work as given (exit 2)."""

    exit_code = EXIT_USAGE


def explain(exc: BaseException, *, base_url: str | None) -> tuple[int, str]:
    """The exit code and the one-line message for ``exc``."""
    from sdkgen.runtime import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        ClientClosedError,
        ConfigError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        RequestFailedError,
        SDKError,
        ServerUnreachableError,
    )

    server = base_url or "the server"
    if isinstance(exc, CLIError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, ConfigError):
        return EXIT_USAGE, f"invalid setting: {exc}"
    if isinstance(exc, AuthenticationError):
        return EXIT_FAILURE, (
            f"{server} rejected the API key (401): pass a valid key with --api-key, set "
            "TINKER_API_KEY, or run `tinkex auth login`"
        )
    if isinstance(exc, PermissionDeniedError):
        return EXIT_FAILURE, f"permission denied by {server} (403): {_detail(exc)}"
    if isinstance(exc, PaymentRequiredError):
        return EXIT_FAILURE, f"{server} cannot bill this account (402): {_detail(exc)}"
    if isinstance(exc, APIStatusError) and route_missing(exc):
        return EXIT_FAILURE, _no_route(exc, server)
    if isinstance(exc, NotFoundError):
        return EXIT_FAILURE, f"not found (404): {_detail(exc)}"
    if isinstance(exc, APITimeoutError):
        return EXIT_FAILURE, (
            f"{server} did not answer in time ({exc}); try a larger --timeout or check the server"
        )
    if isinstance(exc, ServerUnreachableError):  # already one line: URL, DNS or refused, fix
        return EXIT_FAILURE, str(exc)
    if isinstance(exc, APIConnectionError):
        return EXIT_FAILURE, (
            f"cannot reach {server} ({exc}); check --base-url / TINKER_BASE_URL and the network"
        )
    if isinstance(exc, RequestFailedError):
        return EXIT_FAILURE, f"the server failed the request ({exc.category} error): {exc.detail}"
    if isinstance(exc, APIStatusError) and exc.status_code == 405:
        return EXIT_FAILURE, f"{server} does not support this request (405): {exc}"
    if isinstance(exc, APIStatusError):
        return EXIT_FAILURE, f"{server} answered with an error: {exc}"
    if isinstance(exc, APIError):
        return EXIT_FAILURE, f"API call failed: {exc}"
    if isinstance(exc, ClientClosedError):
        return EXIT_FAILURE, f"internal error: {exc}"
    if _is_output_exists(exc):
        return EXIT_FAILURE, f"{exc}".replace("force=True", "--force")
    if isinstance(exc, SDKError):  # e.g. a download refused or failed; the message says why
        return EXIT_FAILURE, str(exc)
    if isinstance(exc, FileExistsError):
        where = exc.filename or "the output directory"
        return EXIT_FAILURE, f"{where} already exists; pass --force to replace it"
    if isinstance(exc, PermissionError):
        where = exc.filename or "the output directory"
        return EXIT_FAILURE, f"cannot write to {where}: permission denied; choose another --output"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = exc.filename or "the output directory"
        return EXIT_FAILURE, f"no space left on the device of {where}; free some space and retry"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return EXIT_FAILURE, f"{exc.strerror or exc}{where}"
    if isinstance(exc, ValueError | ImportError | NotImplementedError):
        return EXIT_FAILURE, str(exc)
    return EXIT_FAILURE, (
        f"unexpected {type(exc).__name__}: {exc} (run with --debug to see the traceback)"
    )


def route_missing(exc: BaseException) -> bool:
    """Whether ``exc`` is a 404 or 405 on the route itself (the server has no such endpoint),
    rather than a 404 about a thing the route looked for (a checkpoint, a run)."""
    from sdkgen.runtime import APIStatusError

    from .._download.fetch import route_absent

    if not isinstance(exc, APIStatusError) or exc.status_code not in (404, 405):
        return False
    return route_absent(exc.status_code, exc.body)


def _no_route(exc: Any, server: str) -> str:
    where = f"; {exc.method} {exc.path}" if exc.method and exc.path else ""
    return (
        f"{server} has no {exc.endpoint or 'such'} endpoint ({exc.status_code} on the route "
        f"itself{where}): this server does not offer this command"
    )


def _detail(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else str(exc)


def _is_output_exists(exc: BaseException) -> bool:
    try:
        from .._download import OutputExistsError
    except ImportError:  # pragma: no cover - a build without downloads
        return False
    return isinstance(exc, OutputExistsError)
