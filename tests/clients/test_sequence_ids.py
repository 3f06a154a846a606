"""Sampled sequences carry the ids of the submission reply's ``sample_sequence_ids`` (one per
sample, in order), stamped by the client after the result is decoded: ``sample`` and
``sample_async`` alike, whatever the result itself says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker
from tinkex import types

PARAMS = types.SamplingParams(max_tokens=2)


@pytest.fixture
def sampler(server: FakeTinker, make_service: ServiceFactory) -> tinker.SamplingClient:
    return make_service(server).create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


@pytest.fixture
def ids_only_in_the_submission(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results whose sequences carry no id (as protobuf results do): only the submission says."""
    import tests.fake_tinker.server as fake_module

    original = fake_module.sample_outputs

    def without_ids(*args: Any) -> dict[str, Any]:
        out = original(*args)
        for sequence in out["sequences"]:
            sequence.pop("sequence_id", None)
        return out

    monkeypatch.setattr(fake_module, "sample_outputs", without_ids)


@pytest.mark.usefixtures("ids_only_in_the_submission")
def test_sample_stamps_the_submission_ids(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    out = sampler.sample(types.ModelInput.from_ints([1, 2]), 3, PARAMS).result(timeout=WAIT)
    (future,) = [f for f in server.futures.values() if f.endpoint == "asample"]
    assert "sequence_id" not in future.result["sequences"][0]  # type: ignore[index]
    assert [s.sequence_id for s in out.sequences] == [f"{future.request_id}:{i}" for i in range(3)]


@pytest.mark.usefixtures("ids_only_in_the_submission")
def test_sample_async_stamps_the_submission_ids(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    async def main() -> list[types.SampleResponse]:
        return list(
            await asyncio.wait_for(
                asyncio.gather(
                    *(sampler.sample_async(types.ModelInput.from_ints([i + 1]), 2, PARAMS)
                      for i in range(4))
                ),
                WAIT,
            )
        )  # fmt: skip

    results = asyncio.run(main())
    rids = {f.request_id for f in server.futures.values() if f.endpoint == "asample"}
    assert len(rids) == 4
    for out in results:
        ids = [s.sequence_id for s in out.sequences]
        rid = (ids[0] or "").rsplit(":", 1)[0]
        assert rid in rids
        assert ids == [f"{rid}:0", f"{rid}:1"]
    assert {(s.sequence_id or "").rsplit(":", 1)[0] for r in results for s in r.sequences} == rids
