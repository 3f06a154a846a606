"""Code written for the official SDK runs on tinkex after ``import tinkex as tinker``.

``official_surface.json`` lists the official SDK's public names, classes, methods and their
parameters (facts read from tinker 0.38.0). Every one must exist here, with every parameter
name in order; tinkex may add keyword parameters after them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

import tinkex
import tinkex.types

SURFACE = json.loads((Path(__file__).parent / "official_surface.json").read_text())

# Classes whose official constructors take internal objects; tinkex builds them internally too.
INTERNAL_CONSTRUCTORS = {"TrainingClient", "SamplingClient", "BackcompatTrainingClientFuture",
                         "BackcompatSamplingClientFuture"}  # fmt: skip
# Forwarding futures: any client method works on them through attribute forwarding.
FORWARDING = {"BackcompatTrainingClientFuture", "BackcompatSamplingClientFuture"}
# Where tinkex deliberately differs, and why. Each entry is checked to still be needed.
KNOWN_DIFFERENCES = {
    ("DmelChunk", "validate_dmel"): "a pydantic validator of the official model, not API",
    ("DmelChunk", "serialize_dmel"): "a pydantic serializer of the official model, not API",
    (
        "CopyWeightsRequest",
        "weights_access_token",
    ): "sent only as the secret header, never in a body",
    # tinkex's RequestOptions are the per-call options of its generated layer (timeout,
    # max_retries, idempotency_key, extra_headers, deadline), not the official SDK's transport
    # options dict; these transport knobs have no per-call form here.
    ("RequestOptions", "headers"): "per-call headers are `extra_headers`",
    ("RequestOptions", "params"): "query parameters are typed method arguments",
    ("RequestOptions", "extra_json"): "bodies are validated models; no untyped extras",
    ("RequestOptions", "follow_redirects"): "set on a user-supplied httpx client",
}


def _has(cls: Any, name: str) -> bool:
    """An attribute, a method, a pydantic field, or an instance attribute declared on the class."""
    fields = getattr(cls, "model_fields", {})
    annotations: dict[str, Any] = {}
    for klass in getattr(cls, "__mro__", ()):
        annotations.update(getattr(klass, "__annotations__", {}))
    dataclass_fields = (
        {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    )
    return hasattr(cls, name) or name in fields or name in annotations or name in dataclass_fields


@pytest.mark.parametrize("name", SURFACE["top_level"])
def test_top_level_name_exists(name: str) -> None:
    assert hasattr(tinkex, name), f"tinkex.{name} is missing"


@pytest.mark.parametrize("name", SURFACE["types"])
def test_types_name_exists(name: str) -> None:
    assert hasattr(tinkex.types, name), f"tinkex.types.{name} is missing"


@pytest.mark.parametrize("name", SURFACE["exceptions"])
def test_exception_classes(name: str) -> None:
    cls = getattr(tinkex, name)
    assert issubclass(cls, tinkex.TinkerError)


def _class(name: str) -> Any:
    return getattr(tinkex, name, None) or getattr(tinkex.types, name)


def _params(func: Any) -> list[str]:
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind is p.VAR_POSITIONAL:
            out.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            out.append(f"**{p.name}")
        else:
            out.append(p.name)
    return out


METHODS = [
    (cls, method, params)
    for cls, methods in SURFACE["classes"].items()
    for method, params in methods.items()
]


@pytest.mark.parametrize(
    ("cls_name", "method", "expected"), METHODS, ids=[f"{c}.{m}" for c, m, _ in METHODS]
)
def test_method_and_parameters(cls_name: str, method: str, expected: Any) -> None:
    cls = _class(cls_name)
    if method == "__init__" and cls_name in INTERNAL_CONSTRUCTORS:
        pytest.skip("constructed by the SDK, not by users")
    if cls_name in FORWARDING and method not in ("result", "result_async", "future", "coroutine"):
        # Forwarded to the resolved client: the client class must have it.
        target = tinkex.TrainingClient if "Training" in cls_name else tinkex.SamplingClient
        assert hasattr(target, method), f"{target.__name__}.{method} is missing"
        return
    if (cls_name, method) in KNOWN_DIFFERENCES:
        assert not hasattr(cls, method), f"{cls_name}.{method} exists now: drop it from the list"
        return
    assert _has(cls, method), f"{cls_name}.{method} is missing"
    if expected == "@property" or (method.startswith("__") and method != "__init__"):
        return
    if isinstance(expected, list) and expected and expected[0] in ("@staticmethod", "@classmethod"):
        expected = expected[1:]
    attr = getattr(cls, method)
    if isinstance(attr, property):
        return
    wanted = [p.rstrip("?") for p in expected if p != "*"]
    actual = _params(attr)
    if "**kwargs" in actual or "*args" in actual:
        # A pass-through twin (deprecated *_async): it accepts whatever the method accepts.
        return
    if method == "__init__" and "**" + "data" in actual:
        return  # a pydantic model: fields are checked in test_model_fields
    missing = [p for p in wanted if p not in actual and not p.startswith("*")]
    assert not missing, f"{cls_name}.{method} lacks parameters {missing}; has {actual}"
    positions = [actual.index(p) for p in wanted if p in actual]
    assert positions == sorted(positions), f"{cls_name}.{method} parameters out of order: {actual}"


FIELDS = [(cls, fields) for cls, fields in SURFACE["fields"].items()]


@pytest.mark.parametrize(("cls_name", "fields"), FIELDS, ids=[c for c, _ in FIELDS])
def test_model_fields(cls_name: str, fields: list[str]) -> None:
    cls = getattr(tinkex.types, cls_name, None) or getattr(tinkex, cls_name, None)
    if cls is None or not (hasattr(cls, "model_fields") or dataclasses.is_dataclass(cls)):
        pytest.skip(f"{cls_name} is not a model here")
    known = {f for (c, f) in KNOWN_DIFFERENCES if c == cls_name}
    missing = [f for f in fields if f not in known and not _has(cls, f)]
    assert not missing, f"{cls_name} lacks fields {missing}"


def test_import_as_tinker_runs_official_style_code() -> None:
    tinker = tinkex
    prompt = tinker.types.ModelInput.from_ints([1, 2, 3]).append_int(4)
    datum = tinker.types.Datum(
        model_input=prompt,
        loss_fn_inputs={"target_tokens": [2, 3, 4, 5], "weights": [1.0, 1.0, 1.0, 1.0]},
    )
    assert datum.loss_fn_inputs["target_tokens"].dtype == "int64"
    assert prompt.length == 4
    params = tinker.SamplingParams(max_tokens=8, stop=["\n"])
    assert params.temperature == 1.0
    assert tinker.AdamParams().learning_rate == 1e-4


# The official SDK's deprecated training twins give the APIFuture when awaited (code written for
# it awaits twice); the sampling ones give the result.
FUTURE_TWINS = [
    "forward_async",
    "forward_backward_async",
    "forward_backward_custom_async",
    "optim_step_async",
    "save_state_async",
    "load_state_async",
    "load_state_with_optimizer_async",
    "save_weights_for_sampler_async",
    "save_weights_external_async",
]


@pytest.mark.parametrize("method", FUTURE_TWINS)
def test_training_async_twins_give_the_future(method: str) -> None:
    fn = getattr(tinkex.TrainingClient, method)
    assert inspect.iscoroutinefunction(fn)
    assert str(inspect.signature(fn).return_annotation).startswith("APIFuture[")


@pytest.mark.parametrize("method", ["sample_async", "compute_logprobs_async"])
def test_sampling_async_twins_give_the_result(method: str) -> None:
    fn = getattr(tinkex.SamplingClient, method)
    assert inspect.iscoroutinefunction(fn)
    assert "APIFuture" not in str(inspect.signature(fn).return_annotation)
