"""Recovery: a training run that survives its server being killed and restarted mid-run.

Starts a local skyrl-tx server of its own (it has to stop it), trains with
``tinkex.recovery.RecoverableRun`` saving a checkpoint every 4 steps, kills the server by PID
during step 9, starts it again on the same address, database and checkpoints, and lets recovery
bring the run back: a fresh TrainingClient from the step-8 checkpoint (weights and optimizer
state), steps 8 and on redone, the loss going on falling. The loss of the redone step 8 equals
the first one: the weights gone on with hold exactly the 8 optimizer steps of the checkpoint.

    python examples/recovery.py        # the local backend only (it cannot restart yours)
"""

from __future__ import annotations

import json
import threading

from _common import (
    LEARNING_RATE,
    LORA_RANK,
    Example,
    check,
    mean_nll,
    run,
    section,
    skip,
)

import tinkex as tinker
from tinkex import types
from tinkex.local import Backend, start_backend
from tinkex.recovery import RecoverableRun, RecoveryEvent, RecoveryPolicy

STEPS = 12
EVERY = 4
KILL_AT = 9
# The same weights and data give the same loss (up to the server's float arithmetic).
SAME_LOSS = 1e-3


def main(ex: Example) -> None:
    if not ex.local:
        skip("needs a local skyrl-tx backend that it can stop and start again")
    section("a local server of this example's own")
    backend = start_backend()
    restarted: list[Backend] = []
    try:
        train(ex, backend, restarted)
    finally:
        for b in [backend, *restarted]:
            b.stop()  # by PID


def train(ex: Example, backend: Backend, restarted: list[Backend]) -> None:
    adam = types.AdamParams(learning_rate=LEARNING_RATE)
    events: list[RecoveryEvent] = []
    losses: list[tuple[str, int, float]] = []  # (model id, step, loss before its optim step)
    restart_done = threading.Event()
    finished = threading.Event()

    def on_event(event: RecoveryEvent) -> None:
        events.append(event)
        print(f"  recovery: {event.kind} at step {event.step}"
              + (f" ({event.reason})" if event.reason else "")
              + (f" -> {event.checkpoint} (step {event.resume_step})" if event.resume_step is not None else ""),
              flush=True)  # fmt: skip

    def restart() -> None:
        new = start_backend(run_dir=backend.run_dir, port=backend.port)
        restarted.append(new)
        print(f"  server back on the same port (pid {new.pid})", flush=True)
        restart_done.set()
        # Linux sends the server SIGTERM when the thread that started it ends (the launcher's
        # parent-death signal, meant for a killed example): this thread lives until the end.
        finished.wait()

    base_url = backend.base_url
    base_model = backend.base_model
    # The client's own retries ride out most of the restart; what they cannot hide (the model
    # and the step's request were in the killed process) is recovery's to handle.
    with tinker.ServiceClient(base_url=base_url, api_key="tml-local-skyrl") as service:
        client = service.create_lora_training_client(base_model, rank=LORA_RANK).result()
        data = ex.training_data()
        killer: threading.Thread | None = None

        def train_step(tc: tinker.TrainingClient, step: int) -> object:
            nonlocal killer
            if step == KILL_AT and killer is None:
                print(f"  killing the server (pid {backend.pid}) in step {step}", flush=True)
                backend.stop()
                killer = threading.Thread(target=restart, daemon=True)
                killer.start()  # the step's requests meet a server that is down, then back
            out = tc.forward_backward(data, "cross_entropy")
            tc.optim_step(adam).result()
            result = out.result()
            losses.append((tc.model_id, step, mean_nll(result, data)))
            print(f"  step {step:2d} on {tc.model_id}: loss {losses[-1][2]:.4f}", flush=True)
            return result

        section(
            f"train {STEPS} steps, a checkpoint every {EVERY}, the server killed in step {KILL_AT}"
        )
        policy = RecoveryPolicy(max_attempts=5, server_wait=600, on_event=on_event)
        summary = RecoverableRun(service, client, policy, checkpoint_every=EVERY).run(
            train_step, STEPS
        )
        restart_done.wait(timeout=600)
        finished.set()

    section("what happened")
    first_run, last_run = losses[0][0], losses[-1][0]
    kinds = [e.kind for e in events]
    print(f"  recoveries (broke at, resumed from, why): {summary.recoveries}")
    check(summary.recoveries != (), "the run was never recovered")
    check(first_run != last_run, "the loop did not finish on a fresh client")
    check("completed" in kinds, f"no completed recovery: {kinds}")
    resumed_from = summary.recoveries[-1][1]
    before = [loss for m, s, loss in losses if m == first_run and s == resumed_from]
    after = [loss for m, s, loss in losses if m == last_run and s == resumed_from]
    check(bool(before) and bool(after), "the checkpoint's step was not both run and redone")
    print(
        f"  step {resumed_from}: loss {before[0]:.5f} before, {after[0]:.5f} redone after recovery"
    )
    check(abs(before[0] - after[0]) < SAME_LOSS, "the recovered weights are not the checkpoint's")
    final = [loss for m, _, loss in losses if m == last_run]
    check(final[-1] < final[0], f"the loss did not go on falling after recovery: {final}")
    check(losses[-1][1] == STEPS - 1, "the run did not reach its last step")
    print(f"  loss {losses[0][2]:.4f} at step 0 -> {final[-1]:.4f} at step {STEPS - 1}")
    print("RESULT " + json.dumps({
        "recoveries": summary.recoveries, "losses": losses,
        "events": kinds, "resumed_from": resumed_from,
    }))  # fmt: skip


if __name__ == "__main__":
    run(main)
