"""Pool flags in the manifest reach the emitted ``PoolSpec``; unset ones leave it unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sdkgen.codegen.ir import build_ir
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE

Write = Callable[[str], Path]


def spec_source(path: Path) -> str:
    return build_ir(validate(load_yaml(path))).spec_source


def test_follow_redirects_is_emitted_only_when_set(write_manifest: Write) -> None:
    plain = spec_source(write_manifest(BASE))
    assert "'default': PoolSpec(max_connections=4, max_keepalive=20, timeout=None)" in plain
    assert "follow_redirects" not in plain
    text = BASE.replace(
        "    default: {max_connections: 4}\n",
        "    default: {max_connections: 4}\n    signed: {max_connections: 2, follow_redirects: true}\n",
    )
    source = spec_source(write_manifest(text))
    assert (
        "'signed': PoolSpec(max_connections=2, max_keepalive=20, timeout=None, "
        "follow_redirects=True)"
    ) in source
    namespace: dict[str, object] = {}
    exec("from sdkgen.runtime import *\nspec = " + source, namespace)  # the source is valid
    assert namespace["spec"].pools["signed"].follow_redirects is True  # type: ignore[attr-defined]
    assert namespace["spec"].pools["default"].follow_redirects is False  # type: ignore[attr-defined]
