"""Reading a ``multipart/form-data`` body back into its parts, for the tests' assertions (a
deliberately plain splitter: the tests check the exact bytes the runtime frames)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    data: bytes

    @property
    def name(self) -> str | None:
        found = re.search(r'; name="([^"]*)"', self.headers.get("content-disposition", ""))
        return found.group(1) if found else None

    @property
    def filename(self) -> str | None:
        found = re.search(r'; filename="([^"]*)"', self.headers.get("content-disposition", ""))
        return found.group(1) if found else None


def boundary_of(content_type: str) -> str:
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    return content_type.split("boundary=", 1)[1]


def split_parts(content_type: str, body: bytes) -> list[Part]:
    """The parts of ``body``; asserts the framing (CRLFs, closing delimiter) is exact."""
    delimiter = b"--" + boundary_of(content_type).encode()
    assert body.startswith(delimiter + b"\r\n"), body[:80]
    assert body.endswith(delimiter + b"--\r\n"), body[-80:]
    chunks = body[: -len(delimiter) - 4].split(delimiter + b"\r\n")[1:]
    parts = []
    for chunk in chunks:
        assert chunk.endswith(b"\r\n"), chunk[-20:]
        head, sep, data = chunk[:-2].partition(b"\r\n\r\n")
        assert sep, chunk[:80]
        headers = {}
        for line in head.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(": ")
            headers[key.lower()] = value
        parts.append(Part(headers, data))
    return parts
