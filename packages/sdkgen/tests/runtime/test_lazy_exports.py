"""The runtime's names load their modules on first use; a generated SDK's import stays light."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sdkgen.runtime as runtime

KVSTORE = Path(__file__).resolve().parents[2] / "examples" / "kvstore"

# Modules an SDK loads only with the calls that use them.
RARE = [
    "sdkgen.runtime._raw_response",
    "sdkgen.runtime._multipart",
    "sdkgen.runtime._sse",
    "sdkgen.runtime._pagination",
    "sdkgen.runtime._binary",
    "sdkgen.runtime._open_url",
    "sdkgen.runtime._otel",
    "httpx_sse",
    "gzip",
]


def _loaded_after(code: str, path: Path | None = None) -> list[str]:
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([n for n in {RARE!r} if n in sys.modules]))"
    )
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_every_exported_name_resolves_to_its_modules_object() -> None:
    for name in runtime.__all__:
        module = importlib.import_module(runtime._EXPORTS[name], runtime.__name__)
        assert getattr(runtime, name) is getattr(module, name), name
    assert set(runtime._EXPORTS) == set(runtime.__all__)


def test_exported_names_are_listed_before_they_load() -> None:
    code = (
        "import sdkgen.runtime as r\n"
        "assert 'to_raw_response_wrapper' in dir(r) and 'Stream' in dir(r)\n"
        "assert 'sdkgen.runtime._raw_response' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", f"import sys\n{code}"], check=True, timeout=60)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        runtime.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_clients_load_none_of_the_rarely_used_modules() -> None:
    assert _loaded_after("from sdkgen.runtime import AsyncAPIClient, SyncAPIClient") == []


def test_a_generated_sdk_loads_them_with_the_calls_that_use_them() -> None:
    # kvstore_sdk has raw-response views, a multipart upload and pages: importing it and making
    # its client loads none of them (its event routes and binary reads are module-level names,
    # so the stream and binary modules do load with it).
    code = "import kvstore_sdk\nkvstore_sdk.KVStore(base_url='http://127.0.0.1:9', api_key='t')"
    loaded = _loaded_after(code, KVSTORE)
    assert set(loaded) <= {"sdkgen.runtime._sse", "httpx_sse", "sdkgen.runtime._binary"}
    views = (
        code
        + "\n_ = kvstore_sdk.KVStore(base_url='http://127.0.0.1:9', api_key='t').keys.with_raw_response"
    )
    assert "sdkgen.runtime._raw_response" in _loaded_after(views, KVSTORE)
