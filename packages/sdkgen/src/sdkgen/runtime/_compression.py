"""Request-body compression (zstd, gzip) and decoding of compressed response bodies."""

from __future__ import annotations

from typing import Literal

import zstandard

__all__ = ["compress", "decompress"]

Encoding = Literal["zstd", "gzip"]


def compress(data: bytes, encoding: Encoding) -> bytes:
    """Compress a request body; the caller sets ``Content-Encoding: <encoding>``."""
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if encoding == "gzip":
        import gzip  # here, not at import: zstd is the usual encoding

        # mtime=0 keeps the output byte-identical for identical input.
        return gzip.compress(data, mtime=0)
    raise ValueError(f"unsupported content encoding {encoding!r}; use 'zstd' or 'gzip'")


def decompress(data: bytes, encoding: str) -> bytes:
    """Decode a body whose ``Content-Encoding`` httpx left alone (zstd on older httpx builds)."""
    encoding = encoding.strip().lower()
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if encoding == "gzip":
        import gzip

        return gzip.decompress(data)
    if encoding in ("", "identity"):
        return data
    raise ValueError(f"unsupported content encoding {encoding!r}")
