"""Recovery end to end: a real skyrl-tx server is killed by PID mid-run and started again on
the same address, database and checkpoints; ``RecoverableRun`` brings the run back from its
last checkpoint and the loss goes on falling."""

from __future__ import annotations

import threading
from typing import Any

import tinkex as tinker
from tests.e2e.conftest import API_KEY, LEARNING_RATE, LORA_RANK, RESULT_TIMEOUT, TRAIN_LINES
from tinkex import types
from tinkex.recovery import RecoverableRun, RecoveryEvent, RecoveryPolicy

STEPS = 8
EVERY = 3
KILL_AT = 7  # after the step-6 checkpoint


def _mean_nll(output: types.ForwardBackwardOutput, data: list[types.Datum]) -> float:
    total = weight = 0.0
    for out, datum in zip(output.loss_fn_outputs, data, strict=True):
        weights = datum.loss_fn_inputs["weights"].tolist()
        total += sum(-lp * w for lp, w in zip(out["logprobs"].tolist(), weights, strict=False))
        weight += sum(weights)
    return total / weight


def test_a_run_survives_its_server_killed_and_restarted() -> None:
    from tinkex.local import start_backend, tokenize

    own = start_backend()  # this test's own server: it stops it
    servers: list[Any] = [own]
    restarted = threading.Event()
    finished = threading.Event()

    def restart() -> None:
        try:
            servers.append(start_backend(run_dir=own.run_dir, port=own.port))
        finally:
            restarted.set()
        # The server gets SIGTERM when the thread that started it ends (the launcher's
        # parent-death signal): this thread lives until the test is done with it.
        finished.wait(timeout=1800)

    try:
        data = [
            types.Datum(
                model_input=types.ModelInput.from_ints(ids[:-1]),
                loss_fn_inputs={"target_tokens": ids[1:], "weights": [1.0] * (len(ids) - 1)},
            )
            for ids in tokenize(TRAIN_LINES, own.tokenizer_dir)
        ]
        adam = types.AdamParams(learning_rate=LEARNING_RATE)
        losses: list[tuple[str, int, float]] = []
        events: list[RecoveryEvent] = []
        killed = False

        def train_step(client: tinker.TrainingClient, step: int) -> object:
            nonlocal killed
            if step == KILL_AT and not killed:
                killed = True
                own.stop()  # by PID, in the middle of the run
                threading.Thread(target=restart, daemon=True).start()
            out = client.forward_backward(data, "cross_entropy")
            client.optim_step(adam).result(timeout=RESULT_TIMEOUT)
            result = out.result(timeout=RESULT_TIMEOUT)
            losses.append((client.model_id, step, _mean_nll(result, data)))
            return result

        with tinker.ServiceClient(base_url=own.base_url, api_key=API_KEY) as service:
            first = service.create_lora_training_client(own.base_model, rank=LORA_RANK).result(
                timeout=RESULT_TIMEOUT
            )
            policy = RecoveryPolicy(max_attempts=5, server_wait=600, on_event=events.append)
            summary = RecoverableRun(service, first, policy, checkpoint_every=EVERY).run(
                train_step, STEPS
            )
        assert restarted.wait(timeout=600)
    finally:
        finished.set()
        for server in servers:
            server.stop()

    assert killed
    assert len(summary.recoveries) == 1, summary.recoveries
    broke_at, resumed_from, kind = summary.recoveries[0]
    assert (broke_at, resumed_from) == (KILL_AT, 6)
    assert kind in ("lost_model", "unreachable")
    assert [e.kind for e in events][-1] == "completed"
    last = summary.training_client.model_id
    assert last != first.model_id
    # The redone step 6 sees the same weights as the first step 6: exactly 6 optimizer steps,
    # none lost and none doubled by the restart.
    before = [loss for m, s, loss in losses if m == first.model_id and s == resumed_from]
    after = [loss for m, s, loss in losses if m == last and s == resumed_from]
    assert abs(before[0] - after[0]) < 1e-3, (before, after)
    # And training goes on: the loss keeps falling after recovery, to below where it was.
    redone = [loss for m, _, loss in losses if m == last]
    assert [s for m, s, _ in losses if m == last] == list(range(resumed_from, STEPS))
    assert redone[-1] < redone[0] < losses[0][2]
