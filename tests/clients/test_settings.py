"""A client's configuration is resolved once (arguments > environment > defaults) into one frozen
``ClientSettings``, checked there with errors that name the setting; the runtime's
``ClientConfig`` is built from it once and shared by every connection the client makes, a
forked child's new ones included."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sdkgen.runtime import ClientConfig, ConfigError

import tinkex as tinker
from tests.clients.conftest import (
    BASE_MODEL,
    WAIT,
    ServiceFactory,
    run_in_forked_child,
    tinkex_threads,
)
from tests.fake_tinker import FakeTinker
from tinkex._settings import ClientSettings

# The default (hosted) server needs a key: settings refuse to resolve without one.
KEY_ONLY = {"TINKER_API_KEY": "tml-settings-test"}


def test_arguments_win_over_the_environment_which_wins_over_defaults() -> None:
    environ = {
        "TINKER_BASE_URL": "http://127.0.0.1:9/",
        "TINKER_PROJECT_ID": "proj-env",
        "TINKER_TAGS": " nightly, eu ,,",
        "TINKER_TIMEOUT": "12",
        **KEY_ONLY,
    }
    settings = ClientSettings.resolve(environ=environ, tags=["mine", "eu"])
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.project_id == "proj-env"
    assert settings.tags == ("eu", "mine", "nightly")
    assert settings.config.timeout == 12.0
    assert settings.heartbeat_period == 10.0
    assert settings.result_timeout == 3600.0
    given = ClientSettings.resolve(
        environ=environ, base_url="http://127.0.0.1:8", project_id="proj-arg", timeout=3
    )
    assert (given.base_url, given.project_id, given.config.timeout) == (
        "http://127.0.0.1:8",
        "proj-arg",
        3.0,
    )
    assert ClientSettings.resolve(environ=KEY_ONLY).project_id is None


def test_settings_are_frozen() -> None:
    settings = ClientSettings.resolve(environ=KEY_ONLY, user_metadata={"team": "a"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.heartbeat_period = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.user_metadata["team"] = "b"  # type: ignore[index]


@pytest.mark.parametrize(
    ("keywords", "names"),
    [
        ({"heartbeat_period": 0}, "heartbeat_period=0 must be a positive number of seconds"),
        ({"heartbeat_period": float("nan")}, "heartbeat_period=nan"),
        ({"telemetry_flush_interval": -1.0}, "telemetry_flush_interval=-1.0"),
        ({"result_timeout": 0}, "result_timeout=0 .*or None"),
        ({"tags": "nightly"}, "tags='nightly' must be a list of strings"),
        ({"unreachable_timeout": 0}, "unreachable_timeout=0"),
        ({"timeout": 0}, "timeout=0"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"wire": "xml"}, "wire='xml'"),
        ({"http_backend": "curl"}, "http_backend='curl'"),
        ({"base_url": "127.0.0.1:8000"}, "base_url='127.0.0.1:8000' must start with http"),
    ],
)
def test_a_bad_setting_is_refused_by_name_before_anything_starts(
    keywords: dict[str, Any], names: str
) -> None:
    with pytest.raises(ConfigError, match=names):
        tinker.ServiceClient(**{"base_url": "http://127.0.0.1:9", **keywords})
    assert tinkex_threads() == []


def test_the_runtime_config_is_resolved_once(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    original = ClientConfig.resolve.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ClientConfig], api: Any, **kwargs: Any) -> ClientConfig:
        calls.append(kwargs.get("base_url"))
        return original(cls, api, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(ClientConfig, "resolve", classmethod(counting))
    service = make_service(server, tags=["t"], user_metadata={"k": "v"})
    assert calls == [server.base_url]
    holder = service.holder
    assert holder.api.config is holder.settings.config
    assert holder.settings.tags == ("t",)
    service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert calls == [server.base_url]  # a session, a sampler: nothing resolved again
    session = server.sessions[holder.session.known_id or ""]
    assert (session.tags, session.user_metadata) == (["t"], {"k": "v"})


def _report_config(service: tinker.ServiceClient, parent_api_id: int, out: Any) -> None:
    try:
        holder = service.holder
        api = holder.api  # rebuilt here, on first use in the child
        out.put(
            {
                "new_connections": id(api) != parent_api_id,
                "same_config": api.config is holder.settings.config,
            }
        )
    except BaseException as err:
        out.put({"error": f"{type(err).__name__}: {err}"})


def test_a_forked_child_connects_afresh_with_the_same_settings(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    out = run_in_forked_child(_report_config, service, id(service.holder.api))
    assert out.get() == {"new_connections": True, "same_config": True}
