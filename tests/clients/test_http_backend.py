"""Which HTTP backend a ServiceClient's pools send with: the server's ``use_pyqwest_transport``
flag under ``http_backend="auto"``, the caller's choice otherwise, and always the caller's own
transport when one is given. The client-config call itself goes over httpx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sdkgen.runtime import ConfigError
from sdkgen.runtime._pyqwest import PyqwestTransport

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import types


def backends(service: tinker.ServiceClient) -> dict[str, str]:
    """The transport class of every pool built so far, by pool name."""
    api = service.holder.api
    built = api._pools._clients
    return {name: type(client._transport).__name__ for name, client in built.items()}


def train_and_sample(service: tinker.ServiceClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    sampler = training.save_weights_and_get_sampling_client().result(timeout=WAIT)
    params = types.SamplingParams(max_tokens=4)
    out = sampler.sample(types.ModelInput.from_ints([1, 2, 3]), 1, params).result(timeout=WAIT)
    assert len(out.sequences[0].tokens) == 4


@pytest.mark.parametrize("flag", [True, False])
def test_auto_follows_the_server_flag(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory, flag: bool
) -> None:
    server = fake_tinker(client_config=True)
    server.config_flags["use_pyqwest_transport"] = flag
    service = make_service(server)
    train_and_sample(service)
    built = backends(service)
    assert server.requests_to("get_client_config")
    # The settings call went over httpx (its pool was built before the flag was known), and
    # the manifest keeps the control plane on httpx under "auto" (auto_backend: httpx).
    assert built.pop("default") == "_ShardedTransport"
    assert built.pop("session") == "_ShardedTransport"
    built.pop("telemetry", None)  # only once a batch was flushed
    assert set(built) == {"train", "retrieve", "sample"}
    expected = "PyqwestTransport" if flag else "_ShardedTransport"
    assert set(built.values()) == {expected}


def test_creating_clients_builds_no_pyqwest_pool(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    """Session, run creation (and its poll) and run info go over the control-plane pools:
    the pools that send with pyqwest are built by the first training or sampling request."""
    server = fake_tinker(client_config=True)
    server.config_flags["use_pyqwest_transport"] = True
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    built = backends(service)
    assert "PyqwestTransport" not in built.values(), built
    assert not {"train", "retrieve", "sample"} & set(built), built


@pytest.mark.parametrize("forced", ["httpx", "pyqwest"])
def test_a_forced_backend_ignores_the_flag(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory, forced: Any
) -> None:
    server = fake_tinker(client_config=True)
    server.config_flags["use_pyqwest_transport"] = forced == "httpx"  # the other way round
    service = make_service(server, http_backend=forced)
    train_and_sample(service)
    expected = "PyqwestTransport" if forced == "pyqwest" else "_ShardedTransport"
    assert set(backends(service).values()) == {expected}


def test_the_callers_transport_wins(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker()
    own = httpx.AsyncHTTPTransport()
    service = make_service(server, transport=own, http_backend="pyqwest")
    train_and_sample(service)
    for client in service.holder.api._pools._clients.values():
        assert client._transport is own
        assert not isinstance(client._transport, PyqwestTransport)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ConfigError, match="http_backend"):
        tinker.ServiceClient(base_url="http://127.0.0.1:9", http_backend="curl")  # type: ignore[arg-type]
