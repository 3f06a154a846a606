"""Fetch skyrl-tx's OpenAPI document into ``openapi.json`` next to this file.

    python examples/skyrl_openapi/fetch_openapi.py                      # starts a local backend
    python examples/skyrl_openapi/fetch_openapi.py --base-url http://127.0.0.1:PORT

The document is interface data, like tests/compat/official_modules.json: stored once, read by
`make codegen` (with the overlay ``skyrl.yaml``) and compared with the live one by the e2e test
``tests/e2e/test_openapi_sdk.py``. It is written indented, in the server's key order, so that
the generator's messages point at useful lines and a change shows as a readable diff.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCUMENT = HERE / "openapi.json"


def fetch(base_url: str) -> dict[str, Any]:
    """The server's ``/openapi.json``, parsed."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/openapi.json", timeout=30) as reply:
        data: dict[str, Any] = json.loads(reply.read())
    return data


def dump(document: dict[str, Any]) -> str:
    """The document as stored: two-space indents, the server's key order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running server (default: start a local one)")
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    if args.base_url:
        document = fetch(args.base_url)
    else:
        from tinkex.local import running_backend

        with running_backend() as backend:
            document = fetch(backend.base_url)
    args.out.write_text(dump(document), encoding="utf-8")
    paths = document.get("paths", {})
    print(f"wrote {args.out}: OpenAPI {document.get('openapi')}, {len(paths)} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
