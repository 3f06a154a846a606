"""Generating the render-farm package: deterministic, checkable, and tied to the runtime only."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import sdkgen.codegen as codegen
from pytest_httpx import HTTPXMock

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_FILES = {
    "__init__.py",
    "api.py",
    "assets.py",
    "client.py",
    "params.py",
    "endpoints.py",
    "jobs.py",
    "models.py",
}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_generates_one_module_per_resource(generated_dir: Path) -> None:
    assert set(_files(generated_dir)) == EXPECTED_FILES


def test_generation_is_deterministic(
    manifest_path: Path, generated_dir: Path, tmp_path: Path
) -> None:
    first = tmp_path / "one" / "renderfarm_sdk"
    second = tmp_path / "two" / "renderfarm_sdk"
    codegen.generate(manifest_path, first, runtime="sdkgen.runtime")
    codegen.generate(manifest_path, second, runtime="sdkgen.runtime")
    one, two = _files(first), _files(second)
    assert set(one) == EXPECTED_FILES
    assert one == two
    # ... and identical to the session's generation, made from another directory.
    assert one == {name: data for name, data in _files(generated_dir).items() if name in one}


def test_regenerating_in_place_changes_nothing(manifest_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "renderfarm_sdk"
    codegen.generate(manifest_path, out)
    before = _files(out)
    codegen.generate(manifest_path, out)
    assert _files(out) == before
    assert not list(tmp_path.glob(".renderfarm_sdk*")), "staging directories left behind"


def test_check_is_clean_after_generation_and_reports_an_edit(
    manifest_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "renderfarm_sdk"
    codegen.generate(manifest_path, out, runtime="sdkgen.runtime")
    assert codegen.check(manifest_path, out, runtime="sdkgen.runtime") == ""

    jobs = out / "jobs.py"
    jobs.write_text(jobs.read_text().replace("def cancel_job(", "def cancel_jobs(", 1))
    diff = codegen.check(manifest_path, out, runtime="sdkgen.runtime")
    assert diff
    assert "jobs.py" in diff
    assert "-    def cancel_jobs(" in diff
    assert "+    def cancel_job(" in diff

    (out / "jobs.py").unlink()
    assert "+class Jobs(SyncAPIResource):" in codegen.check(manifest_path, out)


def test_check_reports_a_different_runtime(manifest_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "renderfarm_sdk"
    codegen.generate(manifest_path, out, runtime="sdkgen.runtime")
    diff = codegen.check(manifest_path, out, runtime="farm_runtime")
    assert "+from farm_runtime import" in diff


def test_cli_check_exit_codes(manifest_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "renderfarm_sdk"
    codegen.generate(manifest_path, out)
    cmd = [sys.executable, "-m", "sdkgen", "generate", str(manifest_path), "--out", str(out)]

    clean = subprocess.run([*cmd, "--check"], cwd=ROOT, capture_output=True, text=True)
    assert "up to date" in clean.stdout
    assert clean.returncode == 0, clean.stdout + clean.stderr

    models = out / "models.py"
    models.write_text(models.read_text() + "\nEXTRA = 1\n")
    stale = subprocess.run([*cmd, "--check"], cwd=ROOT, capture_output=True, text=True)
    assert stale.returncode == 1
    assert "-EXTRA = 1" in stale.stdout


def test_imports_only_the_kit_runtime(generated_dir: Path) -> None:
    for name, data in _files(generated_dir).items():
        source = data.decode()
        kit_modules = {
            m for m in _imported_modules(source) if m == "sdkgen" or m.startswith("sdkgen.")
        }
        assert kit_modules <= {"sdkgen.runtime"}, name
        assert "_generated" not in source, name
        assert "tink" + "er" not in source.lower(), name  # (spelled so: this file is scanned too)
    client = (generated_dir / "client.py").read_text()
    assert "from sdkgen.runtime import" in client


def test_generated_names_come_from_the_manifest(sdk: ModuleType) -> None:
    assert sdk.__all__ == ["API_SPEC", "ENDPOINTS", "AsyncRenderFarm", "RenderFarm", "models"]
    api = sdk.API_SPEC
    assert api.name == "renderfarm"
    assert api.title == "Render Farm"
    assert api.auth.header == "X-Farm-Token"
    assert api.auth.env == "FARM_TOKEN"
    assert dict(api.env) == {
        "base_url": "FARM_BASE_URL",
        "timeout": "FARM_TIMEOUT",
        "max_retries": "FARM_MAX_RETRIES",
        "log": "FARM_LOG",
    }
    assert set(api.retry_policies) == {"default", "never"}
    assert set(api.pools) == {"default", "uploads"}
    futures = api.futures
    assert (futures.poll_endpoint, futures.request_id_field) == ("get_job_status", "job_id")
    assert (futures.pending_field, futures.pending_value) == ("state", "queued")
    assert futures.failed_field == "failure"
    assert futures.expired_statuses == (404,)
    assert set(sdk.ENDPOINTS) == {
        "submit_render",
        "get_job_status",
        "follow_job_log",
        "list_jobs",
        "cancel_job",
        "get_job",
        "upload_asset",
        "import_scene_graph",
        "upload_texture",
    }
    farm = sdk.RenderFarm(base_url="https://farm.test", api_key="k")
    try:
        assert type(farm.jobs).__name__ == "Jobs"
        assert type(farm.assets).__name__ == "Assets"
        assert callable(farm.jobs.iter_list_jobs)
        assert not hasattr(farm.jobs, "iter_get_job")
    finally:
        farm.close()


def test_models_are_typed_from_the_schemas(sdk: ModuleType) -> None:
    models = sdk.models
    result = models.RenderResult.model_validate(
        {
            "job_id": "j1",
            "state": "done",
            "frames": [],
            "output": {"kind": "mp4", "fps": 24},
            "finished_at": "2025-03-01T12:00:00Z",
        }
    )
    assert type(result.output) is models.VideoOutput
    assert result.finished_at.year == 2025
    assert result.finished_at.tzinfo is not None
    # A `const` tag that is not required defaults to its value.
    assert models.PngOutput().kind == "png"
    assert models.PngOutput().bit_depth == 8
    assert models.RenderJobRequest.model_fields["priority"].default == 5
    # Request-only schemas reject unknown fields; replies ignore them (newer servers).
    assert models.SceneGraph.model_config.get("extra") == "forbid"
    assert models.JobSummary.model_config.get("extra") != "forbid"


def test_runtime_import_path_is_a_parameter(
    variant: Callable[..., ModuleType], tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    """The same manifest generated against a runtime under another import path."""
    (tmp_path / "farm_runtime.py").write_text(
        "from sdkgen.runtime import *  # noqa: F403\nfrom sdkgen.runtime import __all__\n"
    )
    alt_package = variant("renderfarm_alt", runtime="farm_runtime")
    assert sys.modules["renderfarm_alt.client"].SyncAPIClient.__module__.startswith(
        "sdkgen.runtime."
    )
    assert "farm_runtime" in sys.modules
    directory = Path(alt_package.__file__).parent
    for path in directory.glob("*.py"):
        assert "sdkgen.runtime" not in path.read_text(), path.name
    httpx_mock.add_response(method="DELETE", url="https://farm.test/v2/jobs/j-1", status_code=204)
    with alt_package.RenderFarm(base_url="https://farm.test/v2", api_key="k") as farm:
        assert farm.jobs.cancel_job("j-1") is None
    (request,) = httpx_mock.get_requests()
    assert request.headers["X-Farm-Token"] == "k"
