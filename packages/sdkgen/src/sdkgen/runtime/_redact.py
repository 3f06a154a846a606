"""Secret redaction: one place that knows the credentials in use and scrubs them from text.

Every credential the SDK is given (a :class:`~._config.Secret`) is registered here. Error
messages, error bodies, telemetry events and log records (the SDK's own, and those of httpx,
httpcore and stamina, which can quote headers and exceptions) pass through :func:`redact`,
which replaces the key, any prefix of it of :data:`MIN_PREFIX` characters or more, and any
case variant of those, with ``<redacted>``. A prefix is enough to identify a key (servers and
tools print truncated keys), and a server may echo one upper- or lower-cased.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MIN_PREFIX",
    "REDACTED",
    "install_log_redaction",
    "redact",
    "redact_value",
    "watch_logger",
]

REDACTED = "<redacted>"
#: The shortest prefix of a key that is redacted on its own.
MIN_PREFIX = 8
# Shorter "keys" are test values; replacing them everywhere would garble unrelated text.
_MIN_SECRET = 4
# Loggers that can quote a header or an exception holding one: the runtime's, each SDK's own
# (added by ``watch_logger``) and the HTTP stack's. (A filter on a logger sees only records made
# on that very logger, so children are named.)
_LOGGERS = [
    __name__.split(".")[0],
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "hpack.hpack",
    "stamina",
    # the optional Rust transport (pyqwest) and the Rust crates that log through it
    "pyqwest",
    "pyqwest._trio",
    "reqwest",
    "hyper",
    "hyper_util",
]

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # ordered set: longest first once the pattern is built
_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Redact ``value`` (and its prefixes and case variants) from everything from now on.

    Example::

        register_secret("sk-123456789")
        assert "sk-1234" not in redact("key sk-123456789 refused")
    """
    global _pattern
    if len(value) < _MIN_SECRET or value in _secrets:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets[value] = None
        heads = sorted({s[:MIN_PREFIX] for s in _secrets}, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(h) for h in heads), re.IGNORECASE)
    install_log_redaction()


def _extent(text: str, start: int, end: int) -> int:
    """Where a match of some key's head at ``start:end`` ends once extended as far as any
    registered key goes on matching (case-insensitively)."""
    head = text[start:end].lower()
    best = end
    for secret in list(_secrets):
        if secret[:MIN_PREFIX].lower() != head:
            continue
        i, j = end, len(head)
        while i < len(text) and j < len(secret) and text[i].lower() == secret[j].lower():
            i, j = i + 1, j + 1
        best = max(best, i)
    return best


def redact(text: str) -> str:
    """``text`` with every registered key, and every prefix of 8+ characters of one, in any
    case, replaced by ``<redacted>``.

    Example::

        redact(str(err))
    """
    pattern = _pattern
    if pattern is None or not text:
        return text
    out: list[str] = []
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        out.append(text[pos : match.start()])
        out.append(REDACTED)
        pos = _extent(text, match.start(), match.end())
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def redact_value(value: Any) -> Any:
    """``value`` (a decoded body: strings, bytes, mappings, lists) with keys redacted throughout.

    Example::

        body = redact_value({"detail": "bad key sk-123456789"})
    """
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1")
        clean = redact(text)
        return value if clean == text else clean.encode("latin-1")
    if isinstance(value, Mapping):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


class _RedactingFilter(logging.Filter):
    """Rewrites a record whose formatted message holds a key (keeps the record, never drops)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it itself, later
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = _RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers that can quote a key (idempotent).

    Example::

        install_log_redaction()
    """
    for name in tuple(_LOGGERS):
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def watch_logger(name: str) -> None:
    """Redact records made on the logger ``name`` too (an SDK's own logger; idempotent).

    Example::

        watch_logger("my_sdk")
    """
    with _lock:
        if name in _LOGGERS:
            return
        _LOGGERS.append(name)
        armed = bool(_secrets)
    if armed:
        install_log_redaction()
