"""Model inputs (prompts and training sequences) with the helpers training loops rely on."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from .._generated import models
from ._lazy import LazyListModel

__all__ = [
    "DmelChunk",
    "EncodedTextChunk",
    "ImageAssetPointerChunk",
    "ImageChunk",
    "ModelInput",
    "ModelInputChunk",
]


_set = object.__setattr__


def _base64(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _unpack(packed: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(packed) // 4}i", packed))


class EncodedTextChunk(LazyListModel, models.EncodedTextChunk):
    """A run of token ids.

    A chunk made by :meth:`from_ints` keeps the ids packed as the protobuf wire takes them
    (little-endian int32); its ``tokens`` list is made from them when first read (plain ints).
    Replacing ``tokens`` drops what was packed (change ids through a new chunk, not in place).
    """

    _lazy_field = "tokens"

    @classmethod
    def from_ints(cls, tokens: Sequence[int]) -> EncodedTextChunk:
        """A chunk of ``tokens``; plain ints are packed for the wire once, here.

        Example::

            assert EncodedTextChunk.from_ints([1, 2]).tokens == [1, 2]
        """
        ids = tokens if isinstance(tokens, list) else list(tokens)
        try:
            # Only integers (anything with __index__: bools, numpy integers) pack, and they
            # unpack exactly, as plain ints: no list until ``tokens`` is read, and no copy of
            # the caller's (a training batch's lists cost the garbage collector more time per
            # step than packing them did).
            packed = struct.pack(f"<{len(ids)}i", *ids)
        except (struct.error, TypeError, OverflowError):
            return cls(tokens=ids)  # validated, and checked again where it is encoded
        if cls is EncodedTextChunk:
            # What model_construct(tokens=ids) builds (tests/clients/test_tensor_fast_path.py).
            return cls._build({"type": "encoded_text"}, {"tokens"}, packed, None)
        # A subclass gets its own defaults from model_construct, and the list made now.
        chunk = cls.model_construct(tokens=_unpack(packed))
        private = chunk.__pydantic_private__  # a new instance's private attributes
        assert private is not None
        private.update(_kept=packed, _kept_of=chunk.tokens)
        return chunk

    def _unpack(self, kept: Any) -> list[Any]:
        return _unpack(kept)

    def packed_tokens(self) -> bytes | None:
        """The ids as little-endian int32 bytes when they were packed by :meth:`from_ints`
        and ``tokens`` has not been replaced since; else ``None``."""
        packed: bytes | None = self._kept_values()
        return packed

    @property
    def length(self) -> int:
        """The number of tokens."""
        packed = self._kept_values()  # counted without making the list
        return len(packed) // 4 if packed is not None else len(self.tokens)


class ImageChunk(models.ImageChunk):
    """An inline image; ``data`` accepts raw bytes or a base64 string."""

    _to_base64 = field_validator("data", mode="before")(_base64)

    @property
    def length(self) -> int:
        if self.expected_tokens is None:
            raise ValueError(
                "ImageChunk.length needs expected_tokens: pass the number of tokens the image takes"
            )
        return self.expected_tokens


class ImageAssetPointerChunk(models.ImageAssetPointerChunk):
    """An image referenced by location (sampling only)."""

    @property
    def length(self) -> int:
        if self.expected_tokens is None:
            raise ValueError("ImageAssetPointerChunk.length needs expected_tokens")
        return self.expected_tokens


class DmelChunk(models.DmelChunk):
    """Audio features; ``dmel`` accepts raw bytes or a base64 string."""

    _to_base64 = field_validator("dmel", mode="before")(_base64)

    @property
    def length(self) -> int:
        """The number of positions: the first dimension of the encoded array."""
        raw = base64.b64decode(self.dmel)
        pos = 1 if raw[:1] == b"\xfe" else 0  # optional marker byte
        pos += 1  # dtype byte
        ndim, pos = _varint(raw, pos)
        if ndim < 1:
            raise ValueError("DmelChunk holds a scalar; it has no length")
        first, _ = _varint(raw, pos)
        return first


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(raw):
            raise ValueError("DmelChunk header is truncated")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


ModelInputChunk = Annotated[
    EncodedTextChunk | ImageAssetPointerChunk | ImageChunk | DmelChunk,
    Field(discriminator="type"),
]
"""One chunk of a ``ModelInput``: text tokens, an image (inline or by reference) or a dmel
array, told apart by its ``type``."""


_PUBLIC = (EncodedTextChunk, ImageAssetPointerChunk, ImageChunk, DmelChunk)


class ModelInput(models.ModelInput):
    """An ordered list of chunks. Helpers return new objects; a ModelInput is never mutated.

    Example::

        prompt = ModelInput.from_ints([1, 2, 3]).append_int(4)
        assert prompt.to_ints() == [1, 2, 3, 4] and prompt.length == 4
    """

    chunks: list[ModelInputChunk]  # type: ignore[assignment]

    @field_validator("chunks", mode="before")
    @classmethod
    def _plain_chunks(cls, value: Any) -> Any:
        # Chunks built from the generated (wire) classes are accepted and upgraded.
        if isinstance(value, list | tuple):
            return [
                c.model_dump() if isinstance(c, BaseModel) and not isinstance(c, _PUBLIC) else c
                for c in value
            ]
        return value

    @classmethod
    def from_ints(cls, tokens: Sequence[int]) -> ModelInput:
        """A model input of one text chunk holding ``tokens``.

        Args:
            tokens: Token ids, ``0 <= id < 2**31``.

        Example::

            prompt = ModelInput.from_ints(tokenizer.encode("The capital of France is"))
        """
        chunk = EncodedTextChunk.from_ints(tokens)
        if cls is not ModelInput or type(chunk) is not EncodedTextChunk:
            return cls(chunks=[chunk])  # a subclass may validate more
        # What validating ``chunks=[chunk]`` builds (a chunk instance is kept as it is).
        model_input = cls.__new__(cls)
        _set(model_input, "__dict__", {"chunks": [chunk]})
        _set(model_input, "__pydantic_fields_set__", {"chunks"})
        _set(model_input, "__pydantic_extra__", None)
        _set(model_input, "__pydantic_private__", None)
        return model_input

    @classmethod
    def empty(cls) -> ModelInput:
        """A model input with no chunk (to build with ``append`` and ``append_int``)."""
        return cls(chunks=[])

    def to_ints(self) -> list[int]:
        """All token ids; raises if the input holds anything but text."""
        out: list[int] = []
        for chunk in self.chunks:
            if not isinstance(chunk, EncodedTextChunk):
                raise ValueError(
                    f"to_ints() needs text-only input; chunk of type {chunk.type!r} has no token ids"
                )
            out.extend(chunk.tokens)
        return out

    @property
    def length(self) -> int:
        """The number of tokens, over all chunks (an image counts its ``expected_tokens``)."""
        return sum(chunk.length for chunk in self.chunks)

    def append(self, chunk: ModelInputChunk | models.EncodedTextChunk) -> ModelInput:
        """A copy with ``chunk`` added at the end (the input itself is unchanged).

        Args:
            chunk: A text, image or dmel chunk.
        """
        return type(self)(chunks=[*self.chunks, chunk])

    def append_int(self, token: int) -> ModelInput:
        """A copy with ``token`` appended, extending the last text chunk when there is one."""
        if self.chunks and isinstance(self.chunks[-1], EncodedTextChunk):
            last = self.chunks[-1]
            extended = EncodedTextChunk(tokens=[*last.tokens, token])
            return type(self)(chunks=[*self.chunks[:-1], extended])
        return self.append(EncodedTextChunk(tokens=[token]))
