"""``tinkex checkpoint push-hf`` against the fake server and a fake Hub on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.fake_tinker import FakeTinker

from .conftest import CLI
from .fake_hub import TOKEN, FakeHub

pytest.importorskip("huggingface_hub")

pytestmark = pytest.mark.timeout(120)

A2 = "tinker://run-a/weights/step-2"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
        monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
        yield fake


@pytest.fixture
def archives(server: FakeTinker) -> FakeTinker:
    server.archive_mode = "direct"  # the fake serves checkpoint archives (the older route)
    return server


def test_push_to_a_named_repo(cli: CLI, archives: FakeTinker, hub: FakeHub) -> None:
    result = cli("checkpoint", "push-hf", A2, "--repo", "ada/my-lora", "--commit-message", "hi")
    assert result.code == 0, result.err
    assert hub.unknown == []
    repo = hub.repos["ada/my-lora"]
    assert repo.private
    files = repo.files["main"]
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors", "README.md"}
    config = json.loads(files["adapter_config.json"])
    assert config["base_model_name_or_path"] == "fake/tiny-model"  # filled in from weights_info
    assert files["adapter_model.safetensors"].startswith(f"fake-weights:{A2}".encode())
    card = files["README.md"].decode()
    assert "base_model: fake/tiny-model" in card
    assert A2 in card
    assert repo.commits[0]["summary"] == "hi"
    assert "uploaded" in result.out
    assert "ada/my-lora" in result.out
    assert "private" in result.out


def test_default_repo_and_branch_are_named_after_the_run_and_checkpoint(
    cli: CLI, archives: FakeTinker, hub: FakeHub
) -> None:
    doc = cli("checkpoint", "push-hf", A2, "--public", "--no-model-card", "-f", "json").json()
    assert doc["repo_id"] == "ada/tinker-tiny-model-run-a"
    assert doc["revision"] == "weights-step-2"
    assert doc["public"] is True
    repo = hub.repos["ada/tinker-tiny-model-run-a"]
    assert not repo.private
    assert "weights-step-2" in repo.branches
    assert set(repo.files["weights-step-2"]) == {"adapter_config.json", "adapter_model.safetensors"}


def test_not_logged_in_to_the_hub(
    cli: CLI, archives: FakeTinker, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    result = cli("checkpoint", "push-hf", A2, "--repo", "ada/x")
    assert result.code == 1
    assert "not logged in to the Hugging Face Hub" in result.error_line
    assert hub.endpoint in result.error_line
    assert hub.repos == {}
    assert "hf_wrong" not in result.all


def test_a_checkpoint_without_an_adapter_is_refused(
    cli: CLI, archives: FakeTinker, hub: FakeHub
) -> None:
    archives.archives[A2] = FakeTinker.skyrl_archive({"model.safetensors": b"full weights"})
    result = cli("checkpoint", "push-hf", A2, "--repo", "ada/x")
    assert result.code == 1
    assert "holds no PEFT adapter" in result.error_line
    assert "model.safetensors" in result.error_line
    assert hub.repos == {}


def test_without_huggingface_hub_it_says_how_to_install_it(
    cli: CLI, archives: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not importable
    result = cli("checkpoint", "push-hf", A2, "--repo", "ada/x")
    assert result.code == 1
    assert "pip install 'tinkex[hf]'" in result.error_line
    assert not archives.requests_to("get_checkpoint_archive_url")
