"""Run in a fresh process by test_limits: fetch bombs with a client, print the peak RSS growth.

``python -m tests.runtime._bomb_child <limit-bytes|default> <httpx|pyqwest|sync> [path...]``
(paths of ``HostileHandler``, default all three bombs) prints one
JSON line: the growth of the process's peak RSS (``ru_maxrss``, a high-water mark, measured
after a warm-up request so that imports and pools are counted before) and the error each bomb
ended in.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from sdkgen.runtime import ClientConfig, EndpointSpec
from tests.runtime._hostile import HostileHandler, gzip_bomb, zstd_bomb
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncTestClient,
    HTTPServerThread,
    SyncTestClient,
)

PATHS = ["/gzip", "/zstd", "/endless"]


def _spec(path: str, limit: int | None) -> EndpointSpec:
    return EndpointSpec(
        id="fetch_blob",
        method="GET",
        path=path,
        idempotent=True,
        retry="none",
        max_response_bytes=limit,
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _run_async(base_url: str, backend: Any, limit: int | None) -> tuple[float, list[str]]:
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend=backend
    )
    async with AsyncTestClient(config=config) as client:
        await client.request(_spec("/small", None), dict)
        before = _peak_mb()
        errors = []
        for path in PATHS:
            try:
                await client.request(_spec(path, limit), dict)
                errors.append("none")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        return _peak_mb() - before, errors


def _run_sync(base_url: str, limit: int | None) -> tuple[float, list[str]]:
    with SyncTestClient(base_url=base_url, api_key=API_KEY) as client:
        client.request(_spec("/small", None), dict)
        before = _peak_mb()
        errors = []
        for path in PATHS:
            try:
                client.request(_spec(path, limit), dict)
                errors.append("none")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        return _peak_mb() - before, errors


def main() -> None:
    limit = None if sys.argv[1] == "default" else int(sys.argv[1])
    mode = sys.argv[2]
    PATHS[:] = sys.argv[3:] or PATHS
    gzip_bomb(), zstd_bomb()  # built before the baseline: they are the server's memory
    server = HTTPServerThread(HostileHandler, lifetime=60)
    try:
        if mode == "sync":
            growth, errors = _run_sync(server.base_url, limit)
        else:
            growth, errors = asyncio.run(_run_async(server.base_url, mode, limit))
    finally:
        server.stop()
    print(json.dumps({"growth_mb": growth, "errors": errors}))


if __name__ == "__main__":
    main()
