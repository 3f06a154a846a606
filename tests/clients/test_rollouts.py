"""``tinkex.rollouts`` against the fake server: a spawn process pool (the workers are other
processes, so the server is a real one on 127.0.0.1), and a thread pool where a test needs to
hold items back. Results in order and as completed, the sampler built once per process, the key
in the recipe or not, errors with the item's index, the deadline, and the report."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import tinkex as tinker
from tests.clients import _rollout_work as work
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker
from tinkex.rollouts import RolloutError, RolloutTimeoutError, iter_rollouts, map_rollouts

PARENT_KEY = "tml-parent-key-0123456789"
WORKER_KEY = "tml-worker-key-9876543210"
PROMPTS = [[i, i + 1] for i in range(1, 13)]


@pytest.fixture(scope="module")
def pool() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """Two spawned workers for the whole module (spawning costs about a second each), their
    environment pinned: a key of their own, nothing else of Tinker's."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        2, mp_context=context, initializer=work.set_env, initargs=({"TINKER_API_KEY": WORKER_KEY},)
    ) as executor:
        yield executor


@pytest.fixture
def sampler(server: FakeTinker, make_service: ServiceFactory) -> tinker.SamplingClient:
    service = make_service(server, api_key=PARENT_KEY, pickle_credentials="include")
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def _expected(sampler: tinker.SamplingClient, prompt: list[int]) -> list[int]:
    out = sampler.sample(tinker.ModelInput.from_ints(prompt), 1, work.PARAMS).result(timeout=WAIT)
    return list(out.sequences[0].tokens)


def test_a_spawn_pool_samples_every_item_in_order(
    server: FakeTinker,
    sampler: tinker.SamplingClient,
    pool: concurrent.futures.ProcessPoolExecutor,
) -> None:
    out = map_rollouts(sampler, work.tokens, PROMPTS, executor=pool, items_per_task=3, timeout=90)
    assert [r["tokens"] for r in out.results] == [_expected(sampler, p) for p in PROMPTS]
    pids = {r["pid"] for r in out.results}
    report = out.report
    assert report.items == len(PROMPTS)
    assert {p.pid for p in report.processes} == pids
    assert sum(p.items for p in report.processes) == len(PROMPTS)
    assert sum(p.tasks for p in report.processes) == len(PROMPTS) // 3
    assert report.requests == len(PROMPTS)
    for process in report.processes:
        assert 1 <= process.peak_items_in_flight <= 3
        assert process.sampler.requests == process.items
        assert process.sampler.limit == 400
    # One sampler per worker process, whatever the number of tasks: one clone id (the seq ids'
    # billions) per process, and each clone fetched the server's config once.
    worker_asamples = [
        r for r in server.requests_to("asample") if r.headers["x-api-key"] == PARENT_KEY
    ]
    clones = Counter(r.json["seq_id"] // 1_000_000_000 for r in worker_asamples)
    assert len(clones) == len(pids) + 1  # the workers', and this process's own (clone 0)
    assert all(r.headers["x-api-key"] == PARENT_KEY for r in server.requests_to("asample"))
    assert server.deduped == []
    text = str(report)
    assert "bound by items_per_task=3" in text or "bound by neither" in text


def test_as_completed_and_async_items(
    sampler: tinker.SamplingClient, pool: concurrent.futures.ProcessPoolExecutor
) -> None:
    with iter_rollouts(sampler, work.tokens_async, PROMPTS[:4], executor=pool, timeout=90) as s:
        got = dict(s)
    assert got == {i: _expected(sampler, p) for i, p in enumerate(PROMPTS[:4])}


def test_environment_credentials_leave_the_key_behind(
    server: FakeTinker,
    sampler: tinker.SamplingClient,
    pool: concurrent.futures.ProcessPoolExecutor,
) -> None:
    map_rollouts(
        sampler, work.tokens, PROMPTS[:4], executor=pool, credentials="environment", timeout=90
    )
    keys = Counter(r.headers["x-api-key"] for r in server.requests_to("asample"))
    assert keys == {WORKER_KEY: 4}  # the workers' own key, never the parent's


def test_a_failed_item_raises_with_its_index_and_the_workers_traceback(
    sampler: tinker.SamplingClient, pool: concurrent.futures.ProcessPoolExecutor
) -> None:
    prompts = [[i] for i in range(1, 9)]
    with pytest.raises(RolloutError) as caught:
        map_rollouts(sampler, work.fail_on_five, prompts, executor=pool, timeout=90)
    err = caught.value
    assert err.index == 4  # the prompt [5]
    assert isinstance(err.__cause__, ValueError)
    assert "prompt 5 is cursed" in str(err)
    assert "fail_on_five" in err.remote_traceback
    assert err.worker is not None
    assert err.worker.rsplit(":", 1)[1].isdigit()


def test_a_worker_without_a_key_fails_the_run_with_the_no_key_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sampler of a server that needs a key (never contacted), pickled without it.
    monkeypatch.setenv("TINKER_PICKLE_CREDENTIALS", "environment")
    state = {"base_url": "https://tinker.invalid", "sampling_session_id": "s:sample:0"}
    handle = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    no_key = {"TINKER_API_KEY": None, "HOME": str(tmp_path)}  # no ~/.tinker credentials
    context = multiprocessing.get_context("spawn")
    with (
        tinker.SamplingClient.from_sampler_handle(handle, api_key=PARENT_KEY) as remote,
        concurrent.futures.ProcessPoolExecutor(
            1, mp_context=context, initializer=work.set_env, initargs=(no_key,)
        ) as lonely,
    ):
        with pytest.raises(RolloutError) as caught:
            map_rollouts(remote, work.tokens, [[1]], executor=lonely, timeout=90)
        assert isinstance(caught.value.__cause__, tinker.ConfigError)
        # Pickled by the pool itself: the task fails with the same error, and the pool lives on.
        with pytest.raises(tinker.ConfigError) as plain:
            lonely.submit(work.sample_plain, remote).result(timeout=60)
        assert lonely.submit(abs, -3).result(timeout=60) == 3
    for text in (str(caught.value), str(plain.value)):
        assert "TINKER_API_KEY" in text
        assert "tinkex auth login" in text


def test_the_deadline_ends_the_run(sampler: tinker.SamplingClient) -> None:
    release = threading.Event()

    def stuck(s: tinker.SamplingClient, i: int) -> int:
        if i == 2:
            release.wait(30)
        return i

    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        t0 = time.monotonic()
        with pytest.raises(RolloutTimeoutError) as caught:
            map_rollouts(sampler, stuck, range(4), executor=threads, items_per_task=1, timeout=1)
        waited = time.monotonic() - t0
        release.set()
    assert waited < 15
    assert caught.value.index == 2
    assert caught.value.done >= 2
    assert isinstance(caught.value, TimeoutError)


def test_the_report_names_the_samplers_limit_when_it_binds(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    config = tinker.RetryConfig(max_connections=1)
    narrow = service.create_sampling_client(base_model=BASE_MODEL, retry_config=config).result(
        timeout=WAIT
    )
    server.latency = 0.05  # submissions overlap
    with concurrent.futures.ThreadPoolExecutor(1) as threads:
        out = map_rollouts(narrow, work.tokens, PROMPTS[:6], executor=threads, items_per_task=6)
    (process,) = out.report.processes
    assert process.sampler.limit == 1
    assert process.sampler.submissions_waited > 0
    assert process.peak_items_in_flight == 6
    assert "bound by the sampler's limit" in str(out.report)


def test_arguments_are_checked(sampler: tinker.SamplingClient) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as threads:
        for bad in ({"items_per_task": 0}, {"max_in_flight": -1}, {"timeout": 0}):
            with pytest.raises(ValueError, match=next(iter(bad))):
                map_rollouts(sampler, work.tokens, [], executor=threads, **bad)  # type: ignore[call-overload]
        assert map_rollouts(sampler, work.tokens, [], executor=threads).results == []
