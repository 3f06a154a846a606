"""The runtime reports its retries itself (an INFO line on the API's logger, with the endpoint
and the cause), so stamina's own WARNING line for them is dropped; a program's own stamina
retries are logged as stamina logs them. The manifest's ``env.log`` variable sets the level."""

from __future__ import annotations

import dataclasses
import logging

import httpx
import pytest
import stamina
from sdkgen.runtime import APISpec
from sdkgen.runtime._telemetry import apply_log_env

from ._support import API_SPEC, AsyncFactory, SyncFactory, endpoint


def _flaky() -> httpx.MockTransport:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503 if calls < 3 else 200, json={"ok": True})

    return httpx.MockTransport(handler)


def _stamina_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "stamina"]


def test_the_runtimes_retries_are_reported_once_at_info(
    make_client: SyncFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_client(transport=_flaky())
    api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert _stamina_lines(caplog) == []
    ours = [r for r in caplog.records if r.getMessage().startswith("retrying get_item")]
    assert [r.levelno for r in ours] == [logging.INFO, logging.INFO]
    assert ours[0].name == API_SPEC.logger


async def test_the_async_client_too(
    make_async_client: AsyncFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_async_client(transport=_flaky())
    await api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert _stamina_lines(caplog) == []


def test_a_programs_own_stamina_retries_still_log(
    make_client: SyncFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_client(transport=_flaky()).request(
        endpoint("get_item"), dict, path_params={"item_id": "1"}
    )
    for attempt in stamina.retry_context(
        on=ValueError, attempts=2, wait_initial=0.001, wait_max=0.001, wait_jitter=0
    ):
        with attempt:
            if attempt.num == 1:
                raise ValueError("once")
    assert [r.getMessage() for r in _stamina_lines(caplog)] == ["stamina.retry_scheduled"]


def _spec(logger: str) -> APISpec:
    return dataclasses.replace(API_SPEC, env={**API_SPEC.env, "log": "TESTAPI_LOG"}, logger=logger)


@pytest.mark.parametrize(
    ("value", "level"), [("info", logging.INFO), ("DEBUG", logging.DEBUG), ("warning", 30)]
)
def test_the_log_variable_sets_the_apis_logger(value: str, level: int) -> None:
    name = f"sdkgen_log_env_test_{value}"
    apply_log_env(_spec(name), {"TESTAPI_LOG": value})
    assert logging.getLogger(name).level == level
    assert logging.getLogger("httpx").level == level
    logging.getLogger("httpx").setLevel(logging.NOTSET)


def test_the_log_variable_is_read_once_and_unknown_values_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "sdkgen_log_env_test_unknown"
    apply_log_env(_spec(name), {"TESTAPI_LOG": "loud"})
    assert "TESTAPI_LOG='loud' is not a log level" in caplog.text
    assert logging.getLogger(name).level == logging.NOTSET
    apply_log_env(_spec(name), {"TESTAPI_LOG": "debug"})
    assert logging.getLogger(name).level == logging.NOTSET  # once per process


def test_unset_leaves_logging_alone() -> None:
    name = "sdkgen_log_env_test_unset"
    apply_log_env(_spec(name), {})
    assert logging.getLogger(name).level == logging.NOTSET
