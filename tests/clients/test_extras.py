"""Optional extras (torch, transformers), sampler handles, and a light ``import tinkex``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, datum, work_requests
from tests.fake_tinker import FakeTinker
from tinkex import types

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


# ---------------------------------------------------------------------- missing extras


@pytest.mark.skipif(HAS_TRANSFORMERS, reason="transformers is installed")
def test_get_tokenizer_without_transformers_names_the_extra(
    service: tinker.ServiceClient, training: tinker.TrainingClient
) -> None:
    with pytest.raises(ImportError, match=r"tinkex\[tokenizer\]"):
        training.get_tokenizer()
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with pytest.raises(ImportError, match=r"tinkex\[tokenizer\]"):
        sampler.get_tokenizer()


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed")
def test_forward_backward_custom_without_torch_names_the_extra(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    sent = work_requests(server)
    with pytest.raises(ImportError, match=r"tinkex\[torch\]"):
        training.forward_backward_custom([datum([1, 2, 3])], lambda data, lps: (0, {}))
    assert work_requests(server) == sent
    training.optim_step().result()  # no seq id was used up
    assert server.seq_log[training.model_id] == [0, 1]


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch (pip install 'tinkex[torch]')")
def test_forward_backward_custom_end_to_end(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    import torch

    data = [datum([1, 2, 3, 4]), datum([5, 6, 7])]
    seen: list[list[float]] = []

    def loss_fn(
        batch: list[types.Datum], logprobs: list[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        assert len(batch) == 2
        seen.extend(lp.detach().tolist() for lp in logprobs)
        loss = sum(-2.0 * lp.sum() for lp in logprobs)
        return loss, {"custom:mean": 1.5}  # type: ignore[return-value]

    out = training.forward_backward_custom(data, loss_fn).result()

    (forward,) = server.requests_to("forward")
    (backward,) = server.requests_to("forward_backward")
    assert (forward.json["seq_id"], backward.json["seq_id"]) == (1, 2)
    assert forward.json["forward_input"]["loss_fn"] == "cross_entropy"
    sent = backward.json["forward_backward_input"]["data"]
    # the server is asked for the gradient of the user's loss: weights = -dLoss/dlogprobs = 2
    assert [d["loss_fn_inputs"]["weights"]["data"] for d in sent] == [[2.0] * 3, [2.0] * 2]
    assert [d["loss_fn_inputs"]["target_tokens"]["data"] for d in sent] == [[2, 3, 4], [6, 7]]
    assert seen == [o["logprobs"].data for o in out.loss_fn_outputs]
    assert out.metrics["loss:sum"] == pytest.approx(-2.0 * sum(sum(s) for s in seen), rel=1e-5)
    assert out.metrics["custom:mean"] == 1.5
    assert "surrogate_loss:sum" in out.metrics
    assert server.seq_log[training.model_id] == [0, 1, 2]
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1, 2, 3]


def test_server_side_custom_loss_handle_goes_as_loss_fn_custom(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    handle = tinker.LossHandle(name="my_loss", loss_id="loss-123")
    out = training.forward_backward_custom([datum([1, 2, 3])], handle).result()  # type: ignore[arg-type]
    (request,) = server.requests_to("forward_backward")
    assert request.json["forward_backward_input"]["loss_fn"] == "custom"
    assert request.json["forward_backward_input"]["loss_fn_config"] == {"loss_id": "loss-123"}
    assert len(out.loss_fn_outputs) == 1


# ---------------------------------------------------------------------- sampler handles


def test_sampler_handle_round_trip(
    server: FakeTinker, service: tinker.ServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    mine = sampler.sample(
        types.ModelInput.from_ints([1, 2]), 1, types.SamplingParams(max_tokens=3)
    ).result()
    handle = sampler.get_sampler_handle()
    assert "tml-test-key" not in handle
    with pytest.raises(ValueError, match="sampler handle"):
        tinker.SamplingClient.from_sampler_handle("not a handle!")
    other = tinker.SamplingClient.from_sampler_handle(handle)
    try:
        assert other.sampling_session_id == sampler.sampling_session_id
        assert other.get_base_model() == BASE_MODEL
        theirs = other.sample(
            types.ModelInput.from_ints([5, 6]), 1, types.SamplingParams(max_tokens=3)
        ).result(timeout=WAIT)
    finally:
        other.holder.close(status=None)
    expected = sampler.sample(
        types.ModelInput.from_ints([5, 6]), 1, types.SamplingParams(max_tokens=3)
    ).result()
    assert theirs.sequences[0].tokens == expected.sequences[0].tokens != mine.sequences[0].tokens
    seqs = [r.json["seq_id"] for r in server.requests_to("asample")]
    assert len(set(seqs)) == 3, seqs
    assert server.deduped == []


def test_second_client_on_an_existing_sampling_session(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    again = tinker.SamplingClient.create(
        service.holder, sampling_session_id=sampler.sampling_session_id, base_model=BASE_MODEL
    ).result(timeout=WAIT)
    a = sampler.sample(types.ModelInput.from_ints([1]), 1, types.SamplingParams(max_tokens=2))
    b = again.sample(types.ModelInput.from_ints([9]), 1, types.SamplingParams(max_tokens=2))
    assert a.result().sequences[0].tokens != b.result().sequences[0].tokens
    assert len(server.requests_to("create_sampling_session")) == 1
    seqs = [r.json["seq_id"] for r in server.requests_to("asample")]
    assert len(set(seqs)) == 2, seqs


# ---------------------------------------------------------------------- import cost


def _modules_after(code: str) -> dict[str, bool]:
    script = (
        "import json, sys\n"
        f"{code}\n"
        "names = ['numpy', 'torch', 'transformers', 'tinkex._generated', 'pygments', 'click',"
        " 'opentelemetry']\n"
        "print(json.dumps({n: n in sys.modules for n in names}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_tinkex_is_light() -> None:
    loaded = _modules_after("import tinkex")
    assert loaded == {
        "numpy": False,
        "torch": False,
        "transformers": False,
        "tinkex._generated": False,
        "pygments": False,
        "click": False,
        "opentelemetry": False,
    }


def test_using_the_clients_does_not_load_numpy_torch_or_transformers() -> None:
    loaded = _modules_after(
        "import tinkex as tinker\n"
        "from tinkex import types\n"
        "tinker.ServiceClient, tinker.TrainingClient, tinker.SamplingClient, tinker.RestClient\n"
        "types.Datum(model_input=types.ModelInput.from_ints([1, 2]),"
        " loss_fn_inputs={'target_tokens': [2, 3], 'weights': [1.0, 1.0]})\n"
        "types.TensorData.from_list([[1, 2], [3, 4]], 'int64').tolist()\n"
        "s = tinker.ServiceClient(base_url='http://127.0.0.1:9'); s.close()\n"
    )
    assert loaded["numpy"] is False
    assert loaded["pygments"] is False  # httpx's command-line client is not loaded
    assert loaded["torch"] is False
    assert loaded["transformers"] is False


def test_start_path_leaves_the_runtimes_rarely_used_parts_unloaded() -> None:
    # The runtime exports them lazily and the generated resources import them where used:
    # raw-response views, multipart bodies, event streams, page walks, binary bodies, gzip;
    # and the models of schemas outside the manifest's `eager_schemas`.
    rare = [
        "tinkex._generated._models_lazy",
        "sdkgen.runtime._raw_response",
        "sdkgen.runtime._multipart",
        "sdkgen.runtime._sse",
        "sdkgen.runtime._pagination",
        "sdkgen.runtime._binary",
        "httpx_sse",
        "gzip",
    ]
    script = (
        "import json, sys\n"
        "import tinkex\n"
        "from tinkex import types\n"
        "tinkex.ServiceClient, types.Datum, types.ModelInput, types.SamplingParams\n"
        f"print(json.dumps([n for n in {rare!r} if n in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("wire", ["protobuf", "json"])
def test_a_first_session_uses_only_the_eagerly_defined_models(
    server: FakeTinker, wire: str
) -> None:
    # The manifest's `eager_schemas` is kept by hand: a schema a first session needs, left out
    # of it, would define every lazy model class on the first request (slower, still correct).
    script = (
        "import json, sys\n"
        "import tinkex as tinker\n"
        "from tinkex import types\n"
        f"with tinker.ServiceClient(base_url={server.base_url!r}, api_key='tml-test',"
        f" wire={wire!r}) as service:\n"
        f"    training = service.create_lora_training_client({BASE_MODEL!r}, rank=4).result()\n"
        "    datum = types.Datum(model_input=types.ModelInput.from_ints([1, 2, 3]),"
        " loss_fn_inputs={'target_tokens': [2, 3, 4], 'weights': [1.0, 1.0, 1.0]})\n"
        "    fb = training.forward_backward([datum], 'cross_entropy')\n"
        "    step = training.optim_step(types.AdamParams(learning_rate=1e-4))\n"
        "    fb.result(), step.result()\n"
        "    training.forward([datum], 'cross_entropy').result()\n"
        f"    sampler = service.create_sampling_client(base_model={BASE_MODEL!r}).result()\n"
        "    sampler.sample(types.ModelInput.from_ints([1, 2]), 1,"
        " types.SamplingParams(max_tokens=2)).result()\n"
        "print(json.dumps('tinkex._generated._models_lazy' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) is False
    assert server.requests_to("optim_step")
    assert server.requests_to("asample")
