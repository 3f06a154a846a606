"""An SDK with the official public API (``tinker`` itself, or tinkex), driven the same way.

The calls are what user code of the official 0.38 SDK writes, so that ``import tinkex as tinker``
would run this very code: ``ServiceClient(base_url=, api_key=)``,
``create_lora_training_client(...).result()``, ``create_sampling_client(...).result()``;
sampling with ``await sampling_client.sample(...)`` (the 0.38 form; ``sample_async`` is
deprecated there); a training step builds its batch from token lists, submits
``forward_backward`` and ``optim_step`` back to back and waits for both results (synchronous
code, as training loops are written).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from common import API_KEY, BASE_MODEL, MAX_TOKENS, PROMPT_TOKENS, Rows, check


class SdkContender:
    def __init__(self, module: str, service_kwargs: dict[str, Any]) -> None:
        self.module_name = module
        self.service_kwargs = service_kwargs
        self.sdk: Any = None
        self.service: Any = None
        self.training: Any = None
        self.sampling: Any = None
        self.checked_sample = False

    def load(self) -> None:
        self.sdk = importlib.import_module(self.module_name)
        where = str(getattr(self.sdk, "__file__", ""))
        # ``import tinker`` must be the official SDK, not tinkex aliased as tinker.
        if self.module_name == "tinker" and "tinkex" in where:
            raise RuntimeError(f"`import tinker` gave tinkex ({where}), not the official SDK")

    def resolve(self) -> None:
        """What user code touches right after the import (a lazy package loads it now)."""
        sdk = self.sdk
        for name in ("Datum", "ModelInput", "SamplingParams", "AdamParams"):
            getattr(sdk.types, name)
        sdk.ServiceClient  # noqa: B018

    def connect(self, url: str) -> None:
        sdk = self.sdk
        self.service = sdk.ServiceClient(base_url=url, api_key=API_KEY, **self.service_kwargs)
        self.training = self.service.create_lora_training_client(
            base_model=BASE_MODEL, rank=8
        ).result()
        self.sampling = self.service.create_sampling_client(base_model=BASE_MODEL).result()
        self.prompt = sdk.types.ModelInput.from_ints(list(range(PROMPT_TOKENS)))
        self.params = sdk.types.SamplingParams(max_tokens=MAX_TOKENS)
        self.adam = sdk.types.AdamParams(learning_rate=1e-4)

    @contextlib.asynccontextmanager
    async def sampler(self, concurrency: int) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        sampling, prompt, params = self.sampling, self.prompt, self.params

        async def one() -> None:
            result = await sampling.sample(prompt, 1, params)
            tokens = result.sequences[0].tokens
            check(len(tokens) == MAX_TOKENS, f"{len(tokens)} tokens sampled")

        if not self.checked_sample:
            result = await sampling.sample(prompt, 1, params)
            seq = result.sequences[0]
            check(list(seq.tokens) == list(range(MAX_TOKENS)), f"sampled tokens {seq.tokens}")
            check(list(seq.logprobs) == [-0.5] * MAX_TOKENS, f"logprobs {seq.logprobs}")
            check(seq.stop_reason == "length", f"stop reason {seq.stop_reason}")
            self.checked_sample = True
        yield one

    def train_step(self, rows: Rows, check_result: bool = False) -> None:
        types = self.sdk.types
        data = [
            types.Datum(
                model_input=types.ModelInput.from_ints(inp),
                loss_fn_inputs={"target_tokens": tgt, "weights": w},
            )
            for inp, tgt, w in rows
        ]
        fb = self.training.forward_backward(data, "cross_entropy")
        opt = self.training.optim_step(self.adam)
        out = fb.result()
        step = opt.result()
        check(len(out.loss_fn_outputs) == len(rows), f"{len(out.loss_fn_outputs)} outputs")
        if check_result:
            tokens = len(rows[0][0])
            logprobs = out.loss_fn_outputs[-1]["logprobs"]
            values = list(getattr(logprobs, "data", logprobs))
            check(values == [-1.0] * tokens, f"logprobs {values[:4]}... ({len(values)})")
            loss = out.metrics.get("loss:sum")
            check(loss == float(len(rows) * tokens), f"metrics {out.metrics}")
            check(step.metrics == {"step": 1.0}, f"optim metrics {step.metrics}")

    def describe(self) -> dict[str, Any]:
        version = getattr(self.sdk, "__version__", None)
        return {
            "module": self.module_name,
            "version": version,
            "file": getattr(self.sdk, "__file__", None),
            "service_kwargs": self.service_kwargs,
            "pyqwest_loaded": "pyqwest" in sys.modules,
        }

    def close(self) -> None:
        if self.service is not None:
            self.service.__exit__(None, None, None)
            self.service = None
