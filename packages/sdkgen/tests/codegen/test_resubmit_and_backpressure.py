"""An endpoint's `resubmit` policy and `backpressure` rule: checked with the key path, and
carried into the emitted EndpointSpec (unset ones leave it unchanged)."""

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

_CREATE = "        request: NewItem\n        response: Item\n"


def _with(lines: str) -> str:
    """BASE with ``lines`` added to create_item (and a second retry policy, `slow`)."""
    text = BASE.replace(_CREATE, _CREATE + lines)
    return text.replace(
        "    default: {max_retries: 1}\n",
        "    default: {max_retries: 1}\n    slow: {initial_delay: 2, deadline: null}\n",
    )


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def create_item_kwargs(path: Path) -> dict[str, str]:
    ir = build_ir(validate(load_yaml(path)))
    return next(ep.spec_kwargs for ep in ir.endpoints if ep.spec_kwargs["id"] == "'create_item'")


def test_both_are_emitted_into_the_endpoint_spec(write_manifest: Write) -> None:
    path = write_manifest(
        _with(
            "        resubmit: slow\n"
            "        backpressure: {statuses: [429, 503], window: 1, large_window: 5, "
            "large_body: 131072}\n"
        )
    )
    kwargs = create_item_kwargs(path)
    assert kwargs["resubmit"] == "'slow'"
    assert kwargs["backpressure"] == (
        "BackpressureSpec(statuses=(429, 503), window=1.0, large_window=5.0, large_body=131072)"
    )
    namespace: dict[str, object] = {}
    exec("from sdkgen.runtime import *\nrule = " + kwargs["backpressure"], namespace)
    rule = namespace["rule"]
    assert rule.window_after(131073) == 5.0  # type: ignore[attr-defined]


def test_defaults_are_429_and_one_window(write_manifest: Write) -> None:
    kwargs = create_item_kwargs(write_manifest(_with("        backpressure: {window: 2}\n")))
    assert kwargs["backpressure"] == "BackpressureSpec(statuses=(429,), window=2.0)"


def test_unset_ones_leave_the_spec_unchanged(write_manifest: Write) -> None:
    kwargs = create_item_kwargs(write_manifest(BASE))
    assert "resubmit" not in kwargs
    assert "backpressure" not in kwargs


def test_an_unknown_resubmit_policy_is_named(write_manifest: Write) -> None:
    found = problems_of(write_manifest(_with("        resubmit: eager\n")))
    assert any(
        "create_item.resubmit: unknown retry policy `eager` (known: default, slow)" in p
        for p in found
    ), found


@pytest.mark.parametrize(
    ("rule", "key", "message"),
    [
        ("{window: 0}", "backpressure.window", "greater than 0"),
        ("{window: -1}", "backpressure.window", "greater than 0"),
        ("{}", "backpressure.window", "missing required key `window`"),
        ("{window: 1, statuses: [700]}", "backpressure.statuses", "not an HTTP status"),
        ("{window: 1, statuses: [4x]}", "backpressure.statuses", "not a status family"),
        ("{window: 1, statuses: []}", "backpressure.statuses", "at least 1 item"),
        ("{window: 1, large_window: 0, large_body: 10}", "backpressure.large_window", "than 0"),
        ("{window: 1, large_window: 5, large_body: 0}", "backpressure.large_body", "than or equal"),
        ("{window: 1, large_window: 5}", "backpressure", "`large_window` and `large_body`"),
        ("{window: 1, large_body: 10}", "backpressure", "`large_window` and `large_body`"),
        ("{window: 1, windw: 2}", "backpressure.windw", ""),
    ],
)
def test_a_bad_rule_is_reported_at_its_key(
    write_manifest: Write, rule: str, key: str, message: str
) -> None:
    found = problems_of(write_manifest(_with(f"        backpressure: {rule}\n")))
    assert any(f"create_item.{key}" in p and message in p for p in found), found
