"""Train a LoRA model a few steps, sample from the base model and list the runs, with an SDK
generated from skyrl-tx's OpenAPI document plus ``skyrl.yaml`` (``skyrl_sdk``, or any package
generated from the two), not through tinkex.

    python train_and_sample.py '{"base_url": "http://127.0.0.1:8000", "base_model": "...",
                                 "train": [[1, 2, 3, ...], ...], "prompt": [1, 2, ...]}'

prints one JSON line: the losses, the sampled sequences' lengths and what the listings showed.
``tests/e2e`` runs it against the local backend, in-process and in a fresh venv holding only the
sdkgen kit (``SKYRL_SDK`` names the generated package to import; default ``skyrl_sdk``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from types import ModuleType
from typing import Any

RESULT_TIMEOUT = 180.0
LORA_RANK = 8  # the backend allows ranks up to 8
LEARNING_RATE = 3e-3  # makes the loss fall on the tiny random model


def datum(ids: list[int]) -> dict[str, Any]:
    """A next-token datum of ``ids`` (weights 1), as the API's JSON."""
    return {
        "model_input": {"chunks": [{"tokens": ids[:-1]}]},
        "loss_fn_inputs": {
            "target_tokens": {"data": ids[1:]},
            "weights": {"data": [1.0] * (len(ids) - 1)},
        },
    }


def mean_nll(output: Any, data: list[dict[str, Any]]) -> float:
    """The weighted mean negative log-likelihood of a forward_backward output."""
    total = count = 0.0
    for item, one in zip(output.loss_fn_outputs, data, strict=True):
        weights = one["loss_fn_inputs"]["weights"]["data"]
        total -= sum(lp * w for lp, w in zip(item["logprobs"].data, weights, strict=True))
        count += sum(weights)
    return total / count


def run(sdk: ModuleType, job: dict[str, Any], steps: int = 3) -> dict[str, Any]:
    """Create a model, train ``steps`` steps, sample, list; what was seen, as plain data.

    Example::

        import skyrl_sdk
        report = run(skyrl_sdk, {"base_url": url, "base_model": path, "train": ids, "prompt": p})
    """
    with sdk.SkyRL(base_url=job["base_url"], api_key="openapi-sdk") as client:
        health = client.service.healthz().status
        session = client.service.create_session(tags=["openapi-sdk"], sdk_version=sdk.__name__)
        model = client.training.create_model(
            session_id=session.session_id,
            base_model=job["base_model"],
            lora_config={"rank": LORA_RANK},
        ).result(timeout=RESULT_TIMEOUT)
        try:
            data = [datum(ids) for ids in job["train"]]
            batch = {"data": data, "loss_fn": "cross_entropy"}
            losses, outputs = [], 0
            for _ in range(steps):
                fb = client.training.forward_backward(
                    model_id=model.model_id, forward_backward_input=batch
                )
                opt = client.training.optim_step(
                    model_id=model.model_id, adam_params={"learning_rate": LEARNING_RATE}
                )
                output = fb.result(timeout=RESULT_TIMEOUT)
                outputs = len(output.loss_fn_outputs)
                losses.append(mean_nll(output, data))
                opt.result(timeout=RESULT_TIMEOUT)
            sample = client.sampling.sample(
                base_model=job["base_model"],
                prompt={"chunks": [{"tokens": job["prompt"]}]},
                sampling_params={"max_tokens": 8, "temperature": 0.8, "seed": 3},
                num_samples=2,
            ).result(timeout=RESULT_TIMEOUT)
            page = client.runs.list_training_runs(limit=50)
            every = [run.training_run_id for run in client.runs.iter_list_training_runs(limit=1)]
            return {
                "health": health,
                "model_id": model.model_id,
                "model_class": type(model).__name__,
                "outputs": outputs,
                "losses": losses,
                "sampled_lengths": [len(s.tokens) for s in sample.sequences],
                "listed": [run.training_run_id for run in page.training_runs],
                "iterated": every,
                "total": page.cursor.total_count,
                "lora_rank": client.runs.get_training_run(model_id=model.model_id).lora_rank,
                "info_model_id": client.training.get_model_info(model_id=model.model_id).model_id,
            }
        finally:
            unloaded = client.training.unload_model(model_id=model.model_id)
            unloaded.result(timeout=RESULT_TIMEOUT)


if __name__ == "__main__":
    package = importlib.import_module(os.environ.get("SKYRL_SDK", "skyrl_sdk"))
    print(json.dumps(run(package, json.loads(sys.argv[1]))))
