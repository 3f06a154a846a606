"""An SDK generated from skyrl-tx's own OpenAPI document plus a short overlay, driven against
the real backend (not through tinkex's clients). Run with ``TINKEX_E2E=1`` (``make e2e``).

The live ``/openapi.json`` must equal the stored ``examples/skyrl_openapi/openapi.json`` (from
which ``make codegen`` builds the committed SDK); the package used here is generated afresh
from the live document and the overlay.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sdkgen.codegen import generate

from tests.e2e.conftest import PROMPT, TRAIN_LINES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "skyrl_openapi"
KIT = ROOT / "packages" / "sdkgen"
train_and_sample = importlib.import_module("examples.skyrl_openapi.train_and_sample")
PACKAGE = "skyrl_live_sdk"


def _live_document(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/openapi.json", timeout=30) as reply:
        data: dict[str, Any] = json.loads(reply.read())
    return data


@pytest.fixture(scope="module")
def sdk(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    live = _live_document(backend.base_url)
    stored = json.loads((EXAMPLE / "openapi.json").read_text())
    assert live == stored, (
        "skyrl-tx's /openapi.json differs from examples/skyrl_openapi/openapi.json: run "
        "examples/skyrl_openapi/fetch_openapi.py, then make codegen"
    )
    work = tmp_path_factory.mktemp("openapi_sdk")
    (work / "openapi.json").write_text(json.dumps(live), encoding="utf-8")
    shutil.copy(EXAMPLE / "skyrl.yaml", work / "skyrl.yaml")
    generate(work / "skyrl.yaml", work / PACKAGE)
    sys.path.insert(0, str(work))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _job(backend: Any, tokens: dict[str, list[int]]) -> dict[str, Any]:
    return {
        "base_url": backend.base_url,
        "base_model": backend.base_model,
        "train": [tokens[line] for line in TRAIN_LINES],
        "prompt": tokens[PROMPT],
    }


def _check(report: dict[str, Any]) -> None:
    assert report["health"] == "ok"
    assert report["model_class"] == "ModelCreated"
    assert report["outputs"] == len(TRAIN_LINES)
    assert report["losses"][-1] < report["losses"][0], report["losses"]
    assert len(report["sampled_lengths"]) == 2
    assert all(0 < n <= 8 for n in report["sampled_lengths"])
    assert report["model_id"] in report["listed"]
    assert report["model_id"] in report["iterated"]
    assert len(report["iterated"]) == report["total"]
    assert report["lora_rank"] == train_and_sample.LORA_RANK
    assert report["info_model_id"] == report["model_id"]


def test_generated_sdk_trains_samples_and_lists(
    sdk: ModuleType, backend: Any, tokens: dict[str, list[int]]
) -> None:
    _check(train_and_sample.run(sdk, _job(backend, tokens)))


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 840) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_kit_alone_generates_and_runs_it_in_a_fresh_venv(
    backend: Any, tokens: dict[str, list[int]], tmp_path: Path
) -> None:
    """Issue 11's "done when": a venv with the sdkgen kit and nothing of tinkex generates the
    SDK from the live document plus the overlay and trains with it."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", f"{KIT}[codegen]"], tmp_path, env)
    probe = "import importlib.util as u; print(u.find_spec('tinkex') is None)"
    assert _run([python, "-c", probe], tmp_path, env).strip() == "True"

    work = tmp_path / "work"
    work.mkdir()
    (work / "openapi.json").write_text(json.dumps(_live_document(backend.base_url)))
    shutil.copy(EXAMPLE / "skyrl.yaml", work / "skyrl.yaml")
    _run([python, "-m", "sdkgen", "generate", "skyrl.yaml", "--out", "skyrl_sdk"], work, env)
    script = str(EXAMPLE / "train_and_sample.py")
    job = json.dumps(_job(backend, tokens))
    out = _run([python, script, job], work, {**env, "PYTHONPATH": str(work)})
    _check(json.loads(out.strip().splitlines()[-1]))
