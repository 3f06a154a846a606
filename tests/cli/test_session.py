"""``tinkex session`` against the fake server."""

from __future__ import annotations

import datetime as dt

from tests.fake_tinker import FakeTinker
from tests.fake_tinker.state import SessionRecord

from .conftest import API_KEY, CLI, T0


def add_session(server: FakeTinker, session_id: str, minutes: int, **fields: object) -> None:
    server.sessions[session_id] = SessionRecord(
        session_id=session_id,
        tags=[],
        user_metadata=fields.pop("user_metadata", None),  # type: ignore[arg-type]
        sdk_version="test",
        created=T0 + dt.timedelta(minutes=minutes),
        **fields,  # type: ignore[arg-type]
    )


def test_session_list_newest_first_table_and_json(cli: CLI, server: FakeTinker) -> None:
    for i in range(3):
        add_session(server, f"sess-{i}", minutes=i)
    result = cli("session", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["SESSION", "ID"]
    assert [line.strip() for line in lines[1:]] == ["sess-2", "sess-1", "sess-0"]
    doc = cli("session", "list", "--limit", "2", "-f", "json").json()
    assert doc == {"sessions": ["sess-2", "sess-1"], "count": 2, "truncated": True}
    assert API_KEY not in result.all


def test_session_list_limit_0_fetches_every_page(cli: CLI, server: FakeTinker) -> None:
    for i in range(130):
        add_session(server, f"bulk-{i:03d}", minutes=i)
    doc = cli("session", "list", "--limit", "0", "-f", "json").json()
    assert doc["count"] == 130
    assert doc["truncated"] is False
    assert len(server.requests_to("list_sessions")) >= 2


def test_session_info(cli: CLI, server: FakeTinker) -> None:
    add_session(
        server,
        "sess-x",
        minutes=1,
        display_name="sweep 7",
        user_metadata={"lr": "3e-4"},
        model_ids=["run-a", "run-b"],
        sampler_ids=["sess-x:sample:0"],
    )
    result = cli("session", "info", "sess-x")
    assert result.code == 0, result.err
    assert "sweep 7" in result.out
    assert "run-a, run-b" in result.out
    assert "sess-x:sample:0" in result.out
    doc = cli("session", "info", "sess-x", "-f", "json").json()
    assert doc["session_id"] == "sess-x"
    assert doc["training_run_ids"] == ["run-a", "run-b"]
    assert doc["sampler_ids"] == ["sess-x:sample:0"]
    assert doc["user_metadata"] == {"lr": "3e-4"}


def test_session_info_of_an_unknown_session_exits_1(cli: CLI) -> None:
    result = cli("session", "info", "no-such-session")
    assert result.code == 1
    assert "no-such-session" in result.error_line
    assert "tinkex session list" in result.error_line
