"""``tinkex billing usage|checkpoint-storage`` and ``tinkex session export-trace`` against the
fake server (which has none of these routes: the replies are injected, the requests recorded)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.fake_tinker import FakeTinker, faults

from .conftest import CLI

USAGE = "/api/v1/billing/usage/events"
STORAGE = "/api/v1/billing/usage/checkpoints/current"
TRACE = "/api/v1/sessions/sess-1/trace_export"

USAGE_BODY = {
    "data": [
        {
            "bucket_start": "2026-07-13T00:00:00Z",
            "bucket_end": "2026-07-13T01:00:00Z",
            "base_model": "Qwen/Qwen3-8B",
            "session_id": "sess-1",
            "estimated_cost_usd": 0.25,
            "event_info": {"type": "training", "token_count": 125000},
        },
        {
            "bucket_start": "2026-07-13T00:00:00Z",
            "bucket_end": "2026-07-13T01:00:00Z",
            "event_info": {"type": "storage", "free": False, "gigabyte_hours": 1.5},
        },
    ],
    "sessions": {"sess-1": {"user_metadata": {"team": "rl"}}},
    "cost_data_through": "2026-07-13T00:00:00Z",
}
STORAGE_BODY = {
    "effective_rate_usd_per_gigabyte_month": 0.1,
    "data": [
        {
            "project_id": "proj-1",
            "org_user_urn": "urn:user:ada",
            "checkpoint_count": 3,
            "size_bytes": 3 << 30,
            "size_gigabytes": 3.0,
            "estimated_monthly_cost_usd": 0.3,
        }
    ],
}


def test_billing_usage_table_json_and_csv(cli: CLI, server: FakeTinker, tmp_path: Path) -> None:
    server.inject(USAGE, faults.status(200, body=USAGE_BODY), times=3)
    window = ("2026-07-13T00:00:00Z", "2026-07-14T00:00:00Z")
    result = cli("billing", "usage", *window)
    assert result.code == 0, result.err
    header = result.out.splitlines()[0].split()
    assert {"BASE_MODEL", "TOKEN_COUNT", "GIGABYTE_HOURS", "TYPE"} <= set(header)
    assert "125000" in result.out
    assert "Qwen/Qwen3-8B" in result.out
    (request, *_) = server.requests_to(USAGE)
    assert request.query == {
        "starting_on": "2026-07-13T00:00:00+00:00",
        "ending_before": "2026-07-14T00:00:00+00:00",
    }
    doc = cli("billing", "usage", *window, "-f", "json").json()
    assert doc["data"][0]["event_info"] == {"type": "training", "token_count": 125000}
    assert doc["sessions"] == {"sess-1": {"user_metadata": {"team": "rl"}}}
    rows_file, sessions_file = tmp_path / "usage.csv", tmp_path / "sessions.csv"
    result = cli(
        "billing", "usage", *window, "--csv", str(rows_file), "--sessions-csv", str(sessions_file)
    )
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(rows_file.read_text())))
    assert [r["type"] for r in rows] == ["training", "storage"]
    assert rows[0]["token_count"] == "125000"
    assert rows[1]["gigabyte_hours"] == "1.5"
    assert list(csv.DictReader(io.StringIO(sessions_file.read_text()))) == [
        {"session_id": "sess-1", "user_metadata": '{"team": "rl"}'}
    ]


def test_billing_checkpoint_storage(cli: CLI, server: FakeTinker) -> None:
    server.inject(STORAGE, faults.status(200, body=STORAGE_BODY), times=2)
    result = cli("billing", "checkpoint-storage", "--project-id", "proj-1")
    assert result.code == 0, result.err
    assert "urn:user:ada" in result.out
    assert "0.1" in result.out
    assert server.requests_to(STORAGE)[0].query == {"project_id": "proj-1"}
    result = cli("billing", "checkpoint-storage", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert rows[0]["checkpoint_count"] == "3"
    assert rows[0]["effective_rate_usd_per_gigabyte_month"] == "0.1"


@pytest.mark.parametrize("command", [["usage", "2026-07-13", "2026-07-14"], ["checkpoint-storage"]])
def test_billing_on_a_server_without_the_route(
    cli: CLI, server: FakeTinker, command: list[str]
) -> None:
    result = cli("billing", *command)  # the fake has no billing routes: 404 "Not Found"
    assert result.code == 1
    assert "endpoint (404 on the route itself)" in result.error_line
    assert "keeps no billing records" in result.error_line


# -- session export-trace ----------------------------------------------------------------------

TRACE_BYTES = b"\x0a\x10perfetto-trace-bytes" * 100


def test_export_trace_downloads_the_file(
    cli: CLI, server: FakeTinker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.blob_url(TRACE_BYTES)
    server.inject(TRACE, faults.status(200, body={"status": "ready", "url": url}), times=3)
    monkeypatch.chdir(tmp_path)
    result = cli("session", "export-trace", "sess-1")
    assert result.code == 0, result.err
    written = tmp_path / "sess-1.pftrace"
    assert written.read_bytes() == TRACE_BYTES
    assert f"({len(TRACE_BYTES)} bytes)" in result.out
    target = tmp_path / "deep" / "t.pftrace"
    doc = cli("session", "export-trace", "sess-1", "-o", str(target), "-f", "json").json()
    assert doc == {"session_id": "sess-1", "output": str(target), "bytes": len(TRACE_BYTES)}
    assert target.read_bytes() == TRACE_BYTES
    only = cli("session", "export-trace", "sess-1", "--url-only")
    assert only.out.strip() == url
    assert server.requests_to(TRACE)[0].method == "GET"


def test_export_trace_that_failed_on_the_server(cli: CLI, server: FakeTinker) -> None:
    body = {"status": "failed", "error": "no requests in session"}
    server.inject(TRACE, faults.status(200, body=body))
    result = cli("session", "export-trace", "sess-1")
    assert result.code == 1
    assert "no requests in session" in result.error_line


def test_export_trace_on_a_server_without_the_route(cli: CLI, server: FakeTinker) -> None:
    result = cli("session", "export-trace", "sess-1")
    assert result.code == 1
    assert "has no export_session_trace endpoint (404 on the route itself)" in result.error_line
