"""Opt-in recovery of a broken training run: restart it from its last checkpoint and go on.

Nothing here runs unless asked: wrap a training loop in ``RecoverableRun`` with a
``RecoveryPolicy``. It saves checkpoints at an interval; when a step breaks the run (the server
was unreachable past the client's retries, lost the model or the request as after a restart,
reports the run corrupted, or the loss is NaN), it waits for the server, creates a fresh
``TrainingClient`` from the chosen checkpoint (weights, and by default the optimizer state), and
the loop goes on from that checkpoint's step.

What it promises: the weights the loop goes on with hold exactly the optimizer steps the loop
applied up to that checkpoint; the steps after it run again. What it does not: it cannot make
a step that ``train_step`` did outside the client it was given undone, nor bring back a
checkpoint the server lost; data-loader state is the caller's (``train_step`` receives the
step number to pick its batch by).

Example::

    from tinkex.recovery import RecoverableRun, RecoveryPolicy

    run = RecoverableRun(service, training_client, RecoveryPolicy(max_attempts=3),
                         checkpoint_every=10)
    summary = run.run(train_step, steps=200)
    print(summary.recoveries)
"""

from ._executor import RecoveryExecutor, SavedCheckpoint
from ._monitor import RecoveryMonitor, loss_of
from ._policy import (
    BreakageKind,
    RecoveryError,
    RecoveryEvent,
    RecoveryEventKind,
    RecoveryExhaustedError,
    RecoveryPolicy,
    step_of_checkpoint,
)
from ._run import RecoverableRun, RunSummary, TrainStep

__all__ = [
    "BreakageKind",
    "RecoverableRun",
    "RecoveryError",
    "RecoveryEvent",
    "RecoveryEventKind",
    "RecoveryExecutor",
    "RecoveryExhaustedError",
    "RecoveryMonitor",
    "RecoveryPolicy",
    "RunSummary",
    "SavedCheckpoint",
    "TrainStep",
    "loss_of",
    "step_of_checkpoint",
]
