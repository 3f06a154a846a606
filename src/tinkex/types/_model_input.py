"""Model inputs (prompts and training sequences) with the helpers training loops rely on."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, PrivateAttr, field_validator

from .._generated import models

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


class EncodedTextChunk(models.EncodedTextChunk):
    """A run of token ids."""

    # The ids as the protobuf wire takes them (little-endian int32) and the list they were
    # packed from: valid while ``tokens`` is still that list.
    _packed: bytes | None = PrivateAttr(default=None)
    _packed_of: Any = PrivateAttr(default=None)

    @classmethod
    def from_ints(cls, tokens: Sequence[int]) -> EncodedTextChunk:
        """A chunk of ``tokens``; plain ints are packed for the wire once, here.

        Example::

            assert EncodedTextChunk.from_ints([1, 2]).tokens == [1, 2]
        """
        ids = list(tokens)
        try:
            packed = struct.pack(f"<{len(ids)}i", *ids)
        except (struct.error, TypeError, OverflowError):
            return cls(tokens=ids)  # validated, and checked again where it is encoded
        if type(sum(ids)) is not int:  # a numpy integer among them: validation converts it
            return cls(tokens=ids)
        if cls is EncodedTextChunk:
            # What model_construct(tokens=ids) builds, without its per-field default
            # resolution (a training batch makes a chunk per datum); checked against
            # model_construct by tests/clients/test_tensor_fast_path.py.
            chunk = cls.__new__(cls)
            _set(chunk, "__dict__", {"tokens": ids, "type": "encoded_text"})
            _set(chunk, "__pydantic_fields_set__", {"tokens"})
            _set(chunk, "__pydantic_extra__", None)
            _set(chunk, "__pydantic_private__", {"_packed": packed, "_packed_of": ids})
            return chunk
        chunk = cls.model_construct(tokens=ids)
        private = chunk.__pydantic_private__  # a new instance's private attributes
        assert private is not None
        private.update(_packed=packed, _packed_of=ids)
        return chunk

    def packed_tokens(self) -> bytes | None:
        """The ids as little-endian int32 bytes when they were packed by :meth:`from_ints`
        and ``tokens`` has not been replaced since; else ``None``."""
        private = self.__pydantic_private__ or {}  # read directly: this is on the hot path
        packed: bytes | None = private.get("_packed")
        return packed if private.get("_packed_of") is self.tokens else None

    @property
    def length(self) -> int:
        """The number of tokens."""
        return len(self.tokens)


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
