"""``tinkex checkpoint delete --run-id ... --type --before --after --dry-run`` (the official
CLI's delete filters), and honest messages from servers that lack a route."""

from __future__ import annotations

import io

import pytest

from tests.fake_tinker import FakeTinker, faults

from .conftest import CLI
from .test_checkpoint import A0, A1, A2, AS, B0, all_paths

NO_ROUTE = {"detail": "Not Found"}  # what FastAPI (skyrl-tx) answers for a path it has no route for


def deletes(server: FakeTinker) -> list[str]:
    return [r.path for r in server.requests if r.method == "DELETE"]


def test_type_and_before_select_the_older_training_checkpoints(
    cli: CLI, server: FakeTinker
) -> None:
    result = cli(
        "checkpoint", "delete", "--run-id", "run-a", "--type", "weights",
        "--before", "2025-03-01T12:00:01.500Z", "--yes",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"deleted {A0}", f"deleted {A1}"]
    assert all_paths(server) == {A2, AS, B0}


def test_after_and_before_make_a_window_and_a_naive_time_is_utc(
    cli: CLI, server: FakeTinker
) -> None:
    doc = cli(
        "checkpoint", "delete", "--run-id", "run-a", "--after", "2025-03-01T12:00:00.500",
        "--before", "2025-03-01T13:00:00+01:00", "-y", "-f", "json",
    ).json()  # fmt: skip
    # 13:00+01:00 is 12:00Z: nothing after 12:00:00.5Z is before it.
    assert doc == {"deleted": [], "failed": [], "dry_run": False}
    doc = cli(
        "checkpoint", "delete", "--run-id", "run-a", "--after", "2025-03-01T12:00:00.500",
        "--before", "2025-03-01", "-y", "-f", "json",
    ).json()  # fmt: skip
    assert doc == {"deleted": [], "failed": [], "dry_run": False}
    doc = cli(
        "checkpoint", "delete", "--run-id", "run-a", "--after", "2025-03-01T12:00:00.500",
        "-y", "-f", "json",
    ).json()  # fmt: skip
    assert doc["deleted"] == [A1, A2, AS]  # oldest first
    assert all_paths(server) == {A0, B0}


def test_type_sampler_weights(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "delete", "--run-id", "run-a", "--type", "sampler_weights", "-y")
    assert result.code == 0, result.err
    assert all_paths(server) == {A0, A1, A2, B0}


def test_dry_run_lists_and_deletes_nothing(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "delete", "--run-id", "run-a", "--type", "weights", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"would delete {p}" for p in (A0, A1, A2)]
    assert "dry run: 3 checkpoint(s) would be deleted" in result.err
    doc = cli("checkpoint", "delete", A0, "--dry-run", "-f", "json").json()
    assert doc == {"would_delete": [A0], "dry_run": True}
    assert deletes(server) == []
    assert all_paths(server) == {A0, A1, A2, AS, B0}


def test_run_id_without_yes_asks_with_the_selected_paths(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal
    result = cli("checkpoint", "delete", "--run-id", "run-b")
    assert result.code == 2
    assert "pass --yes" in result.error_line
    assert deletes(server) == []


def test_no_match_deletes_nothing_and_succeeds(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "delete", "--run-id", "run-b", "--after", "2030-01-01", "-y")
    assert result.code == 0, result.err
    assert "nothing to delete" in result.err
    assert deletes(server) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "weights"], "--type filter the checkpoints of --run-id RUN: add it"),
        (["--before", "2025-01-01", A0], "--before filter the checkpoints of --run-id"),
        ([A0, "--run-id", "run-a"], "give checkpoint paths or --run-id, not both"),
        (["--run-id", "run-a", "--before", "last tuesday"], "not an ISO 8601 date"),
        (["--run-id", "run-a", "--type", "adapter"], "invalid choice: 'adapter'"),
    ],
)
def test_usage_errors(cli: CLI, server: FakeTinker, argv: list[str], message: str) -> None:
    result = cli("checkpoint", "delete", "-y", *argv)
    assert result.code == 2
    assert message in result.error_line
    assert deletes(server) == []


def test_an_unknown_run_says_so(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "delete", "--run-id", "run-zz", "-y")
    assert result.code == 1
    assert "cannot list the checkpoints of training run 'run-zz'" in result.error_line


# -- servers without a route -------------------------------------------------------------------


def test_delete_on_a_server_without_the_route_does_not_claim_the_checkpoint_is_missing(
    cli: CLI, server: FakeTinker
) -> None:
    server.inject("delete_checkpoint", faults.status(404, body=NO_ROUTE))
    result = cli("checkpoint", "delete", A0, "-y")
    assert result.code == 1
    assert "has no delete_checkpoint endpoint (404 on the route itself)" in result.error_line
    assert "does not exist" not in result.err


def test_publish_on_a_server_without_the_route(cli: CLI, server: FakeTinker) -> None:
    server.inject("publish", faults.status(404, body=NO_ROUTE))
    result = cli("checkpoint", "publish", A0)
    assert result.code == 1
    assert "endpoint (404 on the route itself)" in result.error_line
    assert "does not exist" not in result.error_line


def test_list_without_run_id_on_a_server_without_the_route_says_to_add_it(
    cli: CLI, server: FakeTinker
) -> None:
    server.inject("list_user_checkpoints", faults.status(404, body=NO_ROUTE))
    result = cli("checkpoint", "list")
    assert result.code == 1
    assert "has no list_user_checkpoints endpoint (404 on the route itself)" in result.error_line
    assert "add --run-id RUN" in result.error_line
    assert cli("checkpoint", "list", "--run-id", "run-a").code == 0


def test_any_other_command_on_a_missing_route_names_the_endpoint(
    cli: CLI, server: FakeTinker
) -> None:
    server.inject("list_training_runs", faults.status(404, body=NO_ROUTE))
    result = cli("run", "list")
    assert result.code == 1
    assert "has no list_training_runs endpoint (404 on the route itself" in result.error_line
