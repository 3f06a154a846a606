"""The argument parser, the shared context of a command, and ``main``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, explain
from ._output import Output

if TYPE_CHECKING:
    from .._rest_client import RestClient
    from .._service_client import ServiceClient

__all__ = ["Context", "build_parser", "main"]

PROG = "tinkex"
API_KEY_ENV = "TINKER_API_KEY"
BASE_URL_ENV = "TINKER_BASE_URL"

Handler = Callable[["Context"], int]

_DESCRIPTION = """\
Manage Tinker checkpoints and training runs, and sample from models, from a terminal; run a
local Tinker server to try it all ('tinkex backend up').

The server comes from --base-url, else TINKER_BASE_URL. The key comes from --api-key, else
TINKER_API_KEY, else the output of TINKER_CREDENTIAL_CMD, else the key stored by
'tinkex auth login' (~/.tinker/credentials.json). Global options may be given before or after
the command.
"""

_EPILOG = """\
examples:
  tinkex checkpoint list --limit 0               every checkpoint you own
  tinkex -f json run list | jq '.training_runs[].training_run_id'
  tinkex checkpoint download tinker://RUN/weights/final --output ./final
  tinkex sample --base-model Qwen/Qwen3-8B --tokens 1,2,3 --max-tokens 16
  tinkex backend up                              a local server (skyrl-tx on CPU)

exit codes: 0 success, 1 the request failed (API, network, disk, rejected input),
            2 usage error (bad or missing options), 130 interrupted
"""


class Context:
    """What a command works with: its arguments, the output, and clients (made on first use
    and closed when the command ends)."""

    def __init__(self, args: argparse.Namespace, out: Output) -> None:
        self.args = args
        self.out = out
        self._service: ServiceClient | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str | None:
        if self._service is not None:
            return self._service.holder.base_url
        if self._base_url is not None:
            return self._base_url
        url: str | None = self.args.base_url or os.environ.get(BASE_URL_ENV) or None
        return url

    def service(self) -> ServiceClient:
        """The ServiceClient of this command (no session is opened until one is needed)."""
        if self._service is None:
            from .._service_client import ServiceClient

            self._service = ServiceClient(
                base_url=self.args.base_url,
                api_key=self.args.api_key,
                timeout=self.args.timeout,
                max_retries=self.args.max_retries,
            )
        return self._service

    def rest(self) -> RestClient:
        return self.service().create_rest_client()

    def use_api_key(self, key: str) -> None:
        """Make the clients of this command with ``key`` (masked in everything written)."""
        if self._service is not None:
            raise RuntimeError("use_api_key() comes before the first client")
        self.args.api_key = key
        if len(key) >= 6:
            self.out.redact_values.append(key)

    def close(self, exc: BaseException | None) -> None:
        service, self._service = self._service, None
        if service is None:
            return
        self._base_url = service.holder.base_url
        from sdkgen.runtime import APIConnectionError

        holder = service.holder
        if isinstance(exc, APIConnectionError) and not holder.session.started:
            # The server is unreachable: draining telemetry to it on close would only retry
            # and hold up the exit for seconds.
            holder.session.telemetry.enabled = False
        if exc is None:
            service.close("success")
        elif isinstance(exc, Exception):
            service.close("errored", type(exc).__name__)
        else:
            service.close("interrupted", type(exc).__name__)


# -- argument parsing ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as ``error: ...`` (exit 2) and secrets masked in its messages."""

    secrets: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        for secret in self.secrets:
            if secret:
                message = message.replace(secret, "***")
        super()._print_message(message, file)


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options. Subcommands get them too (``suppress``: no default there, so that
    a value given before the command is kept unless given again after it)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    def shown(text: str) -> str:
        # Subcommand help lists only --format; 'tinkex --help' documents them all.
        return argparse.SUPPRESS if suppress else text

    group = parser.add_argument_group(
        "global options" if not suppress else "global options (see 'tinkex --help' for all)"
    )
    group.add_argument(
        "-f",
        "--format",
        choices=("table", "json"),
        default=default("table"),
        help="output format: aligned columns for people, or one JSON document (default: table)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=shown(f"the Tinker server (default: ${BASE_URL_ENV}, else the hosted service)"),
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help=shown(
            f"the API key (default: ${API_KEY_ENV}, else the output of $TINKER_CREDENTIAL_CMD, "
            "else the key stored by 'tinkex auth login'); never printed"
        ),
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        default=default(None),
        help=shown("timeout of each HTTP attempt (default: $TINKER_TIMEOUT, else 60)"),
    )
    group.add_argument(
        "--max-retries",
        metavar="N",
        type=non_negative_int,
        default=default(None),
        help=shown(
            "retries of a failed request (default: $TINKER_MAX_RETRIES, else the API's policy)"
        ),
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help=shown("log requests and show the traceback of an error"),
    )


def build_parser(secrets: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The whole command tree."""
    from . import (
        _auth,
        _backend,
        _billing,
        _checkpoint,
        _metrics,
        _model,
        _run,
        _sample,
        _session,
    )

    _Parser.secrets = secrets
    parser = _Parser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=_version_text())
    _add_global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _add_global_options(common, suppress=True)

    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True
    version = commands.add_parser(
        "version",
        parents=[common],
        help="print the versions of tinkex and of the Tinker API it speaks",
        description="Print the versions of tinkex and of the Tinker API it speaks.",
    )
    version.set_defaults(handler=_version)
    _checkpoint.register(commands, common)
    _run.register(commands, common)
    _session.register(commands, common)
    _sample.register(commands, common)
    _model.register(commands, common)
    _auth.register(commands, common)
    _billing.register(commands, common)
    _metrics.register(commands, common)
    _backend.register(commands, common)
    return parser


def _wrap(text: str) -> str:
    return "\n\n".join(textwrap.fill(p, width=88) for p in text.split("\n\n"))


def add_group(
    commands: Any, name: str, common: argparse.ArgumentParser, *, help: str, description: str
) -> Any:
    """A command group (``checkpoint``, ``run``, ...); returns its subcommand collection."""
    group = commands.add_parser(
        name,
        parents=[common],
        help=help,
        description=_wrap(description),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(title="commands", dest="subcommand", metavar="COMMAND")
    sub.required = True
    return sub


def add_command(
    sub: Any,
    name: str,
    common: argparse.ArgumentParser,
    handler: Handler,
    *,
    help: str,
    description: str | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common],
        help=help,
        description=_wrap(description or help[0].upper() + help[1:] + "."),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


# -- commands without a server ---------------------------------------------------------------


def _versions() -> dict[str, str]:
    from .._generated.api import API_SPEC
    from .._version import sdk_version

    return {
        "tinkex": sdk_version(),
        "api": API_SPEC.version,
        "python": ".".join(map(str, sys.version_info[:3])),
    }


def _version_text() -> str:
    v = _versions()
    return f"tinkex {v['tinkex']} (Tinker API {v['api']}, Python {v['python']})"


def _version(ctx: Context) -> int:
    if ctx.out.json:
        ctx.out.emit_json(_versions())
    else:
        ctx.out.line(_version_text())
    return EXIT_OK


# -- main ------------------------------------------------------------------------------------


def _secrets(argv: Sequence[str]) -> list[str]:
    """The API key wherever it may come from, to mask it in everything written."""
    found = [os.environ.get(API_KEY_ENV, "").strip()]
    for i, arg in enumerate(argv):
        # --api-key, an abbreviation of it, or a misspelling (--apikey, --api_key): whatever
        # follows may be the key, and argparse may quote it back in an error message.
        name, eq, value = arg.partition("=")
        if not name.startswith("--api") and name != "--key":
            continue
        if eq:
            found.append(value)
        elif i + 1 < len(argv):
            found.append(argv[i + 1])
    found.append(_stored_key())
    # Masking a very short value would garble the output more than it protects anything.
    return [s for s in found if len(s) >= 6]


def _stored_key() -> str:
    """The credential file's default key ('' when none or unreadable), to mask it too."""
    from .._credentials import CredentialStore

    try:
        stored = CredentialStore().default_key()
    except Exception:  # a broken file is reported when a client reads it, not here
        return ""
    return str(stored[1]["key"]).strip() if stored is not None else ""


class _RedactingFormatter(logging.Formatter):
    def __init__(self, out: Output) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.out = out

    def format(self, record: logging.LogRecord) -> str:
        return self.out.redact(super().format(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr`` (which tests may swap)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinkex`` command; returns its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    secrets = _secrets(args_list)
    parser = build_parser(secrets)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as stop:  # --help, --version, and usage errors
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    out = Output(args.format, redact=[*secrets, args.api_key or ""])
    ctx = Context(args, out)

    logger = logging.getLogger("tinkex")
    handler = _StderrHandler()
    handler.setFormatter(_RedactingFormatter(out))
    handler.setLevel(logging.DEBUG if args.debug else logging.WARNING)
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.propagate = False
    if args.debug:
        logger.setLevel(logging.DEBUG)
    # stamina logs each scheduled retry; the error message already counts the attempts.
    retries = logging.getLogger("stamina")
    saved_retries = (retries.level, retries.propagate)
    retries.addHandler(handler)
    retries.propagate = False
    retries.setLevel(logging.DEBUG if args.debug else logging.ERROR)

    failure: BaseException | None = None
    code = EXIT_OK
    try:
        code = args.handler(ctx)
    except (Exception, KeyboardInterrupt) as exc:
        failure = exc
    try:
        # Close first, so that the error (or the result) is the last thing written.
        try:
            ctx.close(failure)
        except Exception as exc:  # closing must not hide the command's own outcome
            out.note(f"warning: closing the client failed: {exc}")
        if isinstance(failure, BrokenPipeError):
            # The reader went away (`tinkex ... | head`): nobody is left to tell.
            _silence_stdout()
            return EXIT_FAILURE
        if failure is not None:
            code, message = explain(failure, base_url=_safe_base_url(ctx))
            if args.debug:
                trace = "".join(traceback.format_exception(failure))
                out.stderr.write(out.redact(trace))
            out.error(message)
        return code
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        retries.removeHandler(handler)
        retries.setLevel(saved_retries[0])
        retries.propagate = saved_retries[1]


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass  # not a real file (captured in tests): nothing to flush at exit


def _safe_base_url(ctx: Context) -> str | None:
    try:
        return ctx.base_url
    except Exception:
        return None
