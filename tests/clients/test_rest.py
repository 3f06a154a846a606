"""RestClient against the fake server, and ``tinker://`` path parsing."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, tinkex_threads
from tests.fake_tinker import FakeTinker, faults
from tinkex import types
from tinkex.types import ParsedCheckpointTinkerPath


@pytest.fixture
def rest(service: tinker.ServiceClient) -> tinker.RestClient:
    return service.create_rest_client()


def _runs(service: tinker.ServiceClient, count: int) -> list[tinker.TrainingClient]:
    futures = [service.create_lora_training_client(BASE_MODEL, rank=2 + i) for i in range(count)]
    return [f.result(timeout=WAIT) for f in futures]


# ---------------------------------------------------------------------- training runs


def test_get_training_run(
    server: FakeTinker, service: tinker.ServiceClient, rest: tinker.RestClient
) -> None:
    (training,) = _runs(service, 1)
    path = training.save_state("first").result().path
    run = rest.get_training_run(training.model_id).result()
    assert isinstance(run, types.TrainingRun)
    assert run.training_run_id == training.model_id
    assert run.base_model == BASE_MODEL
    assert run.is_lora is True
    assert run.lora_rank == 2
    assert run.last_checkpoint is not None
    assert run.last_checkpoint.tinker_path == path
    request = server.requests_to("get_training_run")[-1]
    assert unquote(request.path) == f"/api/v1/training_runs/{training.model_id}"
    assert request.query.get("access_scope") == "owned"

    by_path = rest.get_training_run_by_tinker_path(path, access_scope="accessible").result()
    assert by_path.training_run_id == training.model_id
    assert server.requests_to("get_training_run")[-1].query.get("access_scope") == "accessible"


def test_unknown_training_run_is_not_found(rest: tinker.RestClient) -> None:
    with pytest.raises(tinker.NotFoundError, match="no-such-run"):
        rest.get_training_run("no-such-run").result()


def test_list_and_iterate_training_runs(
    server: FakeTinker, service: tinker.ServiceClient, rest: tinker.RestClient
) -> None:
    runs = _runs(service, 3)
    page = rest.list_training_runs(limit=2, offset=1).result()
    assert len(page.training_runs) == 2
    assert page.cursor.total_count == 3
    assert page.cursor.offset == 1
    query = server.requests_to("list_training_runs")[-1].query
    assert (query["limit"], query["offset"]) == ("2", "1")

    before = len(server.requests_to("list_training_runs"))
    everything = list(rest.iter_training_runs(page_size=1))
    assert sorted(r.training_run_id for r in everything) == sorted(r.model_id for r in runs)
    assert len(server.requests_to("list_training_runs")) - before == 3  # one page per run


def test_iterating_names_the_iterator_and_stops_when_left(
    server: FakeTinker, service: tinker.ServiceClient, rest: tinker.RestClient
) -> None:
    _runs(service, 3)
    before = len(server.requests_to("list_training_runs"))
    walk = rest.iter_training_runs(page_size=1)
    assert server.requests_to("list_training_runs")[before:] == []  # nothing until iterated
    first = next(walk)
    assert first.training_run_id in server.models
    walk.close()  # as `take(...)` in the CLI leaves a listing after --limit items
    sent = server.requests_to("list_training_runs")[before:]
    assert len(sent) == 1
    assert sent[0].headers["x-sdk-method"] == "RestClient.iter_training_runs"
    with pytest.raises(StopIteration):
        next(walk)
    assert len(server.requests_to("list_training_runs")) - before == 1


# ---------------------------------------------------------------------- checkpoints


def test_checkpoints_list_and_delete(
    server: FakeTinker, service: tinker.ServiceClient, rest: tinker.RestClient
) -> None:
    (training,) = _runs(service, 1)
    state = training.save_state("s1").result().path
    sampler = training.save_weights_for_sampler("w1").result().path

    listed = rest.list_checkpoints(training.model_id).result()
    assert isinstance(listed, types.CheckpointsListResponse)
    by_path = {c.tinker_path: c for c in listed.checkpoints}
    assert set(by_path) == {state, sampler}
    assert by_path[state].checkpoint_type == "training"
    assert by_path[state].checkpoint_id == "weights/s1"
    assert by_path[sampler].checkpoint_type == "sampler"

    rest.delete_checkpoint_from_tinker_path(state).result()
    (delete,) = server.requests_to("delete_checkpoint")
    assert delete.method == "DELETE"
    assert unquote(delete.path) == (
        f"/api/v1/training_runs/{training.model_id}/checkpoints/weights/s1"
    )
    assert (training.model_id, "weights/s1") not in server.checkpoints
    remaining = rest.list_checkpoints(training.model_id).result().checkpoints
    assert [c.tinker_path for c in remaining] == [sampler]

    rest.delete_checkpoint(training.model_id, "sampler_weights/w1").result()
    assert rest.list_checkpoints(training.model_id).result().checkpoints == []
    with pytest.raises(tinker.NotFoundError):
        rest.delete_checkpoint_from_tinker_path(state).result()


def test_user_checkpoints_list_and_iterate(
    server: FakeTinker, service: tinker.ServiceClient, rest: tinker.RestClient
) -> None:
    a, b = _runs(service, 2)
    paths = {
        a.save_state("a1").result().path,
        a.save_state("a2").result().path,
        b.save_weights_for_sampler("b1").result().path,
    }
    page = rest.list_user_checkpoints(limit=2).result()
    assert len(page.checkpoints) == 2
    assert page.cursor is not None
    assert page.cursor.total_count == 3
    before = len(server.requests_to("list_user_checkpoints"))
    assert {c.tinker_path for c in rest.iter_user_checkpoints(page_size=2)} == paths
    assert len(server.requests_to("list_user_checkpoints")) - before == 2


def test_weights_info(service: tinker.ServiceClient, rest: tinker.RestClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=6, train_unembed=False).result(
        timeout=WAIT
    )
    path = training.save_state("info").result().path
    info = rest.get_weights_info_by_tinker_path(path).result()
    assert info.base_model == BASE_MODEL
    assert info.is_lora is True
    assert info.lora_rank == 6
    assert info.train_unembed is False
    assert info.train_mlp is True


def test_external_weights_urls_refuse_other_paths(
    server: FakeTinker, rest: tinker.RestClient
) -> None:
    for path in ("tinker://run-1/weights/a", "tinker://run-1/sampler_weights/a"):
        with pytest.raises(ValueError, match="external_weights") as info:
            rest.get_external_weights_urls(path)
        assert path in str(info.value)
    assert server.requests == []


def test_an_endpoint_the_server_lacks_is_named(server: FakeTinker, rest: tinker.RestClient) -> None:
    """The fake has no publish endpoint (405 there): the error says which endpoint it was."""
    with pytest.raises(tinker.APIStatusError) as info:
        rest.publish_checkpoint_from_tinker_path("tinker://run-1/weights/a").result()
    assert "publish_checkpoint" in str(info.value)
    assert "/publish" in str(info.value)
    assert info.value.status_code == 405


def test_a_bare_404_names_the_endpoint(server: FakeTinker, rest: tinker.RestClient) -> None:
    server.inject("list_user_checkpoints", faults.status(404, body="Not Found"))
    with pytest.raises(tinker.NotFoundError) as info:
        rest.list_user_checkpoints().result()
    assert "list_user_checkpoints" in str(info.value)
    assert "does not serve" in str(info.value)


# ---------------------------------------------------------------------- sessions and samplers


def test_sessions_list_get_and_iterate(server: FakeTinker, make_service: ServiceFactory) -> None:
    services = [make_service(server, user_metadata={"n": str(i)}) for i in range(3)]
    runs = [s.create_lora_training_client(BASE_MODEL).result(timeout=WAIT) for s in services]
    rest = services[0].create_rest_client()
    ids = list(server.sessions)
    assert len(ids) == 3

    listed = rest.list_sessions(limit=10).result()
    assert sorted(listed.sessions) == sorted(ids)
    assert sorted(rest.iter_sessions(page_size=2)) == sorted(ids)
    # one page, then pages of 2 and 1 and an empty one (the reply carries no total)
    assert len(server.requests_to("list_sessions")) == 4

    session = rest.get_session(ids[1]).result()
    assert session.training_run_ids == [runs[1].model_id]
    assert session.user_metadata == {"n": "1"}
    with pytest.raises(tinker.NotFoundError):
        rest.get_session("no-such-session").result()


def test_get_sampler(server: FakeTinker, service: tinker.ServiceClient) -> None:
    (training,) = _runs(service, 1)
    path = training.save_weights_for_sampler("sw").result().path
    sampler = service.create_sampling_client(model_path=path).result(timeout=WAIT)
    info = service.create_rest_client().get_sampler(sampler.sampling_session_id).result()
    assert info.sampler_id == sampler.sampling_session_id
    assert info.base_model == BASE_MODEL
    assert info.model_path == path
    # a sampler on saved weights learned its base model from get_sampler
    assert sampler.get_base_model() == BASE_MODEL


def test_server_capabilities(server: FakeTinker, service: tinker.ServiceClient) -> None:
    server.base_models.append("fake/other-model")
    caps = service.create_rest_client().get_server_capabilities().result()
    assert [m.model_name for m in caps.supported_models] == [BASE_MODEL, "fake/other-model"]
    assert [m.model_name for m in service.get_server_capabilities().supported_models] == [
        BASE_MODEL,
        "fake/other-model",
    ]
    assert server.requests_to("create_session") == []  # no session needed


def test_standalone_rest_client_owns_and_closes_its_connections(server: FakeTinker) -> None:
    with tinker.RestClient(base_url=server.base_url) as rest:
        caps = rest.get_server_capabilities().result(timeout=WAIT)
        assert caps.supported_models
        assert tinkex_threads()
    assert tinkex_threads() == []
    with pytest.raises(tinker.ClientClosedError):
        rest.get_server_capabilities()


def test_rest_client_of_a_service_does_not_close_it(service: tinker.ServiceClient) -> None:
    rest = service.create_rest_client()
    rest.close()
    assert service.create_rest_client().get_server_capabilities().result().supported_models


# ---------------------------------------------------------------------- tinker:// paths


@pytest.mark.parametrize(
    ("path", "kind", "checkpoint_id"),
    [
        ("tinker://run-1/weights/step-5", "training", "weights/step-5"),
        ("tinker://sess:train:0/sampler_weights/final", "sampler", "sampler_weights/final"),
        ("tinker://run-9/external_weights/hf-export", "external", "external_weights/hf-export"),
    ],
)
def test_tinker_paths_round_trip(path: str, kind: str, checkpoint_id: str) -> None:
    parsed = ParsedCheckpointTinkerPath.from_tinker_path(path)
    assert parsed.checkpoint_type == kind
    assert parsed.checkpoint_id == checkpoint_id
    assert parsed.tinker_path == path
    assert parsed.to_tinker_path() == path
    assert parsed.training_run_id == path[len("tinker://") :].split("/")[0]
    again = ParsedCheckpointTinkerPath.model_validate(parsed.model_dump())
    assert again.to_tinker_path() == path
    assert tinker.ParsedCheckpointTinkerPath is ParsedCheckpointTinkerPath


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("run-1/weights/a", "tinker://<run id>/weights/<name>"),
        ("https://run-1/weights/a", "tinker://<run id>/weights/<name>"),
        ("tinker://run-1/weights", "weights|sampler_weights|external_weights"),
        ("tinker://run-1/weights/a/b", "weights|sampler_weights|external_weights"),
        ("tinker:///weights/a", "weights|sampler_weights|external_weights"),
        ("tinker://run-1/checkpoints/a", "weights, sampler_weights, external_weights"),
    ],
)
def test_bad_tinker_paths_say_what_was_expected(path: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)) as info:
        ParsedCheckpointTinkerPath.from_tinker_path(path)
    assert repr(path) in str(info.value)


def test_rest_methods_refuse_bad_paths_before_any_request(
    server: FakeTinker, rest: tinker.RestClient
) -> None:
    bad = "tinker://run-1/nonsense"
    for call in (
        rest.get_training_run_by_tinker_path,
        rest.delete_checkpoint_from_tinker_path,
        rest.publish_checkpoint_from_tinker_path,
        rest.unpublish_checkpoint_from_tinker_path,
        rest.get_weights_info_by_tinker_path,
        rest.get_external_weights_urls,
    ):
        with pytest.raises(ValueError, match="expected"):
            call(bad)
    with pytest.raises(ValueError, match="expected"):
        rest.set_checkpoint_ttl_from_tinker_path(bad, 60)
    assert server.requests == []
