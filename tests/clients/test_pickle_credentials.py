"""What a pickled SamplingClient carries of the API key (issue 14, rollouts beyond one process).

``ServiceClient(pickle_credentials=...)`` or ``$TINKER_PICKLE_CREDENTIALS`` chooses: "include"
(the key in the pickle, as the official SDK does) or "environment" (no key; the unpickling
process finds its own). Not chosen, the key is included and the first such pickle warns once.
A process that unpickles a keyless sampler and has no key gets an object whose every use raises
the no-key error (raising while unpickling would break a process pool).
"""

from __future__ import annotations

import base64
import json
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tinkex as tinker
import tinkex._sampler_pickle as sampler_pickle
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker
from tinkex import types

PARENT_KEY = "tml-parent-key-0123456789"
PROMPT = types.ModelInput.from_ints([1, 2])
PARAMS = types.SamplingParams(max_tokens=2)


@pytest.fixture(autouse=True)
def _warn_again() -> Iterator[None]:
    """The warning is once per process: each test starts as a fresh process would."""
    sampler_pickle._warned.clear()
    yield
    sampler_pickle._warned.clear()


def _sampler(
    server: FakeTinker, make_service: ServiceFactory, **kwargs: object
) -> tinker.SamplingClient:
    service = make_service(server, api_key=PARENT_KEY, **kwargs)
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def _pickle_warnings(obj: object) -> tuple[bytes, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = pickle.dumps(obj)
    return data, [w for w in caught if issubclass(w.category, tinker.PickledCredentialsWarning)]


def test_by_default_the_key_is_pickled_and_the_first_pickle_warns(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    sampler = _sampler(server, make_service)
    data, caught = _pickle_warnings(sampler)
    assert PARENT_KEY.encode() in data  # as the official SDK's pickle does
    (warning,) = caught
    text = str(warning.message)
    assert "pickle_credentials='environment'" in text
    assert "TINKER_PICKLE_CREDENTIALS" in text
    assert "tinkex auth login" in text
    assert PARENT_KEY not in text
    _, again = _pickle_warnings(sampler)
    assert again == []  # once per process
    with pickle.loads(data) as copy:
        copy.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
    assert server.requests_to("asample")[-1].headers["x-api-key"] == PARENT_KEY


def test_include_chosen_keeps_the_key_without_a_warning(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    data, caught = _pickle_warnings(_sampler(server, make_service, pickle_credentials="include"))
    assert PARENT_KEY.encode() in data
    assert caught == []


def test_environment_leaves_the_key_out_and_the_copy_uses_its_own(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = _sampler(server, make_service, pickle_credentials="environment")
    data, caught = _pickle_warnings(sampler)
    assert PARENT_KEY.encode() not in data
    assert caught == []
    monkeypatch.setenv("TINKER_API_KEY", "tml-the-workers-own")
    with pickle.loads(data) as copy:
        copy.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
        # a copy of a copy stays keyless
        assert b"tml-the-workers-own" not in pickle.dumps(copy)
    assert server.requests_to("asample")[-1].headers["x-api-key"] == "tml-the-workers-own"


def test_the_environment_variable_chooses_too(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_PICKLE_CREDENTIALS", "environment")
    data, caught = _pickle_warnings(_sampler(server, make_service))
    assert PARENT_KEY.encode() not in data
    assert caught == []


def test_a_bad_choice_is_refused_naming_the_setting(
    server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(tinker.ConfigError, match="pickle_credentials='never'"):
        tinker.ServiceClient(base_url=server.base_url, pickle_credentials="never")  # type: ignore[arg-type]
    monkeypatch.setenv("TINKER_PICKLE_CREDENTIALS", "sometimes")
    with pytest.raises(tinker.ConfigError, match=r"\$TINKER_PICKLE_CREDENTIALS='sometimes'"):
        tinker.ServiceClient(base_url=server.base_url)


def _remote_sampler() -> tinker.SamplingClient:
    """A sampler of a server that needs a key (never contacted by these tests)."""
    state = {"base_url": "https://tinker.invalid", "sampling_session_id": "s:sample:0"}
    handle = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    return tinker.SamplingClient.from_sampler_handle(handle, api_key=PARENT_KEY)


def _no_key_anywhere(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD", raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.tinker/credentials.json


def test_without_a_key_the_copy_fails_on_use_naming_where_a_key_comes_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINKER_PICKLE_CREDENTIALS", "environment")
    with _remote_sampler() as sampler:
        data = pickle.dumps(sampler)
    assert PARENT_KEY.encode() not in data
    _no_key_anywhere(monkeypatch, tmp_path)
    unusable = pickle.loads(data)  # no raise here: a process pool's worker would die of it
    with pytest.raises(tinker.ConfigError) as caught:
        unusable.sample(PROMPT, 1, PARAMS)
    text = str(caught.value)
    assert "TINKER_API_KEY" in text
    assert "tinkex auth login" in text
    assert "https://tinker.invalid" in text
    # it travels on unchanged, and a process with a key can use it
    monkeypatch.setenv("TINKER_API_KEY", "tml-later")
    with pickle.loads(pickle.dumps(unusable)) as usable:
        assert isinstance(usable, tinker.SamplingClient)


def test_a_handle_without_a_key_raises_the_same_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with _remote_sampler() as sampler:
        handle = sampler.get_sampler_handle()
    _no_key_anywhere(monkeypatch, tmp_path)
    with pytest.raises(tinker.ConfigError, match="tinkex auth login"):
        tinker.SamplingClient.from_sampler_handle(handle)


def test_concurrency_reports_requests_peak_and_limits(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    sampler = _sampler(server, make_service)
    before = sampler.concurrency()
    assert (before.requests, before.peak_in_flight, before.submissions_waited) == (0, 0, 0)
    assert before.server_limit == 2000  # the fake's client config (fetched with the session)
    assert before.limit == before.client_limit == 400
    futures = [sampler.sample(PROMPT, 1, PARAMS) for _ in range(5)]
    for future in futures:
        future.result(timeout=WAIT)
    after = sampler.concurrency()
    assert after.requests == 5
    assert 1 <= after.peak_in_flight <= 5
    assert after.in_flight == 0
    assert after.server_limit is not None
    assert after.limit == min(400, after.server_limit)


def test_copies_in_one_process_share_connections_until_the_last_closes(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    # The cookbook unpickles the sampler with every task: one loop thread and one pool per
    # process, not one per task.
    data = pickle.dumps(_sampler(server, make_service, pickle_credentials="include"))
    first, second = pickle.loads(data), pickle.loads(data)
    assert first.holder is second.holder
    assert first.cloned_sampler_id != second.cloned_sampler_id
    first.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
    second.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
    assert len(server.requests_to("get_client_config")) == 2  # the service's, the copies' one
    first.close()
    with pytest.raises(tinker.ClientClosedError):
        first.sample(PROMPT, 1, PARAMS)
    second.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)  # still open for the other copy
    assert not second.holder.runner.closed
    second.close()
    assert second.holder.runner.closed  # the last copy closed the connections
    with pickle.loads(data) as third:  # a later copy opens new ones
        assert third.holder is not second.holder
        third.sample(PROMPT, 1, PARAMS).result(timeout=WAIT)
