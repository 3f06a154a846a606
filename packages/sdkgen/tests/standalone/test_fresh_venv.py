"""The kit on its own: installed (not editable) into a fresh virtual environment that has no
tinkex, it generates the sibling SDK from any directory, and that SDK calls a local server.

Slow (a venv and a pip install of the kit with its generator's tools: about a minute when the
wheels are cached), so it runs only with ``SDKGEN_STANDALONE=1`` (``make e2e`` sets it).
"""

from __future__ import annotations

import http.server
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


def test_the_kit_generates_and_runs_a_sibling_sdk_without_tinkex(
    tmp_path: Path, farm_server: str
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", f"{KIT}[codegen]"], cwd=tmp_path, timeout=840)

    probe = _run(
        [
            python,
            "-c",
            "import importlib.util as u, sdkgen; "
            "print(u.find_spec('tinkex') is None, sdkgen.__file__)",
        ],
        cwd=tmp_path,
    )
    no_tinkex, location = probe.stdout.split()
    assert no_tinkex == "True"
    assert Path(location).is_relative_to(venv), location  # the installed copy, not this checkout

    work = tmp_path / "elsewhere"
    work.mkdir()
    out = work / "renderfarm_sdk"
    _run([python, "-m", "sdkgen", "generate", str(MANIFEST), "--out", str(out)], cwd=work)
    _run(
        [python, "-m", "sdkgen", "generate", str(MANIFEST), "--out", str(out), "--check"], cwd=work
    )
    imported = {
        line.split()[1].split(".")[0]
        for path in out.glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from .")
    }
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
