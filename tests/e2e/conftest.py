"""End-to-end tests against a real Tinker server: skyrl-tx on CPU with a tiny model.

Skipped unless ``TINKEX_E2E=1`` (``make e2e`` sets it), so ``make test`` stays fast. One backend
is started for the whole session (``tinkex.local``: about 20 s once its environment is
built, about 140 s the first time) and stopped by PID at the end, also on Ctrl-C.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ENABLED = os.environ.get("TINKEX_E2E") == "1"
# Per test, including the session fixtures' first setup (a cold backend build takes minutes).
TIMEOUT = float(os.environ.get("TINKEX_E2E_TIMEOUT", "900"))
LORA_RANK = 8  # the backend allows ranks up to 8
LEARNING_RATE = 3e-3  # makes the loss fall on the tiny random model
RESULT_TIMEOUT = 180.0
API_KEY = "tml-e2e-local-backend"

TRAIN_LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "All that glitters is not gold.",
    "Knowledge is power, and practice makes perfect.",
]
PROMPT = "Question: What is two plus two? Answer:"
SCORED = "Question: What is two plus two? Answer: Four."


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not ENABLED:
        reason = "end-to-end tests against a local skyrl-tx backend: set TINKEX_E2E=1 (make e2e)"
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    for item in mine:
        item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def backend() -> Iterator[Any]:
    from tinkex.local import running_backend

    with running_backend() as b:
        yield b


@pytest.fixture(scope="session")
def tokens(backend: Any) -> dict[str, list[int]]:
    """Token ids of every text the tests use, tokenized once."""
    from tinkex.local import tokenize

    texts = [*TRAIN_LINES, PROMPT, SCORED]
    return dict(zip(texts, tokenize(texts, backend.tokenizer_dir), strict=True))


@pytest.fixture(scope="session")
def decode(backend: Any) -> Any:
    """Token ids to text, with the backend environment's ``tokenizers`` (the SDK's venv has none)."""
    import json
    import subprocess

    code = (
        "import json,sys;from tokenizers import Tokenizer;"
        "t=Tokenizer.from_file(sys.argv[1]+'/tokenizer.json');"
        "print(json.dumps([t.decode(x) for x in json.load(sys.stdin)]))"
    )

    def run(ids: list[int]) -> str:
        out = subprocess.run(
            [str(backend.python), "-c", code, backend.tokenizer_dir],
            input=json.dumps([ids]),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return str(json.loads(out.stdout)[0])

    return run


@pytest.fixture(scope="session")
def service(backend: Any) -> Iterator[Any]:
    import tinkex as tinker

    with tinker.ServiceClient(
        base_url=backend.base_url, api_key=API_KEY, result_timeout=RESULT_TIMEOUT
    ) as client:
        yield client


def unload(backend: Any, model_id: str) -> None:
    """Free a training run's LoRA slot (the backend has 15)."""
    from tinkex._generated import TinkerAPI

    with TinkerAPI(base_url=backend.base_url, api_key=API_KEY) as api:
        api.training.unload_model(model_id=model_id).result(timeout=60)


@pytest.fixture(scope="session")
def training(backend: Any, service: Any) -> Iterator[Any]:
    """One LoRA training run shared by the tests (creating one costs seconds)."""
    client = service.create_lora_training_client(backend.base_model, rank=LORA_RANK).result()
    yield client
    unload(backend, client.model_id)


@pytest.fixture(scope="session")
def base_sampler(backend: Any, service: Any) -> Any:
    return service.create_sampling_client(base_model=backend.base_model).result()


@pytest.fixture(scope="session")
def data(tokens: dict[str, list[int]]) -> list[Any]:
    return [datum(tokens[line]) for line in TRAIN_LINES]


def datum(ids: list[int]) -> Any:
    from tinkex import types

    return types.Datum(
        model_input=types.ModelInput.from_ints(ids[:-1]),
        loss_fn_inputs={"target_tokens": ids[1:], "weights": [1.0] * (len(ids) - 1)},
    )


def logprobs_of(output: Any) -> list[list[float]]:
    return [item["logprobs"].tolist() for item in output.loss_fn_outputs]


def mean_nll(output: Any, data: list[Any]) -> float:
    """The loss from the logprobs and weights (skyrl-tx returns no loss metric)."""
    total = weight = 0.0
    for item, d in zip(output.loss_fn_outputs, data, strict=True):
        weights = d.loss_fn_inputs["weights"].tolist()
        total += sum(-lp * w for lp, w in zip(item["logprobs"].tolist(), weights, strict=True))
        weight += sum(weights)
    return total / weight
