"""A seeded chaos loop: training runs against a fake server that does NOT deduplicate, with
connections dropped (before and after the request is applied) and replies cut off on every path
(issue 10, "Done when").

Run after run (a ServiceClient, a training run, a sampling client, then steps of
forward_backward + optim_step and a sample), faults are armed at random on any endpoint:
creations, steps, polls, lookups, heartbeats, telemetry. Checked:

* every step either completes or raises ``AmbiguousOutcomeError`` naming its endpoint
  (``forward_backward`` / ``optim_step``) and seq id;
* no creation (session, training run, sampling session) ends a run;
* nothing is applied twice (the fake's counters): one session, one run, one sampling session
  per client; per run no seq id applied twice, and no more optimizer steps than were asked for;
  every call that returned was applied.

The duration (seconds, split over the seeds) is ``TINKEX_CHAOS_SECONDS`` (default 12; the
issue's 30-second run: ``TINKEX_CHAOS_SECONDS=30``), the seeds ``TINKEX_CHAOS_SEEDS`` ("1,2").
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import tinkex
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import AmbiguousOutcomeError, APIError, APIFuture, types

DURATION = float(os.environ.get("TINKEX_CHAOS_SECONDS", "12"))
SEEDS = [int(s) for s in os.environ.get("TINKEX_CHAOS_SEEDS", "1,2").split(",")]
STEPS = 9  # per run
FAULT_RATE = 0.2  # chance, before each request the loop makes, that a fault is armed
BASE_MODEL = "fake/tiny-model"
# Every path the loop's requests take, the creations and their lookups included.
PATHS = [
    "create_session",
    "create_model",
    "create_sampling_session",
    "get_info",
    "get_session",
    "list_sessions",
    "get_training_run",
    "get_sampler",
    "forward_backward",
    "optim_step",
    "retrieve_future",
    "asample",
    "session_heartbeat",
    "telemetry",
]
KINDS = [faults.drop_before, faults.drop_after, faults.truncate_after]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(DURATION + 120)]


@dataclass
class Step:
    op: str
    seq_id: int
    error: BaseException | None = None


@dataclass
class Run:
    model_id: str = ""
    number: int = 0
    sampler_id: str = ""
    steps: list[Step] = field(default_factory=list)


def datum(step: int) -> types.Datum:
    tokens = [1 + step, 2 + step, 3 + step, 4 + step]
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0, 1.0, 1.0]},
    )


def chaos(fake: FakeTinker, rng: random.Random) -> None:
    if rng.random() < FAULT_RATE:
        fake.inject(rng.choice(PATHS), rng.choice(KINDS)())


def settle(step: Step, future: APIFuture[Any]) -> Step:
    """Wait for one step: it completes, or its answer was lost (recorded)."""
    try:
        future.result()
    except AmbiguousOutcomeError as err:
        step.error = err
    return step


def one_run(fake: FakeTinker, rng: random.Random, number: int) -> Run:
    run = Run(number=number)
    service = tinkex.ServiceClient(
        base_url=fake.base_url,
        api_key="tml-chaos-key",
        user_metadata={"chaos_run": str(number)},  # tells concurrent sessions apart
        timeout=2.0,
        max_retries=6,
        result_timeout=30.0,
        heartbeat_period=0.3,
        telemetry_flush_interval=0.5,
    )
    try:
        chaos(fake, rng)
        training = service.create_lora_training_client(BASE_MODEL, rank=4).result()
        run.model_id = training.model_id
        chaos(fake, rng)
        sampler = service.create_sampling_client(base_model=BASE_MODEL).result()
        run.sampler_id = sampler.sampling_session_id
        adam = types.AdamParams(learning_rate=1e-3)
        for step in range(STEPS):
            chaos(fake, rng)
            fb = training.forward_backward([datum(step)], "cross_entropy")
            run.steps.append(settle(Step("forward_backward", 2 * step + 1), fb))
            chaos(fake, rng)
            run.steps.append(settle(Step("optim_step", 2 * step + 2), training.optim_step(adam)))
        chaos(fake, rng)
        prompt = types.ModelInput.from_ints([1, 2, 3])
        with contextlib.suppress(AmbiguousOutcomeError):  # a sample changes nothing
            sampler.sample(prompt, 1, types.SamplingParams(max_tokens=2)).result()
    finally:
        service.close()
    return run


@pytest.mark.parametrize("seed", SEEDS)
def test_chaos_loop(fake_tinker: FakeTinkerFactory, seed: int) -> None:
    fake = fake_tinker(dedupe=False, try_agains=1)
    rng = random.Random(seed)
    runs: list[Run] = []
    deadline = time.monotonic() + DURATION / len(SEEDS)
    while time.monotonic() < deadline:
        try:
            runs.append(one_run(fake, rng, len(runs)))
        except APIError as err:  # a creation (or a step's unexpected error) ended the run
            pytest.fail(f"seed {seed}, run {len(runs)} ended: {type(err).__name__}: {err}")
    fake.clear_faults()
    assert len(runs) >= 2, "the loop made too few runs to mean anything"
    assert len(fake.faults_fired) >= 5, f"too few faults fired: {fake.faults_fired}"

    # one session, one training run, one sampling session per client
    assert len(fake.sessions) == len(runs), sorted(fake.sessions)
    assert sorted(fake.models) == sorted(r.model_id for r in runs)
    assert sorted(fake.samplers) == sorted(r.sampler_id for r in runs)
    for run in runs:
        session = fake.sessions[fake.models[run.model_id].session_id]
        assert session.user_metadata == {"chaos_run": str(run.number)}  # its own session
        assert fake.samplers[run.sampler_id].session_id == session.session_id
        check_run(fake, run)


def check_run(fake: FakeTinker, run: Run) -> None:
    assert fake.applied[("create_model", run.model_id)] == 1
    log = fake.seq_log[run.model_id]
    assert log == sorted(set(log)), f"{run.model_id}: seq ids applied twice / out of order: {log}"
    applied = {seq for seq, _ep, ok in fake.seq_arrivals[run.model_id] if ok}
    for step in run.steps:
        if step.error is None:
            assert step.seq_id in applied, f"{step.op} seq {step.seq_id} returned, not applied"
        else:
            text = str(step.error)
            assert step.op in text, text
            assert f"seq id {step.seq_id}" in text, text
    optim = [s for s in run.steps if s.op == "optim_step"]
    assert sum(s.error is None for s in optim) <= fake.optim_steps[run.model_id] <= len(optim)
