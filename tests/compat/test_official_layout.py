"""The official SDK's module paths exist under tinkex, and under the name ``tinker``.

``official_modules.json`` lists every module of tinker 0.38.0 with the public names it binds
(made by ``extract_modules.py``); ``official_layout_differences.json`` says, with reasons, what
tinkex leaves out or maps to an object of another name. Every other listed name must be importable
from the same path under tinkex and be tinkex's own object (the one ``tinkex`` or ``tinkex.types``
exports), never a copy; and ``tinker.<path>`` must be that very module once ``tinker`` is tinkex.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tinkex
import tinkex.types

HERE = Path(__file__).parent
OFFICIAL: dict[str, list[str]] = json.loads((HERE / "official_modules.json").read_text())["modules"]
DIFF: dict[str, Any] = json.loads((HERE / "official_layout_differences.json").read_text())
NOT_MIRRORED: dict[str, str] = DIFF["modules_not_mirrored"]
NAMES_LEFT_OUT: dict[str, dict[str, str]] = DIFF["names_not_mirrored"]
MAPPED: dict[str, dict[str, str]] = DIFF["mapped"]
EXTRA: dict[str, list[str]] = DIFF["extra_names"]
# Official paths whose tinkex module of the same name is tinkex's own (``tinkex._version``).
RENAMED = {"tinker._version": "tinkex._tinker_version"}


def _private(path: str) -> bool:
    parts = path.split(".")[1:]
    return any(p.startswith("_") for p in parts) and path not in DIFF["mirrored_private"]


def _left_out(path: str) -> bool:
    return _private(path) or any(path == p or path.startswith(p + ".") for p in NOT_MIRRORED)


MIRRORED: dict[str, list[str]] = {
    path: sorted((set(names) - set(NAMES_LEFT_OUT.get(path, {}))) | set(EXTRA.get(path, [])))
    for path, names in OFFICIAL.items()
    if not _left_out(path)
}
NAMED = [(path, name) for path, names in MIRRORED.items() for name in names]


def tinkex_path(path: str) -> str:
    return RENAMED.get(path, "tinkex" + path.removeprefix("tinker"))


def canonical(path: str, name: str) -> Any:
    """The tinkex object ``<path>.<name>`` must be."""
    target = MAPPED.get(path, {}).get(name)
    if target:
        module, _, attrs = target.partition(":")
        obj: Any = importlib.import_module(module)
        for attr in attrs.split("."):
            obj = getattr(obj, attr)
        return obj
    order = (tinkex.types, tinkex) if path.startswith("tinker.types") else (tinkex, tinkex.types)
    for namespace in order:
        if hasattr(namespace, name):
            return getattr(namespace, name)
    raise AssertionError(f"{path}.{name}: tinkex has no object of that name (map it or list it)")


def _check_module(path: str, module: ModuleType) -> None:
    missing = [n for n in MIRRORED[path] if not hasattr(module, n)]
    assert not missing, f"{module.__name__} (official {path}) lacks {missing}"
    others = [n for n in MIRRORED[path] if getattr(module, n) is not canonical(path, n)]
    assert not others, f"{module.__name__}: {others} are not tinkex's own objects"


def test_the_data_covers_what_users_import() -> None:
    # Guards the filters above: a typo in the differences must not silently skip everything.
    assert len(MIRRORED) > 110
    for path in ("tinker.types.tensor_data", "tinker.lib.public_interfaces", "tinker._exceptions"):
        assert path in MIRRORED
    assert "TensorData" in MIRRORED["tinker.types.tensor_data"]
    assert "APIStatusError" in MIRRORED["tinker._exceptions"]
    assert "tinker._client" in OFFICIAL
    assert "tinker._client" not in MIRRORED


@pytest.mark.parametrize("path", sorted(MIRRORED))
def test_tinkex_has_the_official_path(path: str) -> None:
    _check_module(path, importlib.import_module(tinkex_path(path)))


@pytest.mark.parametrize(
    ("path", "name"),
    [(p, n) for p, names in NAMES_LEFT_OUT.items() for n in names],
    ids=lambda v: str(v),
)
def test_left_out_names_are_still_missing(path: str, name: str) -> None:
    assert name in OFFICIAL[path], f"{path}.{name} is not an official name: drop it from the list"
    module = importlib.import_module(tinkex_path(path))
    assert not hasattr(module, name), f"{module.__name__}.{name} exists now: drop it from the list"


@pytest.mark.parametrize("prefix", sorted(NOT_MIRRORED))
def test_left_out_modules_are_still_missing(prefix: str) -> None:
    official = {
        p: n
        for p, n in OFFICIAL.items()
        if (p == prefix or p.startswith(prefix + ".")) and not _private(p)
    }
    assert official, f"{prefix} is not an official module: drop it from the list"
    for path, names in official.items():
        if importlib.util.find_spec(tinkex_path(path)) is None:
            return
        module = importlib.import_module(tinkex_path(path))
        if any(not hasattr(module, n) for n in names):
            return
    pytest.fail(f"tinkex has every module and name under {prefix} now: drop it from the list")


# ---- the name ``tinker`` ---------------------------------------------------------------------


def _tinker_entries() -> dict[str, ModuleType]:
    return {k: m for k, m in sys.modules.items() if k == "tinker" or k.startswith("tinker.")}


@pytest.fixture
def clean_tinker() -> Iterator[None]:
    """No ``tinker`` module before the test; whatever was there is put back after it."""
    saved = _tinker_entries()
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in _tinker_entries():
            del sys.modules[name]
        sys.modules.update(saved)


def _no_copies() -> None:
    copies = [k for k, m in _tinker_entries().items() if not m.__name__.startswith("tinkex")]
    assert not copies, f"modules loaded a second time under the alias: {copies}"


@pytest.mark.usefixtures("clean_tinker")
def test_every_path_through_the_alias() -> None:
    sys.modules["tinker"] = tinkex
    for path in sorted(MIRRORED):
        module = importlib.import_module(path)
        assert module is importlib.import_module(tinkex_path(path)), path
        assert sys.modules[path] is module
        _check_module(path, module)
    _no_copies()


@pytest.mark.usefixtures("clean_tinker")
def test_a_missing_path_fails_without_loading_a_copy() -> None:
    sys.modules["tinker"] = tinkex
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("tinker.types.no_such_module")
    assert info.value.name == "tinker.types.no_such_module"
    assert "tinker.types.no_such_module" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("tinker.no_such_module")
    _no_copies()


@pytest.mark.usefixtures("clean_tinker")
def test_any_alias_name_works_and_unaliased_names_are_left_alone() -> None:
    if importlib.util.find_spec("tinker") is None:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("tinker.types")
    sys.modules["tk_alias"] = tinkex
    try:
        from tk_alias.types.datum import Datum  # type: ignore[import-not-found]

        assert Datum is tinkex.types.Datum
        assert sys.modules["tk_alias.types.datum"] is importlib.import_module("tinkex.types.datum")
    finally:
        for name in [k for k in sys.modules if k.split(".")[0] == "tk_alias"]:
            del sys.modules[name]
    finders = [f for f in sys.meta_path if getattr(f, "_tinkex_alias_finder", False)]
    assert len(finders) == 1


@pytest.mark.usefixtures("clean_tinker")
def test_install_as_tinker_is_idempotent() -> None:
    if importlib.util.find_spec("tinker") is not None:
        pytest.skip("the official tinker is installed here")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tinkex.install_as_tinker() is tinkex
        assert tinkex.install_as_tinker() is tinkex
    assert sys.modules["tinker"] is tinkex
    import tinker.types.tensor_data  # type: ignore[import-not-found]

    assert tinker.types.tensor_data.TensorData is tinkex.TensorData


@pytest.mark.usefixtures("clean_tinker")
def test_install_as_tinker_refuses_to_replace_an_imported_tinker() -> None:
    other = ModuleType("tinker")
    sys.modules["tinker"] = other
    sys.modules["tinker.types"] = ModuleType("tinker.types")
    with pytest.raises(RuntimeError, match="already imported"):
        tinkex.install_as_tinker()
    assert sys.modules["tinker"] is other
    assert tinkex.install_as_tinker(force=True) is tinkex
    assert sys.modules["tinker"] is tinkex
    assert importlib.import_module("tinker.types") is tinkex.types  # the stale entry is gone


@pytest.mark.usefixtures("clean_tinker")
def test_install_as_tinker_warns_when_the_official_package_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tinker").mkdir()
    (tmp_path / "tinker" / "__init__.py").write_text("OFFICIAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(RuntimeWarning, match="official 'tinker' package is installed"):
        assert tinkex.install_as_tinker() is tinkex
    import tinker

    assert tinker is tinkex
    del sys.modules["tinker"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tinkex.install_as_tinker(force=True) is tinkex


COOKBOOK = """
import sys
import tinkex
{setup}
import tinker
import tinker.types as T
import tinker.types.tensor_data
from tinker import types
from tinker._exceptions import APIStatusError, RequestFailedError
from tinker._version import __version__
from tinker.lib.public_interfaces import APIFuture
from tinker.lib.public_interfaces.rest_client import RestClient
from tinker.lib.public_interfaces.service_client import RetryConfig
from tinker.types import LossFnType, ModelInput
from tinker.types.tensor_data import TensorData

assert tinker is tinkex and T is types is tinkex.types
assert TensorData is tinker.types.tensor_data.TensorData is tinkex.TensorData
assert APIFuture is tinkex.APIFuture and RestClient is tinkex.RestClient
assert RetryConfig is tinkex.RetryConfig and ModelInput is tinkex.ModelInput
assert APIStatusError is tinkex.APIStatusError and RequestFailedError is tinkex.RequestFailedError
assert __version__ == tinkex.__version__
datum = types.Datum(model_input=ModelInput.from_ints([1, 2]),
                    loss_fn_inputs={{"target_tokens": TensorData.from_numpy(__import__("numpy").array([2, 3]))}})
assert isinstance(datum, tinkex.types.Datum)
copies = [k for k, m in sys.modules.items() if k.startswith("tinker.") and not m.__name__.startswith("tinkex")]
assert not copies, copies
print("ok")
"""


@pytest.mark.parametrize(
    "setup", ['sys.modules["tinker"] = tinkex', "tinkex.install_as_tinker(force=True)"]
)
def test_cookbook_imports_in_a_fresh_interpreter(setup: str) -> None:
    code = textwrap.dedent(COOKBOOK).format(setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_import_tinkex_stays_light() -> None:
    code = (
        "import sys, tinkex; sys.modules['tinker'] = tinkex; import tinker; "
        "print(sorted(m for m in ('numpy', 'pydantic', 'httpx', 'tinkex.types') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
