"""tinkex.recovery on the fake server: each kind of breakage is recovered from its last
checkpoint, and the weights the loop finishes with hold exactly ``steps`` optimizer steps."""

from __future__ import annotations

import math
from typing import Any

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.faults import drop_before, fail, status
from tinkex import types
from tinkex.recovery import (
    RecoverableRun,
    RecoveryError,
    RecoveryEvent,
    RecoveryExhaustedError,
    RecoveryPolicy,
    step_of_checkpoint,
)

STEPS = 10
ADAM = types.AdamParams(learning_rate=1e-3)
DATA = [datum([1, 2, 3, 4, 5])]


def fast_policy(**kwargs: Any) -> RecoveryPolicy:
    kwargs.setdefault("initial_delay", 0.01)
    kwargs.setdefault("max_delay", 0.02)
    kwargs.setdefault("server_wait", WAIT)
    return RecoveryPolicy(**kwargs)


def step_fn(break_at: int | None = None, breaker: Any = None) -> tuple[Any, list[tuple[str, int]]]:
    """A train step that calls ``breaker(client)`` once, before step ``break_at``'s work."""
    seen: list[tuple[str, int]] = []
    broken = False

    def train_step(client: tinker.TrainingClient, step: int) -> Any:
        nonlocal broken
        seen.append((client.model_id, step))
        if step == break_at and not broken:
            broken = True
            result = breaker(client)
            if result is not None:
                return result
        out = client.forward_backward(DATA, "cross_entropy")
        client.optim_step(ADAM).result(timeout=WAIT)
        return out.result(timeout=WAIT)

    return train_step, seen


def run_recovering(
    server: FakeTinker,
    make_service: ServiceFactory,
    breaker: Any,
    policy: RecoveryPolicy | None = None,
    **service_kwargs: Any,
) -> tuple[Any, list[RecoveryEvent], list[tuple[str, int]]]:
    events: list[RecoveryEvent] = []
    policy = policy or fast_policy()
    policy = RecoveryPolicy(**{**_fields(policy), "on_event": events.append})
    service = make_service(server, **service_kwargs)
    client = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    train_step, seen = step_fn(break_at=7, breaker=breaker)
    summary = RecoverableRun(service, client, policy, checkpoint_every=3).run(train_step, STEPS)
    return summary, events, seen


def _fields(policy: RecoveryPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in policy.__dataclass_fields__}


def assert_exact(server: FakeTinker, summary: Any) -> None:
    final = summary.training_client.model_id
    assert server.models[final].weights == STEPS  # none lost, none doubled
    assert summary.steps == STEPS


def test_lost_model_goes_back_to_the_last_checkpoint(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    summary, events, seen = run_recovering(
        server, make_service, lambda client: server.models.pop(client.model_id) and None
    )
    assert summary.recoveries == ((7, 6, "lost_model"),)
    assert [e.kind for e in events] == ["detected", "started", "checkpoint_chosen", "completed"]
    assert events[2].checkpoint is not None
    assert step_of_checkpoint(events[2].checkpoint) == 6
    assert "unknown model" in (events[0].error or "")
    first, second = seen[0][0], seen[-1][0]
    assert first != second  # the loop finished on a fresh client...
    assert [s for m, s in seen if m == second] == [6, 7, 8, 9]  # ...redoing steps 6 and up
    assert_exact(server, summary)
    # The checkpoints of the fresh run carry on from the one gone back to.
    assert [c.step for c in summary.checkpoints] == [0, 3, 6, 9]


def test_unreachable_server_is_recovered(server: FakeTinker, make_service: ServiceFactory) -> None:
    def cut(client: tinker.TrainingClient) -> None:
        # The connection drops with the request sent: applied or not, unknown. Recovery goes
        # back to the checkpoint rather than guess (a resend could step twice).
        server.inject("forward_backward", drop_before())

    summary, events, _ = run_recovering(server, make_service, cut, max_retries=1)
    assert summary.recoveries == ((7, 6, "unreachable"),)
    assert "AmbiguousOutcomeError" in (events[0].error or "")
    assert_exact(server, summary)


def test_corrupted_run_is_recovered_and_the_broken_run_unloaded(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    def corrupt(client: tinker.TrainingClient) -> None:
        server.models[client.model_id].corrupted = True
        server.inject("forward_backward", fail("weights corrupted"))

    summary, _, seen = run_recovering(server, make_service, corrupt)
    assert summary.recoveries == ((7, 6, "corrupted"),)
    assert server.models[seen[0][0]].unloaded
    assert_exact(server, summary)


def test_a_failure_of_a_healthy_run_is_raised_not_recovered(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    def plain_failure(client: tinker.TrainingClient) -> None:
        server.inject("forward_backward", fail("bad input", category="user"))

    with pytest.raises(tinker.RequestFailedError, match="bad input"):
        run_recovering(server, make_service, plain_failure)


def test_nan_loss_is_recovered(server: FakeTinker, make_service: ServiceFactory) -> None:
    summary, _, _ = run_recovering(server, make_service, lambda client: {"loss:sum": math.nan})
    assert summary.recoveries == ((7, 6, "nan_loss"),)
    assert_exact(server, summary)


def test_custom_breakage(server: FakeTinker, make_service: ServiceFactory) -> None:
    class Flaky(RuntimeError):
        pass

    def boom(client: tinker.TrainingClient) -> None:
        raise Flaky("the data loader lost its place")

    policy = fast_policy(is_broken=lambda err: isinstance(err, Flaky))
    summary, _, _ = run_recovering(server, make_service, boom, policy)
    assert summary.recoveries == ((7, 6, "custom"),)
    assert_exact(server, summary)
    with pytest.raises(Flaky):  # without the predicate it is the user's error
        run_recovering(server, make_service, boom, fast_policy())


def test_exhausted_attempts_raise_with_the_last_cause(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    def lose_and_refuse(client: tinker.TrainingClient) -> None:
        server.models.pop(client.model_id)
        server.inject("load_weights", status(422), times=10)

    with pytest.raises(RecoveryExhaustedError, match="2 recovery attempt") as info:
        run_recovering(server, make_service, lose_and_refuse, fast_policy(max_attempts=2))
    assert info.value.__cause__ is not None


def test_a_named_checkpoint_that_does_not_exist_fails_before_the_first_step(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    client = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    train_step, seen = step_fn()
    run = RecoverableRun(service, client, fast_policy(checkpoint="nope-step-000005"))
    with pytest.raises(RecoveryError, match="has no checkpoint") as info:
        run.run(train_step, STEPS)
    assert "nope-step-000005" in str(info.value)
    assert seen == []  # nothing trained


def test_a_named_checkpoint_is_gone_back_to(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    client = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    warm, _ = step_fn()
    warm(client, 0)
    warm(client, 1)
    client.save_state("warm-step-000002").result(timeout=WAIT)
    train_step, _ = step_fn(break_at=5, breaker=lambda c: server.models.pop(c.model_id) and None)
    policy = fast_policy(checkpoint="warm-step-000002")
    summary = RecoverableRun(service, client, policy, start_step=2).run(train_step, STEPS)
    assert summary.recoveries == ((5, 2, "lost_model"),)
    assert server.models[summary.training_client.model_id].weights == STEPS


def test_no_checkpoint_to_go_back_to(server: FakeTinker, make_service: ServiceFactory) -> None:
    service = make_service(server)
    client = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    train_step, _ = step_fn(break_at=1, breaker=lambda c: server.models.pop(c.model_id) and None)
    with pytest.raises(RecoveryError, match="before any checkpoint was saved"):
        RecoverableRun(service, client, fast_policy()).run(train_step, STEPS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"breakages": ["meteor"]}, "unknown kind"),
        ({"initial_delay": -1}, "initial_delay must be a number >= 0"),
        ({"checkpoint": "my-checkpoint"}, "pass checkpoint_step"),
        ({"checkpoint_step": 3}, 'not "latest"'),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(tinker.ConfigError, match=message):
        RecoveryPolicy(**kwargs)
