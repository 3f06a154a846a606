"""The runtime's frozen dataclasses share Record's equality, hash and repr: same behaviour as
the methods ``@dataclass`` would have compiled for each of them."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from sdkgen.runtime import EndpointSpec, RequestOptions, RetryPolicy
from sdkgen.runtime._spec import Record


@dataclasses.dataclass(frozen=True, slots=True, eq=False, repr=False)
class _Pair(Record):
    a: int
    b: str = dataclasses.field(default="x", compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class _Reference:
    a: int
    b: str = dataclasses.field(default="x", compare=False, repr=False)


def test_equality_hash_and_repr_match_the_generated_ones() -> None:
    assert RetryPolicy() == RetryPolicy()
    assert RetryPolicy(max_retries=3) != RetryPolicy()
    assert hash(RetryPolicy()) == hash(RetryPolicy())
    assert RetryPolicy() != "RetryPolicy()"
    assert repr(RetryPolicy(max_retries=1)).startswith("RetryPolicy(max_retries=1, initial_delay=")
    assert _Pair(1, "p") == _Pair(1, "q")  # compare=False fields are left out
    assert hash(_Pair(1, "p")) == hash(_Reference(1, "p"))
    assert repr(_Pair(1)) == "_Pair(a=1)" == repr(_Reference(1)).replace("_Reference", "_Pair")
    assert _Pair(1) != _Reference(1)  # another class is never equal


def test_still_frozen_slotted_and_replaceable() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_retries = 5  # type: ignore[misc]
    assert not hasattr(policy, "__dict__")
    assert dataclasses.replace(policy, max_retries=5).max_retries == 5
    assert pickle.loads(pickle.dumps(policy)) == policy
    spec = EndpointSpec(id="x", method="GET", path="/x")
    assert spec == EndpointSpec(id="x", method="GET", path="/x")
    with pytest.raises(TypeError):  # a mapping field: unhashable, as before
        hash(spec)
    assert RequestOptions(timeout=1.0) == RequestOptions(timeout=1.0)
