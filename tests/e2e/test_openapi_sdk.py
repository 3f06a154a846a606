"""An SDK generated from skyrl-tx's own OpenAPI document plus a short overlay, driven against
the real backend (not through tinkex's clients). Run with ``TINKEX_E2E=1`` (``make e2e``).

The live ``/openapi.json`` must equal the stored ``examples/skyrl_openapi/openapi.json`` (from
which ``make codegen`` builds the committed SDK); the package used here is generated afresh
from the live document and the overlay.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sdkgen.codegen import generate

from tests.e2e.conftest import LEARNING_RATE, LORA_RANK, PROMPT, RESULT_TIMEOUT, TRAIN_LINES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "skyrl_openapi"
PACKAGE = "skyrl_live_sdk"


def _live_document(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/openapi.json", timeout=30) as reply:
        data: dict[str, Any] = json.loads(reply.read())
    return data


@pytest.fixture(scope="module")
def sdk(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    live = _live_document(backend.base_url)
    stored = json.loads((EXAMPLE / "openapi.json").read_text())
    assert live == stored, (
        "skyrl-tx's /openapi.json differs from examples/skyrl_openapi/openapi.json: run "
        "examples/skyrl_openapi/fetch_openapi.py, then make codegen"
    )
    work = tmp_path_factory.mktemp("openapi_sdk")
    (work / "openapi.json").write_text(json.dumps(live), encoding="utf-8")
    shutil.copy(EXAMPLE / "skyrl.yaml", work / "skyrl.yaml")
    generate(work / "skyrl.yaml", work / PACKAGE)
    sys.path.insert(0, str(work))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def client(sdk: ModuleType, backend: Any) -> Iterator[Any]:
    with sdk.SkyRL(base_url=backend.base_url, api_key="e2e-openapi") as api:
        yield api


def _datum(ids: list[int]) -> dict[str, Any]:
    return {
        "model_input": {"chunks": [{"tokens": ids[:-1]}]},
        "loss_fn_inputs": {
            "target_tokens": {"data": ids[1:]},
            "weights": {"data": [1.0] * (len(ids) - 1)},
        },
    }


def _nll(output: Any, data: list[dict[str, Any]]) -> float:
    total = count = 0.0
    for item, datum in zip(output.loss_fn_outputs, data, strict=True):
        weights = datum["loss_fn_inputs"]["weights"]["data"]
        total -= sum(lp * w for lp, w in zip(item["logprobs"].data, weights, strict=True))
        count += sum(weights)
    return total / count


def test_generated_sdk_trains_samples_and_lists(
    sdk: ModuleType, client: Any, backend: Any, tokens: dict[str, list[int]]
) -> None:
    assert client.service.healthz().status == "ok"
    session = client.service.create_session(tags=["openapi-e2e"], sdk_version=sdk.__name__)
    handle = client.training.create_model(
        session_id=session.session_id,
        base_model=backend.base_model,
        lora_config={"rank": LORA_RANK},
    )
    model = handle.result(timeout=RESULT_TIMEOUT)
    assert isinstance(model, sdk.models.ModelCreated)
    try:
        data = [_datum(tokens[line]) for line in TRAIN_LINES]
        batch = {"data": data, "loss_fn": "cross_entropy"}
        losses = []
        for _ in range(3):
            fb = client.training.forward_backward(
                model_id=model.model_id, forward_backward_input=batch
            )
            opt = client.training.optim_step(
                model_id=model.model_id, adam_params={"learning_rate": LEARNING_RATE}
            )
            output = fb.result(timeout=RESULT_TIMEOUT)
            assert isinstance(output, sdk.models.ForwardBackwardOutput)
            assert len(output.loss_fn_outputs) == len(data)
            losses.append(_nll(output, data))
            assert isinstance(opt.result(timeout=RESULT_TIMEOUT), sdk.models.OptimStepOutput)
        assert losses[-1] < losses[0], losses

        sample = client.sampling.sample(
            base_model=backend.base_model,
            prompt={"chunks": [{"tokens": tokens[PROMPT]}]},
            sampling_params={"max_tokens": 8, "temperature": 0.8, "seed": 3},
            num_samples=2,
        ).result(timeout=RESULT_TIMEOUT)
        assert len(sample.sequences) == 2
        assert all(0 < len(s.tokens) <= 8 for s in sample.sequences)

        page = client.runs.list_training_runs(limit=50)
        assert model.model_id in {run.training_run_id for run in page.training_runs}
        every = [run.training_run_id for run in client.runs.iter_list_training_runs(limit=1)]
        assert model.model_id in every
        assert len(every) == page.cursor.total_count
        run = client.runs.get_training_run(model_id=model.model_id)
        assert run.lora_rank == LORA_RANK
        info = client.training.get_model_info(model_id=model.model_id)
        assert info.model_id == model.model_id
    finally:
        unloaded = client.training.unload_model(model_id=model.model_id)
        assert unloaded.result(timeout=RESULT_TIMEOUT).model_id == model.model_id
