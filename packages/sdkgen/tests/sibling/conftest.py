"""A second API (a render farm), generated into a temporary directory and imported from there.

Nothing here or in ``renderfarm.yaml`` is known to ``codegen/`` or ``sdkgen.runtime``: if these
tests pass, the generator and the runtime are generic.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sdkgen.codegen as codegen

MANIFEST = Path(__file__).resolve().with_name("renderfarm.yaml")
PACKAGE = "renderfarm_sdk"
BASE_URL = "https://farm.test/v2"
TOKEN = "farm-secret-token"
FARM_ENV = ("FARM_TOKEN", "FARM_BASE_URL", "FARM_TIMEOUT", "FARM_MAX_RETRIES", "FARM_LOG")


def _forget(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


def import_from(directory: Path) -> Iterator[ModuleType]:
    """Import the package ``directory`` with its parent on ``sys.path``; undo both afterwards."""
    parent = str(directory.parent)
    sys.path.insert(0, parent)
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(directory.name)
    finally:
        sys.path.remove(parent)
        _forget(directory.name)


@pytest.fixture(scope="session")
def manifest_path() -> Path:
    return MANIFEST


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sibling") / PACKAGE
    names = codegen.generate(MANIFEST, out, runtime="sdkgen.runtime")
    assert "models.py" in names
    return out


@pytest.fixture(scope="session")
def sdk(generated_dir: Path) -> Iterator[ModuleType]:
    """The generated render-farm package, imported from the temporary directory."""
    yield from import_from(generated_dir)


@pytest.fixture(autouse=True)
def _clean_farm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FARM_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def variant(tmp_path: Path) -> Iterator[Callable[..., ModuleType]]:
    """Generate and import a variant of the manifest: ``variant(name, replace=..., runtime=...)``.

    ``replace`` is a sequence of (old, new) text replacements applied to ``renderfarm.yaml``;
    each ``old`` must occur in it. The package and anything imported from ``tmp_path`` are
    forgotten afterwards.
    """
    undo: list[Iterator[ModuleType]] = []

    def make(
        name: str, *, replace: tuple[tuple[str, str], ...] = (), runtime: str = "sdkgen.runtime"
    ) -> ModuleType:
        text = MANIFEST.read_text()
        for old, new in replace:
            assert old in text, old
            text = text.replace(old, new)
        manifest = tmp_path / f"{name}.yaml"
        manifest.write_text(text)
        codegen.generate(manifest, tmp_path / name, runtime=runtime)
        importer = import_from(tmp_path / name)
        undo.append(importer)
        return next(importer)

    yield make
    for importer in reversed(undo):
        importer.close()
    for path in tmp_path.glob("*.py"):
        _forget(path.stem)


@pytest.fixture
def farm(sdk: ModuleType) -> Iterator[Any]:
    with sdk.RenderFarm(base_url=BASE_URL, api_key=TOKEN) as client:
        yield client


@pytest.fixture
async def afarm(sdk: ModuleType) -> AsyncIterator[Any]:
    async with sdk.AsyncRenderFarm(base_url=BASE_URL, api_key=TOKEN) as client:
        yield client
