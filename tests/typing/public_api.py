"""The public API as user code sees it under ``mypy --strict`` and ``pyright --strict``:
``make typecheck`` checks this file with both (pytest never runs it; nothing here is called).

Each ``assert_type`` pins a type users rely on; each ``# type: ignore[...]`` marks a mistake the
checkers must report (both are told to flag an ignore that is no longer needed, so a mistake
that stops being an error fails the check).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import assert_type

import tinkex
from tinkex import (
    AdamParams,
    APIFuture,
    Datum,
    ForwardBackwardOutput,
    ModelInput,
    OptimStepResponse,
    RestClient,
    SampleResponse,
    SamplingClient,
    SamplingParams,
    SDKError,
    ServiceClient,
    TensorData,
    TrainingClient,
    types,
)


def training_loop(service: ServiceClient) -> None:
    training = service.create_lora_training_client("base", rank=4).result()
    assert_type(training, TrainingClient)
    datum = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": TensorData.from_list([2, 3, 4], "int64")},
    )
    fb = training.forward_backward([datum], "cross_entropy")
    assert_type(fb, APIFuture[ForwardBackwardOutput])
    step = training.optim_step(AdamParams(learning_rate=1e-4))
    assert_type(step.result(), OptimStepResponse)
    loss: float = fb.result().metrics["loss:sum"]
    del loss
    training.forward_backward([datum], "no_such_loss")  # type: ignore[arg-type]
    training.optim_step(AdamParams(learning_rat=1e-4))  # type: ignore[call-arg]


async def async_twins(service: ServiceClient) -> None:
    training = await service.create_lora_training_client_async("base", rank=4)
    assert_type(training, TrainingClient)
    future = await training.forward_backward_async([], "cross_entropy")
    assert_type(future, APIFuture[ForwardBackwardOutput])
    assert_type(await future, ForwardBackwardOutput)
    sampler = await training.save_weights_and_get_sampling_client_async()
    assert_type(sampler, SamplingClient)
    await training.optim_step_async(learning_rate=1e-4)  # type: ignore[call-arg]


def sampling(sampler: SamplingClient) -> None:
    params = SamplingParams(max_tokens=8, temperature=0.7)
    result = sampler.sample(ModelInput.from_ints([1]), 2, params).result()
    assert_type(result, SampleResponse)
    tokens: list[int] = list(result.sequences[0].tokens)
    del tokens
    sampler.sample(ModelInput.from_ints([1]), "2", params)  # type: ignore[arg-type]


def configuration() -> None:
    ServiceClient(base_url="http://127.0.0.1:8000", api_key="key", max_retries=2)
    ServiceClient(base_ulr="http://127.0.0.1:8000")  # type: ignore[call-arg]
    ServiceClient(http_backend="curl")  # type: ignore[arg-type]


def errors() -> tuple[type[SDKError], ...]:
    assert_type(tinkex.AmbiguousOutcomeError("x"), tinkex.AmbiguousOutcomeError)
    return (tinkex.APIError, tinkex.FutureTimeoutError, tinkex.DownloadError, tinkex.ConfigError)


def rest(rest_client: RestClient) -> None:
    runs = rest_client.list_training_runs().result()
    assert_type(runs, types.TrainingRunsResponse)


def low_level() -> None:
    from tinkex.lowlevel import TinkerAPI, models

    with TinkerAPI(base_url="http://127.0.0.1:8000", api_key="key") as api:
        handle = api.training.optim_step(model_id="m", seq_id=1, adam_params=models.AdamParams())
        assert_type(handle.result(timeout=5), models.OptimStepResponse)
        api.training.optim_step(model_id="m", seq_id="1")  # type: ignore[call-overload]


def regularized(training: TrainingClient, data: list[Datum]) -> None:
    from tinkex.regularizers import L2, Entropy, Pipeline, Term, cross_entropy

    loss_fn = Pipeline(
        cross_entropy,
        [Term(L2(), weight=0.01), Term(Entropy(mode="maximize"), weight=0.1)],
        track_grad_norms=True,
    )
    out = training.forward_backward_custom(data, loss_fn).result()
    assert_type(out, ForwardBackwardOutput)
    assert_type(out.metrics["reg/l2:weighted"], float)
    Entropy(mode="up")  # type: ignore[arg-type]
    Term(L2(), weight="0.1")  # type: ignore[arg-type]


def rollouts(sampler: SamplingClient, pool: ProcessPoolExecutor) -> None:
    from tinkex.rollouts import RolloutReport, iter_rollouts, map_rollouts

    def tokens(s: SamplingClient, prompt: ModelInput) -> list[int]:
        return list(s.sample(prompt, 1, SamplingParams(max_tokens=4)).result().sequences[0].tokens)

    async def tokens_async(s: SamplingClient, prompt: ModelInput) -> list[int]:
        return list((await s.sample_async(prompt, 1, SamplingParams())).sequences[0].tokens)

    prompts = [ModelInput.from_ints([1, 2])]
    out = map_rollouts(sampler, tokens, prompts, executor=pool, timeout=60)
    assert_type(out.results, list[list[int]])
    assert_type(out.report, RolloutReport)
    assert_type(
        map_rollouts(sampler, tokens_async, prompts, executor=pool).results, list[list[int]]
    )
    with iter_rollouts(sampler, tokens, prompts, executor=pool) as stream:
        for index, result in stream:
            assert_type(index, int)
            assert_type(result, list[int])
    map_rollouts(sampler, tokens, [1, 2], executor=pool)  # type: ignore[arg-type]
    map_rollouts(sampler, tokens, prompts, executor=pool, credentials="none")  # type: ignore[call-overload]
    ServiceClient(pickle_credentials="environment")
    ServiceClient(pickle_credentials="never")  # type: ignore[arg-type]
