"""``tinkex run``, ``tinkex model`` and ``tinkex sample`` against the fake server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fake_tinker import FakeTinker

from .conftest import BASE_MODEL, CLI, add_run

# -- run ---------------------------------------------------------------------------------------


def test_run_list_table_and_json(cli: CLI, server: FakeTinker) -> None:
    result = cli("run", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:4] == ["RUN", "ID", "BASE", "MODEL"]
    assert [line.split()[0] for line in lines[1:]] == ["run-b", "run-a"]  # newest first
    run_a = next(line for line in lines if line.startswith("run-a"))
    assert "tinker://run-a/weights/step-2" in run_a
    assert "full" in next(line for line in lines if line.startswith("run-b"))
    doc = cli("run", "list", "-f", "json").json()
    assert doc["count"] == 2
    assert doc["truncated"] is False
    runs = {r["training_run_id"]: r for r in doc["training_runs"]}
    assert set(runs) == set(server.models)
    assert runs["run-a"]["lora_rank"] == 8
    assert runs["run-a"]["is_lora"] is True
    assert runs["run-b"]["is_lora"] is False
    assert runs["run-a"]["last_sampler_checkpoint"]["tinker_path"] == (
        "tinker://run-a/sampler_weights/final"
    )


def test_run_list_columns_by_the_official_names(cli: CLI) -> None:
    result = cli("run", "list", "-c", "id,status,owner")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["RUN", "ID", "STATUS", "OWNER"]
    assert lines[1].split()[:2] == ["run-b", "ok"]
    bad = cli("run", "list", "--columns", "id,colour")
    assert bad.code == 2
    assert "unknown column(s) colour" in bad.error_line


def test_run_list_limit_0_fetches_every_page(cli: CLI, server: FakeTinker) -> None:
    for i in range(130):
        add_run(server, f"bulk-{i:03d}", minutes=10 + i)
    doc = cli("run", "list", "--limit", "0", "-f", "json").json()
    assert doc["count"] == 132
    assert {r["training_run_id"] for r in doc["training_runs"]} == set(server.models)
    assert len(server.requests_to("list_training_runs")) >= 2
    limited = cli("run", "list", "--limit", "5", "-f", "json").json()
    assert [r["training_run_id"] for r in limited["training_runs"]] == [
        f"bulk-{i:03d}" for i in range(129, 124, -1)
    ]
    assert limited["truncated"] is True


def test_run_info(cli: CLI) -> None:
    result = cli("run", "info", "run-a")
    assert result.code == 0, result.err
    assert "run id:" in result.out
    assert "run-a" in result.out
    assert "tinker://run-a/sampler_weights/final" in result.out
    doc = cli("run", "info", "run-b", "--format", "json").json()
    assert doc["training_run_id"] == "run-b"
    assert doc["base_model"] == BASE_MODEL
    assert doc["last_checkpoint"]["tinker_path"] == "tinker://run-b/weights/only"


def test_run_info_of_an_unknown_run_exits_1(cli: CLI) -> None:
    result = cli("run", "info", "nope", "-f", "json")
    assert result.code == 1
    assert result.out == ""
    assert result.error_line.startswith("error: training run 'nope' not found")
    assert "tinkex run list" in result.error_line


# -- model -------------------------------------------------------------------------------------


def test_model_list(cli: CLI, server: FakeTinker) -> None:
    server.base_models = ["fake/tiny-model", "Qwen/Qwen3-8B", "meta/Llama-3-8B"]
    result = cli("model", "list")
    assert result.code == 0
    assert [line.split()[0] for line in result.out.splitlines()] == [
        "MODEL",
        "Qwen/Qwen3-8B",
        "fake/tiny-model",
        "meta/Llama-3-8B",
    ]
    doc = cli("model", "list", "QWEN", "-f", "json").json()
    assert doc == {
        "models": [
            {
                "model_name": "Qwen/Qwen3-8B",
                "max_context_length": 4096,
                "trainable": True,
                "sampleable": True,
            }
        ]
    }
    none = cli("model", "list", "gpt")
    assert (none.code, none.out) == (0, "")
    assert "no model matches 'gpt'" in none.err


# -- sample ------------------------------------------------------------------------------------


def test_sample_tokens_from_a_base_model(cli: CLI, server: FakeTinker) -> None:
    result = cli(
        "sample", "--base-model", BASE_MODEL, "--tokens", "1,2,3", "--max-tokens", "4", "-n", "2"
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "--- sample 1/2 (length, 4 tokens) ---"
    assert len(lines[1].split()) == 4
    assert lines[2] == "--- sample 2/2 (length, 4 tokens) ---"
    (request,) = server.requests_to("asample")
    assert request.json["prompt"]["chunks"][0]["tokens"] == [1, 2, 3]
    assert request.json["num_samples"] == 2
    assert request.json["sampling_params"]["max_tokens"] == 4


def test_sample_json_from_saved_weights(cli: CLI, server: FakeTinker) -> None:
    result = cli(
        "sample",
        "--model-path",
        "tinker://run-a/sampler_weights/final",
        "--tokens",
        "5 6 7",
        "--max-tokens",
        "3",
        "--temperature",
        "0.5",
        "--seed",
        "7",
        "--stop-token",
        "999",
        "-f",
        "json",
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["model_path"] == "tinker://run-a/sampler_weights/final"
    assert doc["base_model"] == BASE_MODEL
    assert doc["prompt_tokens"] == [5, 6, 7]
    (sample,) = doc["samples"]
    assert len(sample["tokens"]) == 3
    assert sample["stop_reason"] == "length"
    assert sample["text"] is None
    assert len(sample["logprobs"]) == 3
    params = server.requests_to("asample")[0].json["sampling_params"]
    assert params["temperature"] == 0.5
    assert params["seed"] == 7
    assert params["stop"] == [999]
    created = server.requests_to("create_sampling_session")[0].json
    assert created["model_path"] == "tinker://run-a/sampler_weights/final"
    # the sampling session was finished when the command ended
    assert [s.finish_reason for s in server.sessions.values()] == ["success"]


def test_sample_text_without_transformers_says_how(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tinkex.cli._sample.tokenizer_available", lambda: False)
    result = cli("sample", "--base-model", BASE_MODEL, "--prompt", "hello")
    assert result.code == 1
    assert result.error_line == (
        "error: a text prompt needs a tokenizer: install one with pip install "
        "'tinkex[tokenizer]' (transformers), or pass token ids with --tokens 1,2,3, which "
        "works without"
    )
    assert not server.requests  # refused before contacting the server


class _FakeTokenizer:
    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, tokens: list[int]) -> str:
        return "".join(chr(65 + t % 26) for t in tokens)


def test_sample_text_prompt_with_a_tokenizer(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("tinkex.cli._sample.tokenizer_available", lambda: True)
    loaded: list[Any] = []

    def load(model_name: str, tokenizer_id: str | None = None) -> _FakeTokenizer:
        loaded.append(model_name)
        return _FakeTokenizer()

    monkeypatch.setattr("tinkex._tokenizer.load_tokenizer", load)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("hi", encoding="utf-8")
    result = cli(
        "sample", "--base-model", BASE_MODEL, "--prompt-file", str(prompt), "--max-tokens", "3"
    )
    assert result.code == 0, result.err
    assert loaded == [BASE_MODEL]
    assert server.requests_to("asample")[0].json["prompt"]["chunks"][0]["tokens"] == [104, 105]
    text = result.out.strip()
    assert len(text) == 3
    assert text.isalpha()
    doc = cli(
        "sample", "--base-model", BASE_MODEL, "--prompt", "hi", "--stop", "\n", "-f", "json"
    ).json()
    assert doc["samples"][0]["text"].isalpha()
    assert server.requests_to("asample")[1].json["sampling_params"]["stop"] == ["\n"]


def test_sample_prompt_file_missing_exits_1(cli: CLI, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = cli("sample", "--base-model", BASE_MODEL, "--prompt-file", str(missing))
    assert result.code == 1
    assert result.error_line == (
        f"error: cannot read the prompt file {missing}: No such file or directory"
    )


def test_sample_bad_model_path_exits_1(cli: CLI, server: FakeTinker) -> None:
    result = cli("sample", "--model-path", "weights/x", "--tokens", "1")
    assert result.code == 1
    assert result.error_line.startswith("error: invalid checkpoint path: ")
    assert not server.requests


def test_sample_unknown_base_model_exits_1(cli: CLI) -> None:
    result = cli("sample", "--base-model", "no/such-model", "--tokens", "1,2")
    assert result.code == 1
    assert result.error_line.startswith("error: ")
    assert "Traceback" not in result.err
