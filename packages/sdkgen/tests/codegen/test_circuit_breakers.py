"""Circuit breakers in the manifest: emitted into the API and endpoint specs, checked on load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import ManifestError
from sdkgen.codegen.ir import build_ir
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE

Write = Callable[[str], Path]

BREAKERS = "  circuit_breakers:\n    backend: {failure_threshold: 3, reset_timeout: 2.5}\n"


def with_breakers(text: str, breakers: str = BREAKERS, endpoint_breaker: str = "backend") -> str:
    text = text.replace("  pools:\n", breakers + "  pools:\n", 1)
    return text.replace(
        "        response: Item\n      create_item:",
        f"        response: Item\n        breaker: {endpoint_breaker}\n      create_item:",
        1,
    )


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def test_breakers_reach_the_specs_and_build(write_manifest: Write) -> None:
    ir = build_ir(validate(load_yaml(write_manifest(with_breakers(BASE)))))
    assert (
        "'backend': CircuitBreakerPolicy(failure_threshold=3, reset_timeout=2.5, "
        "half_open_trials=1, failure_statuses=('5xx',))"
    ) in ir.spec_source
    namespace: dict[str, object] = {}
    exec("from sdkgen.runtime import *\nspec = " + ir.spec_source, namespace)  # valid source
    policy = namespace["spec"].circuit_breakers["backend"]  # type: ignore[attr-defined]
    assert (policy.failure_threshold, policy.reset_timeout) == (3, 2.5)


def test_a_manifest_without_breakers_emits_nothing_new(write_manifest: Write) -> None:
    ir = build_ir(validate(load_yaml(write_manifest(BASE))))
    assert "circuit_breakers" not in ir.spec_source
    assert "CircuitBreakerPolicy" not in ir.spec_source


def test_unknown_breaker_is_named(write_manifest: Write) -> None:
    found = problems_of(write_manifest(with_breakers(BASE, endpoint_breaker="storage")))
    assert any(
        "get_item.breaker: unknown circuit breaker `storage` (known: backend)" in p for p in found
    ), found


def test_breaker_without_declarations_says_where_to_declare(write_manifest: Write) -> None:
    found = problems_of(write_manifest(with_breakers(BASE, breakers="")))
    assert any("declare it in `api.circuit_breakers`" in p for p in found), found


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("failure_threshold: 0", "failure_threshold"),
        ("reset_timeout: 0", "reset_timeout"),
        ("half_open_trials: 0", "half_open_trials"),
        ("failure_statuses: [700]", "failure_statuses"),
    ],
)
def test_bad_breaker_settings_are_refused(write_manifest: Write, setting: str, field: str) -> None:
    breakers = f"  circuit_breakers:\n    backend: {{{setting}}}\n"
    found = problems_of(write_manifest(with_breakers(BASE, breakers=breakers)))
    assert any("circuit_breakers" in p and field in p for p in found), found
