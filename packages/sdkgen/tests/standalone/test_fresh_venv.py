"""The kit on its own: installed (not editable) into a fresh virtual environment that has no
tinkex, it generates the sibling SDK and the key-value example's SDK from any directory, and
each calls a local server.

Slow (a venv and a pip install of the kit with its generator's tools: about a minute when the
wheels are cached), so it runs only with ``SDKGEN_STANDALONE=1`` (``make e2e`` sets it).
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
MANIFEST = KIT / "tests" / "sibling" / "renderfarm.yaml"
KVSTORE = KIT / "examples" / "kvstore"

pytestmark = [
    pytest.mark.standalone,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.environ.get("SDKGEN_STANDALONE") != "1",
        reason="installs the kit into a fresh venv: set SDKGEN_STANDALONE=1 (make e2e)",
    ),
]

CALLER = """
import json, sys
import renderfarm_sdk
from renderfarm_sdk import RenderFarm

with RenderFarm(base_url=sys.argv[1], api_key="farm-key") as farm:
    result = farm.jobs.cancel_job("j-1")
print(json.dumps({"result": repr(result), "sdk": renderfarm_sdk.__file__}))
"""

KV_CALLER = """
import json, sys
import kvstore_sdk

base_url, token, tenant = sys.argv[1:4]
with kvstore_sdk.KVStore(
    base_url=base_url, api_key=token, credentials={"KV_TENANT": tenant}, timeout=20
) as kv:
    for key in ("a", "b", "c"):
        kv.keys.put_key(key, value=key.upper())
    got = kv.keys.get_key("b").value
    listed = [entry.key for entry in kv.keys.iter_list_keys(limit=2)]
print(json.dumps({"got": got, "listed": listed, "sdk": kvstore_sdk.__file__}))
"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []  # noqa: RUF012 - one server per test, reset by the fixture

    def do_DELETE(self) -> None:
        type(self).seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def farm_server() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def kit_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a fresh venv holding the kit (installed from this directory, not editable)
    and nothing of tinkex."""
    root = tmp_path_factory.mktemp("standalone")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", f"{KIT}[codegen]"], cwd=root, timeout=840)
    probe = _run(
        [
            python,
            "-c",
            "import importlib.util as u, sdkgen; "
            "print(u.find_spec('tinkex') is None, sdkgen.__file__)",
        ],
        cwd=root,
    )
    no_tinkex, location = probe.stdout.split()
    assert no_tinkex == "True"
    assert Path(location).is_relative_to(venv), location  # the installed copy, not this checkout
    return python


def _imports_of(package: Path) -> set[str]:
    return {
        line.split()[1].split(".")[0]
        for path in package.glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from .")
    }


def test_the_kit_generates_and_runs_a_sibling_sdk_without_tinkex(
    kit_python: str, tmp_path: Path, farm_server: str
) -> None:
    python = kit_python
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = work / "renderfarm_sdk"
    _run([python, "-m", "sdkgen", "generate", str(MANIFEST), "--out", str(out)], cwd=work)
    _run(
        [python, "-m", "sdkgen", "generate", str(MANIFEST), "--out", str(out), "--check"], cwd=work
    )
    imported = _imports_of(out)
    assert "sdkgen" in imported
    assert not imported & {"tinkex", "codegen"}, imported

    done = _run([python, "-c", CALLER, farm_server], cwd=work)
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["result"] == "None"
    assert Path(reply["sdk"]).is_relative_to(out)
    (request,) = _Recorder.seen
    assert request["path"] == "/v2/jobs/j-1"
    assert request["x-farm-token"] == "farm-key"
    assert request["x-farm-client"] == "sibling-sdk"


def test_the_kit_generates_and_runs_the_key_value_example(kit_python: str, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "kvstore_standalone_server", KVSTORE / "server.py"
    )
    assert spec is not None
    assert spec.loader is not None
    server_module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = server_module  # dataclasses look their module up while being built
    spec.loader.exec_module(server_module)
    out = tmp_path / "kvstore_sdk"
    _run(
        [kit_python, "-m", "sdkgen", "generate", str(KVSTORE / "kvstore.yaml"), "--out", str(out)],
        cwd=tmp_path,
    )
    assert not _imports_of(out) & {"tinkex", "codegen"}
    server = server_module.KVServer(lifetime=300, max_requests=500)
    try:
        args = [server.base_url, str(server_module.TOKEN), "t-standalone"]
        done = _run([kit_python, "-c", KV_CALLER, *args], cwd=tmp_path)
    finally:
        server.stop()
        del sys.modules[spec.name]
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["got"] == "B"
    assert reply["listed"] == ["a", "b", "c"]
    assert Path(reply["sdk"]).is_relative_to(out)
