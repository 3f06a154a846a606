"""A lost answer to a creation call does not end the run (issue #10, finding 9).

``create_session``, ``create_model`` and ``create_sampling_session`` whose answer was lost are
looked up (the session's training runs and sampling sessions, the newest sessions) and adopted
when they happened, resent once (same idempotency key and seq id) when they certainly did not,
and raise ``AmbiguousOutcomeError`` only when that cannot be decided. The server here does NOT
deduplicate (unless a test says so), so a blind resend would create a second object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker, Fault, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import types

CREATIONS = ["create_session", "create_model", "create_sampling_session"]
# Applied, then the answer is lost (dropped, cut off, unreadable): the object is adopted.
APPLIED: dict[str, Callable[[], Fault]] = {
    "drop_after": faults.drop_after,
    "truncate_after": faults.truncate_after,
    "malformed_json": faults.malformed_json,
}


@pytest.fixture
def plain(fake_tinker: FakeTinkerFactory) -> FakeTinker:
    return fake_tinker(dedupe=False, try_agains=1)


def create_all(service: tinker.ServiceClient) -> tuple[tinker.TrainingClient, Any]:
    """Session, training run and sampling session; both clients used once."""
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    training.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=WAIT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    prompt = types.ModelInput.from_ints([1, 2, 3])
    params = types.SamplingParams(max_tokens=2)
    assert sampler.sample(prompt, 1, params).result(timeout=WAIT).sequences
    return training, sampler


def created(server: FakeTinker, endpoint: str) -> int:
    return {
        "create_session": len(server.sessions),
        "create_model": len(server.models),
        "create_sampling_session": len(server.samplers),
    }[endpoint]


def sent(server: FakeTinker, endpoint: str) -> list[Any]:
    return server.requests_to(endpoint)


@pytest.mark.parametrize("kind", list(APPLIED))
@pytest.mark.parametrize("endpoint", CREATIONS)
def test_applied_creation_whose_answer_is_lost_is_adopted(
    plain: FakeTinker, make_service: ServiceFactory, endpoint: str, kind: str
) -> None:
    plain.inject(endpoint, APPLIED[kind]())
    service = make_service(plain, timeout=2.0)
    training, sampler = create_all(service)
    assert plain.faults_fired == [(endpoint, APPLIED[kind]().kind)]
    assert created(plain, endpoint) == 1, "created twice"
    assert len(sent(plain, endpoint)) == 1, "resent although it had happened"
    assert training.model_id in plain.models
    assert sampler.sampling_session_id in plain.samplers
    assert plain.optim_steps[training.model_id] == 1


@pytest.mark.parametrize("endpoint", CREATIONS)
def test_creation_that_did_not_happen_is_resent_once_with_the_same_key(
    plain: FakeTinker, make_service: ServiceFactory, endpoint: str
) -> None:
    plain.inject(endpoint, faults.drop_before())  # read, not applied, no answer
    service = make_service(plain, timeout=2.0)
    create_all(service)
    assert created(plain, endpoint) == 1
    requests = sent(plain, endpoint)
    assert len(requests) == 2, "want exactly one resend"
    assert len({r.headers["x-idempotency-key"] for r in requests}) == 1
    assert requests[0].json == requests[1].json  # same seq id, same attributes


@pytest.mark.parametrize("fault", [faults.drop_after, faults.drop_before])
def test_run_created_from_a_checkpoint_is_recovered_too(
    plain: FakeTinker, make_service: ServiceFactory, fault: Callable[[], Fault]
) -> None:
    """create_training_client_from_state creates by loading (session + model seq id)."""
    service = make_service(plain, timeout=2.0)
    first = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    path = first.save_state("ckpt").result(timeout=WAIT).path
    plain.inject("load_weights", fault())
    resumed = service.create_training_client_from_state(path).result(timeout=WAIT)
    assert resumed.model_id in plain.models
    assert len(plain.models) == 2
    want = 2 if fault is faults.drop_before else 1  # resent once only when it had not happened
    assert len(sent(plain, "load_weights")) == want


def test_second_sampling_session_not_created_is_resent(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    """The session already holds a sampling session (this client's): the seq id still decides."""
    service = make_service(plain, timeout=2.0)
    first = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    plain.inject("create_sampling_session", faults.drop_before())
    second = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert sorted(plain.samplers) == sorted([first.sampling_session_id, second.sampling_session_id])
    assert len(sent(plain, "create_sampling_session")) == 3


def test_without_recovery_the_lost_answer_would_end_the_run(
    plain: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding as reported: with the lookup taken away, the run ends at its creation."""
    import tinkex._creation_recovery as recovery

    async def cannot_tell() -> recovery.Lookup:
        return recovery.Undecided("lookup disabled by the test")

    real = recovery.recover

    async def without_lookup(what: str, create: Any, lookup: Any, adopt: Any) -> Any:
        return await real(what, create, cannot_tell, adopt)

    monkeypatch.setattr(recovery, "recover", without_lookup)
    plain.inject("create_model", faults.drop_after())
    service = make_service(plain, timeout=2.0)
    with pytest.raises(tinker.AmbiguousOutcomeError) as info:
        service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    text = str(info.value)
    assert "may or may not have been applied" in text
    assert "model seq id 0" in text
    assert "lookup disabled by the test" in text
    assert len(plain.models) == 1
    assert len(sent(plain, "create_model")) == 1


def test_undecidable_sampling_session_raises_ambiguous(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    """The session's listing is refused: whether it happened cannot be told, nothing resent."""
    service = make_service(plain, timeout=2.0)
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    plain.inject("create_sampling_session", faults.drop_after())
    plain.inject("get_session", faults.status(403))
    with pytest.raises(tinker.AmbiguousOutcomeError) as info:
        service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert "cannot tell" in str(info.value)
    assert "403" in str(info.value)
    assert len(sent(plain, "create_sampling_session")) == 1


def test_model_is_found_by_its_id_where_sessions_are_not_listable(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    plain.inject("create_model", faults.drop_after())
    plain.inject("get_session", faults.status(404))
    service = make_service(plain, timeout=2.0)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    assert training.model_id in plain.models
    assert len(plain.models) == 1
    assert len(sent(plain, "create_model")) == 1


def test_deduplicating_server_replays_the_resend(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    """A listing that lags behind says "not there" although it was created: the resend carries
    the same idempotency key, so a deduplicating server answers with the first reply (detected:
    the fake records the replay) and there is still one run."""
    server = fake_tinker(dedupe=True)
    server.listing_lag = 1
    server.inject("create_model", faults.drop_after())
    service = make_service(server, timeout=2.0)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    requests = sent(server, "create_model")
    assert len(requests) == 2
    key = requests[0].headers["x-idempotency-key"]
    assert requests[1].headers["x-idempotency-key"] == key
    assert ("create_model", key) in server.deduped
    assert list(server.models) == [training.model_id]


def test_plain_server_with_lagging_listing_never_makes_two_runs(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    """The same lag on a server that does not deduplicate: the resend is refused as a duplicate
    (same model seq id) and, the listing still lagging, the error says what was tried."""
    plain.listing_lag = 1
    plain.inject("create_model", faults.drop_after())
    service = make_service(plain, timeout=2.0)
    with pytest.raises(tinker.RequestFailedError) as info:
        service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    assert "already exists" in str(info.value)
    assert "resent once" in str(info.value)
    assert len(plain.models) == 1


def test_applied_but_not_listed_is_never_resent(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    """A 2xx whose body was cut says it was applied (status first): when the lagging listing
    does not show it, it is not resent either; the error says both."""
    service = make_service(plain, timeout=2.0)
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    plain.listing_lag = 1
    plain.inject("create_sampling_session", faults.truncate_after())
    with pytest.raises(tinker.ResponseLostError) as info:
        service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert "accepted, but not listed" in str(info.value)
    assert len(sent(plain, "create_sampling_session")) == 1
    assert len(plain.samplers) == 1


def _other_process_session(server: FakeTinker, metadata: dict[str, str]) -> str:
    reply = httpx.post(
        f"{server.base_url}/api/v1/create_session",
        json={"tags": [], "user_metadata": metadata, "sdk_version": "x", "type": "create_session"},
        timeout=WAIT,
    )
    reply.raise_for_status()
    session_id: str = reply.json()["session_id"]
    return session_id


def test_lost_session_is_told_apart_by_its_metadata(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    other = _other_process_session(plain, {"worker": "1"})
    plain.inject("create_session", faults.drop_after())
    service = make_service(plain, timeout=2.0, user_metadata={"worker": "0"})
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    assert len(plain.sessions) == 2
    assert plain.models[training.model_id].session_id != other


def test_two_matching_empty_sessions_cannot_be_told_apart(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    _other_process_session(plain, {"worker": "0"})
    plain.inject("create_session", faults.drop_after())
    service = make_service(plain, timeout=2.0, user_metadata={"worker": "0"})
    with pytest.raises(tinker.AmbiguousOutcomeError) as info:
        service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    assert "distinctive user_metadata" in str(info.value)
    assert len(plain.sessions) == 2  # nothing resent


def test_optimizer_steps_are_still_not_resent(
    plain: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(plain, timeout=2.0)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    plain.inject("optim_step", faults.drop_after())
    with pytest.raises(tinker.AmbiguousOutcomeError) as info:
        training.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=WAIT)
    assert "seq id 1" in str(info.value)
    assert len(sent(plain, "optim_step")) == 1
    assert plain.optim_steps[training.model_id] == 1
