"""Clients used in a child of ``fork()`` (multiprocessing's default start method on Linux;
issue 10, finding 11).

The child inherits the clients but not the SDK's loop thread; it used to hang silently. Now the
child connects afresh on a loop of its own: a SamplingClient samples there (``sample`` and
``sample_async``; as a clone, so its seq ids stay apart from the parent's), the ServiceClient
opens a session of the child's own when the child creates something (runs made there train
there), and a TrainingClient of the parent's (whose requests the parent numbers) fails at once
with an error that says what to do instead. The parent is not disturbed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, run_in_forked_child
from tests.fake_tinker import FakeTinker
from tinkex import types

PROMPT = types.ModelInput.from_ints([1, 2, 3])
PARAMS = types.SamplingParams(max_tokens=3)


def _child(
    service: tinker.ServiceClient,
    sampler: tinker.SamplingClient,
    training: tinker.TrainingClient,
    out: Any,
) -> None:
    report: dict[str, Any] = {}
    try:
        # first: sample_async on the child's own event loop, with no hand-off to the SDK's
        on_own_loop = asyncio.run(asyncio.wait_for(sampler.sample_async(PROMPT, 1, PARAMS), WAIT))
        report["async"] = list(on_own_loop.sequences[0].tokens)
        inherited = sampler.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
        report["inherited"] = list(inherited.sequences[0].tokens)
        own = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
        report["own_sampler"] = own.sampling_session_id
        report["own_tokens"] = list(
            own.sample(PROMPT, 1, PARAMS).result(timeout=WAIT).sequences[0].tokens
        )
        mine = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
        mine.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=WAIT)
        report["own_run"] = mine.model_id
        try:
            training.optim_step(types.AdamParams(learning_rate=1e-3))
        except tinker.ClientClosedError as err:
            report["training_error"] = str(err)
        service.close()
        report["closed"] = True
    except BaseException as err:
        report["error"] = f"{type(err).__name__}: {err}"
    out.put(report)


def test_clients_in_a_forked_child(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    expected = list(sampler.sample(PROMPT, 1, PARAMS).result(timeout=WAIT).sequences[0].tokens)

    out = run_in_forked_child(_child, service, sampler, training)
    report = out.get()
    assert "error" not in report, report["error"]

    assert report["inherited"] == expected  # the parent's sampler, sampling in the child
    assert report["async"] == expected  # sample_async, on the child's own event loop
    assert report["own_tokens"] == expected
    assert report["closed"]
    # The child's own sampling session is in a session of the child's own.
    parent_session = server.samplers[sampler.sampling_session_id].session_id
    assert server.samplers[report["own_sampler"]].session_id != parent_session
    assert server.sessions[parent_session].finish_reason is None  # the child did not end it
    # A run the child made itself trains there, in the child's session, from seq id 1.
    child_session = server.samplers[report["own_sampler"]].session_id
    assert server.models[report["own_run"]].session_id == child_session
    assert server.seq_log[report["own_run"]] == [0, 1]
    text = report["training_error"]
    assert "fork()" in text
    assert "spawn" in text
    assert "get_sampler_handle" in text
    # Seq ids of one sampling session never repeat (the child sampled as a clone).
    seqs = Counter(
        (r.json["sampling_session_id"], r.json["seq_id"]) for r in server.requests_to("asample")
    )
    assert all(n == 1 for n in seqs.values()), seqs

    # The parent goes on, on its own connections.
    assert training.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=WAIT)
    again = sampler.sample(PROMPT, 1, PARAMS).result(timeout=WAIT).sequences[0].tokens
    assert list(again) == expected
    assert server.optim_steps[training.model_id] == 1


def _use_closed(service: tinker.ServiceClient, out: Any) -> None:
    try:
        service.create_sampling_client(base_model=BASE_MODEL)
        out.put("no error")
    except tinker.ClientClosedError as err:
        out.put(f"closed: {err}")
    except BaseException as err:
        out.put(f"{type(err).__name__}: {err}")


def test_a_closed_client_stays_closed_in_a_forked_child(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    service.close()
    out = run_in_forked_child(_use_closed, service)
    assert out.get().startswith("closed: ")


def _create_runs(service: tinker.ServiceClient, out: Any) -> None:
    try:
        runs = [
            service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT).model_id
            for _ in range(3)
        ]
        service.close()
        out.put(runs)
    except BaseException as err:
        out.put(f"{type(err).__name__}: {err}")


def test_runs_made_in_a_forked_child_are_numbered_from_zero_in_its_session(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    # The parent's count of runs is the parent's: the child's session numbers its own runs
    # 0, 1, 2 (a run numbered from the parent's count once, then from 0, met itself again).
    service = make_service(server)
    parent_run = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    out = run_in_forked_child(_create_runs, service)
    runs = out.get()
    assert isinstance(runs, list), runs
    sessions = {server.models[r].session_id for r in runs}
    assert len(sessions) == 1
    assert sessions != {server.models[parent_run.model_id].session_id}
    assert sorted(r.rsplit(":", 1)[-1] for r in runs) == ["0", "1", "2"]


def _first_contact_state(service: tinker.ServiceClient, out: Any) -> None:
    try:
        out.put(service.holder.api.server_answered)  # the first use rebuilds the connections
    except BaseException as err:
        out.put(f"{type(err).__name__}: {err}")


@pytest.mark.parametrize("answered_before_fork", [True, False])
def test_a_forked_child_keeps_whether_the_server_ever_answered(
    server: FakeTinker, make_service: ServiceFactory, answered_before_fork: bool
) -> None:
    # A server that answered the parent is known to exist: in the child, failures to reach it
    # are an outage (the long retry budget), not a wrong URL (the short first-contact one).
    service = make_service(server)
    if answered_before_fork:
        service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert service.holder.api.server_answered is answered_before_fork
    out = run_in_forked_child(_first_contact_state, service)
    assert out.get() is answered_before_fork
