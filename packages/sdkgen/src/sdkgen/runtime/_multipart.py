"""Multipart bodies (``multipart/form-data``, RFC 7578): a request's fields as parts, its files
streamed from where they are.

The parts are planned once per call, before anything is sent: every value is checked (a file
field takes bytes, a path, a seekable binary file object, or a ``(filename, content[,
content_type])`` tuple), and every file's size is fixed then, so the body has a
``Content-Length``. Each attempt iterates :class:`MultipartBody` afresh: a path is opened
again and a file object is moved back to where it stood when the call began, so a retry sends
the same bytes. Memory holds one chunk of a file at a time, never the file.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TypeAlias

import httpx
from pydantic import BaseModel

__all__ = ["FileContent", "FileInput", "MultipartBody", "encode_multipart_body"]

FileContent: TypeAlias = bytes | os.PathLike[str] | IO[bytes] | BinaryIO
"""What a file part's bytes come from: the bytes, a path (``pathlib.Path``), or a binary file
object open for reading (seekable: a retry reads it again from where it stood)."""

FileInput: TypeAlias = FileContent | tuple[str, FileContent] | tuple[str, FileContent, str]
"""A file argument: its content, or ``(filename, content)`` or ``(filename, content,
content_type)``."""

CHUNK_SIZE = 64 * 1024
_DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class _Part:
    head: bytes  # the boundary line, the part's headers and the blank line after them
    data: bytes = b""
    path: str | None = None  # opened afresh on every attempt
    file: IO[bytes] | None = None  # moved back to ``start`` on every attempt
    start: int = 0
    size: int = 0  # of the file's bytes sent (fixed when the call began)

    @property
    def length(self) -> int:
        streamed = self.path is not None or self.file is not None
        return len(self.head) + (self.size if streamed else len(self.data)) + 2  # + CRLF


class MultipartBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A planned ``multipart/form-data`` body; each iteration sends it whole, from the start."""

    def __init__(self, endpoint: str, parts: list[_Part], boundary: str) -> None:
        self.endpoint = endpoint
        self.boundary = boundary
        self._parts = parts
        self._tail = f"--{boundary}--\r\n".encode("ascii")

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        """The body's size in bytes (the ``Content-Length`` header)."""
        return sum(p.length for p in self._parts) + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            yield part.head
            if part.path is not None:
                with open(part.path, "rb") as fh:
                    yield from self._chunks(part, fh)
            elif part.file is not None:
                part.file.seek(part.start)
                yield from self._chunks(part, part.file)
            elif part.data:
                yield part.data
            yield b"\r\n"
        yield self._tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # File reads go to a thread: a slow disk (or a network mount) must not stall the loop.
        for part in self._parts:
            yield part.head
            if part.path is not None:
                fh = await asyncio.to_thread(open, part.path, "rb")
                try:
                    async for chunk in self._achunks(part, fh):
                        yield chunk
                finally:
                    fh.close()
            elif part.file is not None:
                await asyncio.to_thread(part.file.seek, part.start)
                async for chunk in self._achunks(part, part.file):
                    yield chunk
            elif part.data:
                yield part.data
            yield b"\r\n"
        yield self._tail

    def _chunks(self, part: _Part, fh: IO[bytes]) -> Iterator[bytes]:
        left = part.size
        while left > 0:
            chunk = fh.read(min(CHUNK_SIZE, left))
            if not chunk:
                raise self._shrunk(part)
            left -= len(chunk)
            yield chunk

    async def _achunks(self, part: _Part, fh: IO[bytes]) -> AsyncIterator[bytes]:
        left = part.size
        while left > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK_SIZE, left))
            if not chunk:
                raise self._shrunk(part)
            left -= len(chunk)
            yield chunk

    def _shrunk(self, part: _Part) -> ValueError:
        # The length was promised in Content-Length: a shorter file cannot be sent as it is.
        what = part.path or getattr(part.file, "name", None) or "a file object"
        return ValueError(
            f"{self.endpoint}: {what} became shorter than its {part.size} bytes while it was "
            "sent; it must not change during the call"
        )


def _quoted(value: str) -> str:
    # The escaping of the HTML standard's multipart/form-data encoding (what browsers send and
    # servers parse): CR, LF and `"` percent-encoded; other text goes as UTF-8.
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def _head(boundary: str, name: str, filename: str | None, content_type: str | None) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _is_file_value(value: Any) -> bool:
    return isinstance(value, bytes | bytearray | memoryview | os.PathLike | tuple) or hasattr(
        value, "read"
    )


def _text(endpoint: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple | BaseModel):
        raise ValueError(
            f"{endpoint}: multipart field `{key}` is nested ({type(value).__name__}); a part "
            "is one value, a file, or a list of them"
        )
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(getattr(value, "value", value))  # an enum member: its wire value


class _Planner:
    """Turns field values into parts, checking each (errors name the field) and fixing the
    size of every file, so that nothing is found wrong once bytes are on the wire."""

    def __init__(self, endpoint: str, boundary: str, file_fields: frozenset[str]) -> None:
        self.endpoint = endpoint
        self.boundary = boundary
        self.file_fields = file_fields
        self.parts: list[_Part] = []

    def add(self, key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                self.add_one(key, item)
        else:
            self.add_one(key, value)

    def add_one(self, key: str, value: Any) -> None:
        if value is None:
            return
        if key in self.file_fields or _is_file_value(value):
            self.parts.append(self.file_part(key, value))
        else:
            data = _text(self.endpoint, key, value).encode("utf-8")
            self.parts.append(_Part(_head(self.boundary, key, None, None), data=data))

    def refuse(self, key: str, detail: str) -> ValueError:
        return ValueError(
            f"{self.endpoint}: file field `{key}`: {detail}; pass bytes, a pathlib.Path, a "
            "binary file object open for reading, or a (filename, content[, content_type]) tuple"
        )

    def unpack(self, key: str, value: Any) -> tuple[str | None, Any, str]:
        """(filename or None, content, content type) of a file argument."""
        if not isinstance(value, tuple):
            return None, value, _DEFAULT_TYPE
        if len(value) not in (2, 3) or not isinstance(value[0], str):
            raise self.refuse(key, "a tuple is (filename, content) or (filename, content, type)")
        content_type = value[2] if len(value) == 3 and value[2] is not None else _DEFAULT_TYPE
        if not isinstance(content_type, str) or not content_type.isprintable():
            raise self.refuse(key, f"content type {content_type!r} is not printable text")
        return value[0], value[1], content_type

    def file_part(self, key: str, value: Any) -> _Part:
        filename, content, content_type = self.unpack(key, value)

        def head(default: str) -> bytes:
            return _head(
                self.boundary, key, default if filename is None else filename, content_type
            )

        if isinstance(content, bytes | bytearray | memoryview):
            return _Part(head(key), data=bytes(content))
        if isinstance(content, str):
            raise self.refuse(
                key, "a str is neither bytes nor a path (wrap a path in pathlib.Path)"
            )
        if isinstance(content, os.PathLike):
            path = os.fspath(content)
            if not isinstance(path, str):
                raise self.refuse(key, f"path {path!r} is not text")
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise self.refuse(key, f"{path!r} is not a readable regular file")
            return _Part(head(os.path.basename(path)), path=path, size=os.stat(path).st_size)
        if hasattr(content, "read"):
            start, size = self.extent(key, content)
            name = getattr(content, "name", None)
            default = os.path.basename(name) if isinstance(name, str) and name else key
            return _Part(head(default), file=content, start=start, size=size)
        raise self.refuse(key, f"got {type(content).__name__}")

    def extent(self, key: str, fh: Any) -> tuple[int, int]:
        """Where a file object stands and how many bytes are left in it; refused when a
        retry could not read it again."""
        if isinstance(fh, io.TextIOBase):
            raise self.refuse(key, "the file is open in text mode (open it with 'rb')")
        seekable = getattr(fh, "seekable", None)
        if not callable(seekable) or not seekable():
            raise self.refuse(
                key,
                "the file object is not seekable (a pipe or socket), so a retry could not send "
                "it again; read it into bytes first",
            )
        try:
            start = fh.tell()
            end = fh.seek(0, io.SEEK_END)
            fh.seek(start)
        except (OSError, ValueError) as exc:  # closed, or a stream that only claims to seek
            raise self.refuse(key, f"cannot seek it ({exc})") from exc
        return start, max(end - start, 0)


def _fields(body: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, BaseModel):
        return dict(body)
    out: dict[str, Any] = {}
    for name, info in type(body).model_fields.items():
        out[info.serialization_alias or info.alias or name] = getattr(body, name)
    extra = body.model_extra or {}
    out.update(extra)
    return out


def encode_multipart_body(
    endpoint: str,
    body: BaseModel | Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    file_fields: tuple[str, ...] = (),
    boundary: str | None = None,
) -> MultipartBody:
    """Plan a ``multipart/form-data`` body: one part per field (by wire name), a list as the
    field repeated, ``None`` left out, ``extra_body``'s keys merged over the fields first.

    A field listed in ``file_fields`` (or any value that is bytes, a path, a file object or a
    tuple) is a file part with a ``filename`` (the tuple's, the path's or file's base name,
    else the field's name) and a ``Content-Type`` (the tuple's, else
    ``application/octet-stream``); every other value is a text part (booleans
    ``true``/``false``, dates ISO 8601). A value that cannot be a part raises ``ValueError``
    naming the field, before anything is sent.

    Example::

        body = encode_multipart_body(
            "upload", {"file": Path("a.csv"), "note": "q3"}, file_fields=("file",)
        )
        body.content_type  # 'multipart/form-data; boundary=...'
    """
    planner = _Planner(endpoint, boundary or secrets.token_hex(16), frozenset(file_fields))
    values = _fields(body)
    values.update(extra_body or {})
    for key, value in values.items():
        planner.add(key, value)
    return MultipartBody(endpoint, planner.parts, planner.boundary)
