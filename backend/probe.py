"""Probe: how tinkex's clients fare against a real skyrl-tx server.

    /work/main/.venv/bin/python -m backend.skyrl probe [--out FILE] [--steps N]

Starts the backend (backend/skyrl.py), exercises every client call a user would make, and
records for each: ok / FAILED with the error and the HTTP exchange behind it. Prints a table,
writes a JSON report (default: <run dir>/probe.json) and always stops the server.
Exit code 0 when every call worked, 1 otherwise. Needs tinkex importable (the project venv).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import traceback
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from backend.skyrl import Backend, running_backend, tokenize

STEP_TIMEOUT = 180.0
# On the tiny random model lr 1e-3..3e-3 makes the loss fall every step; 1e-2 and more oscillate.
LEARNING_RATE = 3e-3
SENTENCE = "The quick brown fox jumps over the lazy dog."
PROMPT = "Question: What is two plus two? Answer:"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Keeps every HTTP exchange (bodies cut short) so a failure can show what went over."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.log: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path
            + (f"?{request.url.query.decode()}" if request.url.query else ""),
            "request": _cut(request.content),
        }
        self.log.append(entry)
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as exc:
            entry["error"] = repr(exc)
            raise
        body = await response.aread()
        entry["status"] = response.status_code
        entry["response"] = _cut(body)
        return httpx.Response(
            status_code=response.status_code,
            headers=[
                (k, v) for k, v in response.headers.items() if k.lower() != "content-encoding"
            ],
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _cut(data: bytes, limit: int = 700) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Probe:
    def __init__(self, backend: Backend, transport: RecordingTransport) -> None:
        self.backend = backend
        self.transport = transport
        self.results: list[dict[str, Any]] = []
        self.values: dict[str, Any] = {}

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        mark = len(self.transport.log)
        t0 = time.monotonic()
        print(f"--- {name}", flush=True)
        try:
            value = fn()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            exchanges = self.transport.log[mark:]
            interesting = [e for e in exchanges if e.get("status", 0) >= 400 or "error" in e]
            self.results.append(
                {
                    "call": name,
                    "ok": False,
                    "seconds": round(time.monotonic() - t0, 2),
                    "error": f"{type(exc).__name__}: {exc}"[:1500],
                    "traceback": traceback.format_exc(limit=6)[-2500:],
                    "failed_http": interesting[-3:],
                    "last_http": exchanges[-3:],
                }
            )
            print(f"    FAILED: {type(exc).__name__}: {str(exc)[:400]}", flush=True)
            for e in (interesting or exchanges)[-2:]:
                print(
                    f"      {e.get('method')} {e.get('path')} -> {e.get('status', e.get('error'))}"
                )
                print(f"        req:  {e.get('request', '')[:300]}")
                print(f"        resp: {e.get('response', '')[:300]}")
            return None
        summary = _summary(value)
        self.results.append(
            {
                "call": name,
                "ok": True,
                "seconds": round(time.monotonic() - t0, 2),
                "result": summary,
            }
        )
        print(f"    ok ({time.monotonic() - t0:.1f}s): {summary[:300]}", flush=True)
        return value


def _summary(value: Any) -> str:
    if hasattr(value, "model_dump"):
        try:
            return json.dumps(value.model_dump(mode="json"), default=str)[:800]
        except Exception:
            pass
    return repr(value)[:800]


def _openapi_routes(base_url: str) -> list[str]:
    with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=10) as resp:
        spec = json.load(resp)
    routes = []
    for path, ops in sorted(spec.get("paths", {}).items()):
        for method in ops:
            routes.append(f"{method.upper()} {path}")
    return routes


def _mean_nll(output: Any, weights: list[float]) -> float:
    logprobs = output.loss_fn_outputs[0]["logprobs"].data
    total = sum(-lp * w for lp, w in zip(logprobs, weights, strict=False))
    return float(total) / max(sum(weights), 1e-9)


def run(backend: Backend, steps: int) -> Probe:
    import tinkex
    from tinkex import types

    transport = RecordingTransport()
    probe = Probe(backend, transport)
    base_model = backend.base_model

    probe.values["routes"] = probe.step(
        "GET /openapi.json routes", lambda: _openapi_routes(backend.base_url)
    )

    [sentence_ids, prompt_ids] = tokenize([SENTENCE * 3, PROMPT], backend.base_model)
    probe.values["sentence_tokens"] = len(sentence_ids)
    tokens = sentence_ids
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={
            "target_tokens": types.TensorData.from_list(tokens[1:], "int64"),
            "weights": types.TensorData.from_list([1.0] * (len(tokens) - 1), "float32"),
        },
    )
    weights = [1.0] * (len(tokens) - 1)
    prompt = types.ModelInput.from_ints(prompt_ids)

    service = tinkex.ServiceClient(  # type: ignore[attr-defined]
        base_url=backend.base_url,
        api_key="tml-local",
        transport=transport,
        result_timeout=STEP_TIMEOUT,
        max_retries=1,
    )
    try:
        _run_calls(probe, service, base_model, datum, weights, prompt, steps)
    finally:
        probe.step("ServiceClient.close()", service.close)
    return probe


def _run_calls(
    probe: Probe,
    service: Any,
    base_model: str,
    datum: Any,
    weights: list[float],
    prompt: Any,
    steps: int,
) -> None:
    from tinkex import types

    T = STEP_TIMEOUT
    probe.step("ServiceClient.get_server_capabilities()", service.get_server_capabilities)
    tc = probe.step(
        "ServiceClient.create_lora_training_client(base_model, rank=8)",
        lambda: service.create_lora_training_client(base_model, rank=8, seed=0).result(T),
    )
    if tc is None:
        probe.step(
            "(skip) everything that needs a training client",
            lambda: (_ for _ in ()).throw(RuntimeError("no training client")),
        )
        return
    probe.values["model_id"] = tc.model_id
    probe.step("TrainingClient.get_info()", tc.get_info)

    losses: list[float] = []
    metric_losses: list[Any] = []
    for i in range(steps):
        out = probe.step(
            f"TrainingClient.forward_backward(cross_entropy) #{i + 1}",
            lambda: tc.forward_backward([datum], "cross_entropy").result(T),
        )
        if out is None:
            break
        losses.append(_mean_nll(out, weights))
        metric_losses.append(out.metrics)
        opt = probe.step(
            f"TrainingClient.optim_step(AdamParams(lr={LEARNING_RATE})) #{i + 1}",
            lambda: tc.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result(T),
        )
        if opt is None:
            break
    probe.values["losses"] = losses
    probe.values["metrics"] = metric_losses
    fwd = probe.step(
        "TrainingClient.forward(cross_entropy) after training",
        lambda: tc.forward([datum], "cross_entropy").result(T),
    )
    if fwd is not None:
        probe.values["loss_after_forward"] = _mean_nll(fwd, weights)
    if losses:
        print(f"    losses: {[round(x, 4) for x in losses]}", flush=True)

    saved = probe.step(
        "TrainingClient.save_weights_for_sampler('probe-sampler')",
        lambda: tc.save_weights_for_sampler("probe-sampler").result(T),
    )
    sampler_path = getattr(saved, "path", None)
    probe.values["save_weights_for_sampler_path"] = sampler_path
    long_sampler_path = f"tinker://{tc.model_id}/sampler_weights/probe-sampler"
    probe.step(
        "ServiceClient.create_sampling_client(model_path=long form .../sampler_weights/...)",
        lambda: service.create_sampling_client(model_path=long_sampler_path).result(T),
    )
    probe.step(
        "TrainingClient.create_sampling_client(long form .../sampler_weights/...)",
        lambda: tc.create_sampling_client(long_sampler_path).result(T),
    )
    probe.step(
        "workaround: low-level create_sampling_session(model_path=long form) + sample",
        lambda: _sample_from_path(service, long_sampler_path, base_model, prompt, T),
    )
    probe.step(
        "workaround: low-level create_sampling_session(model_path=short form) + sample",
        lambda: _sample_from_path(service, sampler_path, base_model, prompt, T),
    )
    if sampler_path:
        sc_path = probe.step(
            "ServiceClient.create_sampling_client(model_path=sampler path)",
            lambda: service.create_sampling_client(model_path=sampler_path).result(T),
        )
        if sc_path is not None:
            probe.step(
                "SamplingClient(sampler path).sample(max_tokens=8)",
                lambda: sc_path.sample(prompt, 1, types.SamplingParams(max_tokens=8)).result(T),
            )
        probe.step(
            "TrainingClient.create_sampling_client(sampler path)",
            lambda: tc.create_sampling_client(sampler_path).result(T),
        )

    sc = probe.step(
        "TrainingClient.save_weights_and_get_sampling_client()",
        lambda: tc.save_weights_and_get_sampling_client().result(T),
    )
    if sc is not None:
        res = probe.step(
            "SamplingClient.sample(n=2, max_tokens=12, stop=['\\n'], seed=1)",
            lambda: sc.sample(
                prompt, 2, types.SamplingParams(max_tokens=12, stop=["\n"], seed=1, temperature=1.0)
            ).result(T),
        )
        if res is not None:
            probe.values["sample"] = [
                {
                    "tokens": s.tokens,
                    "stop_reason": s.stop_reason,
                    "n_logprobs": len(s.logprobs or []),
                }
                for s in res.sequences
            ]
        probe.step(
            "SamplingClient.sample(max_tokens=5, stop=[token id])",
            lambda: sc.sample(
                prompt, 1, types.SamplingParams(max_tokens=5, stop=[prompt.to_ints()[0]])
            ).result(T),
        )
        probe.step(
            "SamplingClient.sample(max_tokens=4, temperature=0) twice, same tokens",
            lambda: _greedy_twice(sc, prompt, types, T),
        )
        raw = probe.step(
            "SamplingClient.sample(include_prompt_logprobs=True)",
            lambda: sc.sample(
                prompt, 1, types.SamplingParams(max_tokens=1), include_prompt_logprobs=True
            ).result(T),
        )
        if raw is not None:
            probe.values["raw_prompt_logprobs_len"] = len(raw.prompt_logprobs or [])
            probe.values["prompt_len"] = prompt.length
            probe.values["raw_prompt_logprobs_first"] = (raw.prompt_logprobs or [None])[:2]
        lps = probe.step(
            "SamplingClient.compute_logprobs(prompt)", lambda: sc.compute_logprobs(prompt).result(T)
        )
        if lps is not None:
            probe.values["compute_logprobs_len"] = len(lps)
            probe.values["compute_logprobs_first"] = lps[:2]
            probe.values["compute_logprobs_ok_shape"] = len(lps) == prompt.length and lps[0] is None
        probe.step(
            "SamplingClient.sample(topk_prompt_logprobs=2)",
            lambda: sc.sample(
                prompt,
                1,
                types.SamplingParams(max_tokens=1),
                include_prompt_logprobs=True,
                topk_prompt_logprobs=2,
            ).result(T),
        )

    if sc is not None:
        probe.step(
            "SamplingClient.sample(stop='\\n' as a plain string)",
            lambda: sc.sample(prompt, 1, types.SamplingParams(max_tokens=8, stop="\n")).result(T),
        )
        probe.step(
            "SamplingClient.sample(SamplingParams() without max_tokens)",
            lambda: sc.sample(prompt, 1, types.SamplingParams()).result(T),
        )
        probe.step(
            "pickle.loads(pickle.dumps(SamplingClient)).sample(max_tokens=4)",
            lambda: _pickled_sample(sc, prompt, T),
        )
        probe.step(
            "forward_backward(importance_sampling)",
            lambda: tc.forward_backward([_is_datum(datum)], "importance_sampling").result(T),
        )
        probe.step(
            "forward_backward(ppo)",
            lambda: tc.forward_backward([_is_datum(datum)], "ppo").result(T),
        )
        probe.step(
            "optim_step after rl losses",
            lambda: tc.optim_step(types.AdamParams(learning_rate=0.0)).result(T),
        )

    base_sc = probe.step(
        "ServiceClient.create_sampling_client(base_model=...)",
        lambda: service.create_sampling_client(base_model=base_model).result(T),
    )
    if base_sc is not None:
        probe.step(
            "SamplingClient(base).sample(max_tokens=6)",
            lambda: base_sc.sample(prompt, 1, types.SamplingParams(max_tokens=6)).result(T),
        )

    state = probe.step(
        "TrainingClient.save_state('probe-state')", lambda: tc.save_state("probe-state").result(T)
    )
    state_path = getattr(state, "path", None)
    if state_path:
        probe.values["state_path"] = state_path
        probe.step("TrainingClient.load_state(path)", lambda: tc.load_state(state_path).result(T))
        probe.step(
            "TrainingClient.load_state_with_optimizer(path)",
            lambda: tc.load_state_with_optimizer(state_path).result(T),
        )
        tc2 = probe.step(
            "ServiceClient.create_training_client_from_state(path)",
            lambda: service.create_training_client_from_state(state_path).result(T),
        )
        if tc2 is not None:
            out2 = probe.step(
                "restored TrainingClient.forward(cross_entropy)",
                lambda: tc2.forward([datum], "cross_entropy").result(T),
            )
            if out2 is not None:
                probe.values["restored_loss"] = _mean_nll(out2, weights)
            probe.step(
                "unload_model(restored run) via holder.api.training.unload_model",
                lambda: _unload(service, tc2.model_id),
            )
        tc3 = probe.step(
            "workaround: weights_info -> create_lora_training_client(base, rank) -> load_state",
            lambda: _from_state_by_hand(service, state_path, T),
        )
        if tc3 is not None:
            out3 = probe.step(
                "workaround-restored TrainingClient.forward(cross_entropy)",
                lambda: tc3.forward([datum], "cross_entropy").result(T),
            )
            if out3 is not None:
                probe.values["restored_loss_workaround"] = _mean_nll(out3, weights)
            probe.step("unload_model(workaround run)", lambda: _unload(service, tc3.model_id))
        probe.step(
            "ServiceClient.create_training_client_from_state_with_optimizer(path)",
            lambda: _and_unload(
                service,
                service.create_training_client_from_state_with_optimizer(state_path).result(T),
            ),
        )

    rest = service.create_rest_client()
    run_id = tc.model_id
    probe.step("RestClient.list_training_runs()", lambda: rest.list_training_runs().result(T))
    probe.step(
        "RestClient.get_training_run(model_id)", lambda: rest.get_training_run(run_id).result(T)
    )
    probe.step(
        "RestClient.list_checkpoints(model_id)", lambda: rest.list_checkpoints(run_id).result(T)
    )
    probe.step("RestClient.list_user_checkpoints()", lambda: rest.list_user_checkpoints().result(T))
    if state_path:
        probe.step(
            "RestClient.get_training_run_by_tinker_path(state path)",
            lambda: rest.get_training_run_by_tinker_path(state_path).result(T),
        )
        probe.step(
            "RestClient.get_weights_info_by_tinker_path(state path)",
            lambda: rest.get_weights_info_by_tinker_path(state_path).result(T),
        )
    probe.step(
        "low-level checkpoints.get_checkpoint_archive_url(run, 'sampler_weights/probe-sampler')",
        lambda: _archive(service, run_id, "sampler_weights/probe-sampler"),
    )
    probe.step(
        "low-level checkpoints.get_checkpoint_archive_url(run, 'probe-sampler') (skyrl's id form)",
        lambda: _archive(service, run_id, "probe-sampler"),
    )
    probe.step(
        "TrainingClient.save_weights_external('probe-ext')",
        lambda: tc.save_weights_external("probe-ext").result(T),
    )
    probe.step(
        "RestClient.delete_checkpoint_from_tinker_path(long sampler path)",
        lambda: rest.delete_checkpoint_from_tinker_path(long_sampler_path).result(T),
    )
    probe.step("RestClient.list_sessions()", lambda: rest.list_sessions().result(T))
    probe.step(
        "RestClient.get_session(session_id)",
        lambda: rest.get_session(service.holder.run(service.holder.session.session_id())).result(T),
    )
    if sc is not None:
        probe.step(
            "RestClient.get_sampler(sampling_session_id)",
            lambda: rest.get_sampler(sc.sampling_session_id).result(T),
        )

    probe.step(
        "error path: create_lora_training_client('no/such-model')",
        lambda: _expect_error(
            lambda: service.create_lora_training_client("no/such-model", rank=8).result(T)
        ),
    )
    probe.step(
        "error path: create_sampling_client(model_path='tinker://nope/sampler_weights/x')",
        lambda: _expect_error(
            lambda: service.create_sampling_client(
                model_path="tinker://nope/sampler_weights/x"
            ).result(T)
        ),
    )
    probe.step(
        "error path: load_state('tinker://nope/weights/x')",
        lambda: _expect_error(lambda: tc.load_state("tinker://nope/weights/x").result(T)),
    )
    probe.step(
        "unload_model(model_id) via holder.api.training.unload_model",
        lambda: _unload(service, tc.model_id),
    )
    probe.step(
        "error path: forward on the unloaded model",
        lambda: _expect_error(lambda: tc.forward([datum], "cross_entropy").result(60)),
    )


def _greedy_twice(sc: Any, prompt: Any, types: Any, timeout: float) -> Any:
    params = types.SamplingParams(max_tokens=4, temperature=0.0)
    a = sc.sample(prompt, 1, params).result(timeout).sequences[0].tokens
    b = sc.sample(prompt, 1, params).result(timeout).sequences[0].tokens
    if a != b:
        raise AssertionError(f"greedy sampling differs: {a} vs {b}")
    return a


def _sample_from_path(
    service: Any, path: str | None, base_model: str, prompt: Any, timeout: float
) -> Any:
    """What tinkex could do: a sampling session on the path, without asking get_sampler."""
    from tinkex import SamplingClient, types  # type: ignore[attr-defined]

    if not path:
        raise ValueError("no path")
    holder = service.holder

    async def go() -> Any:
        reply = await holder.api.sampling.create_sampling_session(
            session_id=await holder.session.session_id(),
            sampling_session_seq_id=holder.session.next_sampling_seq_id(),
            model_path=path,
        )
        return reply.sampling_session_id

    sid = holder.run(go())
    sc = SamplingClient(holder, sampling_session_id=sid, base_model=base_model)
    return sc.sample(prompt, 1, types.SamplingParams(max_tokens=4)).result(timeout)


def _pickled_sample(sc: Any, prompt: Any, timeout: float) -> Any:
    import pickle

    from tinkex import types

    clone = pickle.loads(pickle.dumps(sc))
    try:
        return clone.sample(prompt, 1, types.SamplingParams(max_tokens=4)).result(timeout)
    finally:
        clone.holder.close(None)


def _is_datum(datum: Any) -> Any:
    from tinkex import types

    n = len(datum.loss_fn_inputs["target_tokens"].data)
    return types.Datum(
        model_input=datum.model_input,
        loss_fn_inputs={
            "target_tokens": datum.loss_fn_inputs["target_tokens"],
            "logprobs": types.TensorData.from_list([-5.0] * n, "float32"),
            "advantages": types.TensorData.from_list([1.0] * n, "float32"),
        },
    )


def _from_state_by_hand(service: Any, path: str, timeout: float) -> Any:
    """What older SDKs did: create a run on the checkpoint's base model, then load_state."""
    info = service.create_rest_client().get_weights_info_by_tinker_path(path).result(timeout)
    tc = service.create_lora_training_client(info.base_model, rank=info.lora_rank or 8).result(
        timeout
    )
    tc.load_state(path).result(timeout)
    return tc


def _archive(service: Any, run_id: str, checkpoint_id: str) -> Any:
    holder = service.holder
    return holder.run(holder.api.checkpoints.get_checkpoint_archive_url(run_id, checkpoint_id))


def _unload(service: Any, model_id: str) -> Any:
    holder = service.holder

    async def go() -> Any:
        handle = await holder.api.training.unload_model(model_id=model_id)
        return await handle.result()

    return holder.run(go())


def _and_unload(service: Any, tc: Any) -> Any:
    _unload(service, tc.model_id)
    return tc


def _expect_error(fn: Callable[[], Any]) -> str:
    try:
        fn()
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"[:600]
    raise AssertionError("expected an error, the call succeeded")


def _report(probe: Probe, backend: Backend, out: Path) -> int:
    failed = [r for r in probe.results if not r["ok"]]
    print("\n================ probe summary ================")
    for r in probe.results:
        mark = "ok    " if r["ok"] else "FAILED"
        print(f"{mark} {r['seconds']:6.1f}s  {r['call']}")
        if not r["ok"]:
            print(f"         {r['error'][:300]}")
    losses = probe.values.get("losses") or []
    if losses:
        trend = "DOWN" if len(losses) > 1 and losses[-1] < losses[0] else "NOT down"
        print(f"loss (mean NLL per token): {[round(x, 4) for x in losses]} -> {trend}")
    for key in (
        "prompt_len",
        "raw_prompt_logprobs_len",
        "raw_prompt_logprobs_first",
        "compute_logprobs_len",
        "compute_logprobs_first",
        "compute_logprobs_ok_shape",
        "loss_after_forward",
        "restored_loss",
        "restored_loss_workaround",
        "save_weights_for_sampler_path",
        "sample",
    ):
        if key in probe.values:
            print(f"{key}: {probe.values[key]}")
    routes = probe.values.get("routes") or []
    print(f"skyrl-tx routes ({len(routes)}):")
    for route in routes:
        print(f"  {route}")
    print(f"{len(probe.results) - len(failed)} passed, {len(failed)} failed")
    report = {
        "base_url": backend.base_url,
        "base_model": backend.base_model,
        "ready_seconds": backend.ready_seconds,
        "log_path": str(backend.log_path),
        "results": probe.results,
        "values": {k: v for k, v in probe.values.items() if _jsonable(v)},
        "http_log": probe.transport.log,
    }
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"report: {out}\nserver log: {backend.log_path}")
    return 0 if not failed else 1


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        return False
    return not (isinstance(v, float) and math.isnan(v))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.skyrl probe")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default: run dir)")
    parser.add_argument("--steps", type=int, default=8, help="training steps")
    args = parser.parse_args(argv)
    with running_backend() as backend:
        probe = run(backend, args.steps)
        return _report(probe, backend, args.out or backend.run_dir / "probe.json")
