"""Hostile servers for the limit tests: compression bombs, endless bodies, trickles.

``HostileHandler`` (for ``HTTPServerThread``) answers ``GET /gzip`` with ~1 MB of gzip that
decodes to 1 GiB, ``/zstd`` with ~64 KB of zstd that decodes to 2 GiB, ``/endless`` with a
chunked body that never ends (until the client hangs up, or 20 s), ``/sse-endless`` with one
server-sent event that never ends, ``/sse-many`` with many small events, ``/gzip-ok``, ``/deflate-ok`` and
``/zstd-ok`` with a legitimate compressed answer (``OK_BODY``), and ``/small`` with a small JSON
object. ``Trickle`` is a ``RawServer`` behaviour that sends an answer a byte at a time.
"""

from __future__ import annotations

import functools
import gzip
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler

import zstandard
from tests.runtime._support import read_http_request

MIB = 1 << 20
_ENDLESS_FOR = 20.0  # seconds an endless body goes on at most, whatever the client does


@functools.cache
def gzip_bomb(decoded_mib: int = 1024) -> bytes:
    """~1 KB per MiB of zeros: the same deflate segment repeated (each one ends with a full
    flush, so it refers to nothing before it). The trailer's CRC does not match: a client
    that reads to the end is not protected anyway."""
    zeros = bytes(MIB)
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    return first + segment * (decoded_mib - 1) + c.flush()


@functools.cache
def zstd_bomb(decoded_mib: int = 2048) -> bytes:
    zeros = bytes(MIB)
    c = zstandard.ZstdCompressor(level=1).compressobj()
    return b"".join([*(c.compress(zeros) for _ in range(decoded_mib)), c.flush()])


# A legitimate answer that compresses well: a JSON list of 20,000 numbers (~130 KB).
OK_BODY = ("[" + ",".join(str(i) for i in range(20000)) + "]").encode()


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    return zstandard.ZstdCompressor().compress(data)


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client hung up, as it should
            self.close_connection = True

    def do_GET(self) -> None:
        try:
            self._answer()
        except OSError:  # the client hung up, as it should
            self.close_connection = True

    def _answer(self) -> None:
        if self.path == "/gzip":
            self._send(gzip_bomb(), "application/json", encoding="gzip")
        elif self.path == "/zstd":
            self._send(zstd_bomb(), "application/json", encoding="zstd")
        elif self.path == "/endless":
            self._endless(b"0" * 65536, "application/json")
        elif self.path == "/sse-endless":
            self._endless(b"data: " + b"x" * 65536, "text/event-stream")
        elif self.path in ("/gzip-ok", "/deflate-ok", "/zstd-ok"):
            encoding = self.path[1:].split("-")[0]
            self._send(_compress(OK_BODY, encoding), "application/json", encoding=encoding)
        elif self.path == "/sse-many":
            event = b'data: {"n": 1}\n\n'
            self._send(event * 20000, "text/event-stream")  # 320 KB of 16-byte events
        else:
            self._send(b'{"ok": true}', "application/json")

    def _send(self, body: bytes, ctype: str, *, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _endless(self, piece: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        until = time.monotonic() + _ENDLESS_FOR
        while time.monotonic() < until:
            self.wfile.write(chunk)
        self.close_connection = True


class Trickle:
    """A ``RawServer`` behaviour: read the request, then send ``answer`` (a full head plus a
    long body) one byte every ``interval`` seconds, from byte ``fast`` on (the bytes before it
    at once), until the client hangs up, ``stop`` is set or ``limit`` seconds have passed."""

    def __init__(self, answer: bytes, *, fast: int = 0, interval: float = 0.5) -> None:
        self.answer = answer
        self.fast = fast
        self.interval = interval
        self.stop = threading.Event()
        self.limit = 40.0

    def __call__(self, conn: socket.socket, _index: int) -> None:
        read_http_request(conn)
        conn.sendall(self.answer[: self.fast])
        until = time.monotonic() + self.limit
        for i in range(self.fast, len(self.answer)):
            if self.stop.wait(self.interval) or time.monotonic() > until:
                return
            conn.sendall(self.answer[i : i + 1])


def json_head(status: int = 200, length: int = 100_000, reason: str = "OK") -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
