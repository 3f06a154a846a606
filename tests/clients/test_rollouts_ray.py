"""``tinkex.rollouts`` on a real local Ray instance (``ray.init(num_cpus=2)``) against the fake
server: ``RayExecutor`` as the executor, the sampler shipped without its key (each Ray worker
uses its own), built once per Ray worker process, and a failed item raised with its index.

Ray is in the ``dev`` extra (``make setup`` installs it; it is ``tinkex[ray]`` for users). Where
it is missing the test is skipped, saying so. Starting Ray takes about 5 s on a 2-core machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import tinkex as tinker
from tests.clients import _rollout_work as work
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker
from tinkex.rollouts import RayExecutor, RolloutError, map_rollouts

ray = pytest.importorskip(
    "ray", reason="Ray is not installed (pip install 'tinkex[ray]'; the dev extra has it)"
)

PARENT_KEY = "tml-parent-key-0123456789"
PROMPTS = [[i, i + 1] for i in range(1, 9)]


@pytest.fixture
def local_ray() -> Iterator[Any]:
    """A local Ray instance of 2 CPUs; its workers inherit this environment (the test's key)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_rollouts_on_ray_workers_with_their_own_key(
    server: FakeTinker, make_service: ServiceFactory, local_ray: Any
) -> None:
    service = make_service(server, api_key=PARENT_KEY, pickle_credentials="environment")
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with RayExecutor() as executor:
        out = map_rollouts(
            sampler, work.tokens, PROMPTS, executor=executor, items_per_task=2, timeout=100
        )
        with pytest.raises(RolloutError) as caught:
            map_rollouts(sampler, work.fail_on_five, [[i] for i in range(1, 7)], executor=executor)
    here = [
        list(
            sampler.sample(tinker.ModelInput.from_ints(p), 1, work.PARAMS)
            .result()
            .sequences[0]
            .tokens
        )
        for p in PROMPTS
    ]
    assert [r["tokens"] for r in out.results] == here
    pids = {r["pid"] for r in out.results}
    assert {p.pid for p in out.report.processes} == pids
    assert sum(p.items for p in out.report.processes) == len(PROMPTS)
    worker_asamples = [
        r for r in server.requests_to("asample") if r.headers["x-api-key"] != PARENT_KEY
    ]
    # The workers used their own key (the test's TINKER_API_KEY), never the parent's...
    assert {r.headers["x-api-key"] for r in worker_asamples} == {"tml-test-key"}
    # ...and one sampler per worker process per run: a clone id each.
    first_run = worker_asamples[: len(PROMPTS)]
    assert len(Counter(r.json["seq_id"] // 1_000_000_000 for r in first_run)) == len(pids)
    assert caught.value.index == 4
    assert isinstance(caught.value.__cause__, ValueError)
