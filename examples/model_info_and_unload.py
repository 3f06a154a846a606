"""Model information, and unloading a training run to free the server's resources.

``TrainingClient.get_info()`` tells the architecture, tokenizer and LoRA settings of a run.
``unload_model`` releases the run on the server (its LoRA slot, its optimizer state); it is
not on the high-level TrainingClient (the official SDK does not call it), so this uses the
low-level client, ``tinkex.lowlevel.TinkerAPI`` (see the README). After it, the run answers
with an error that says so.

    python examples/model_info_and_unload.py
"""

from __future__ import annotations

from _common import LORA_RANK, Example, check, optional, run, section

import tinkex as tinker
from tinkex.lowlevel import TinkerAPI


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)  # in case the example fails before it unloads

        section("get_info()")
        info = training.get_info()
        print(f"  model_id:       {info.model_id}")
        print(f"  model_name:     {info.model_name or info.model_data.model_name}")
        print(f"  arch:           {info.model_data.arch}")
        print(f"  tokenizer_id:   {info.model_data.tokenizer_id}")
        print(f"  is_lora:        {info.is_lora}, lora_rank: {info.lora_rank}")
        print(f"  optimizer:      {info.optimizer_config.model_dump(exclude_none=True)}")
        check(info.model_id == training.model_id, "get_info describes another run")
        data = ex.training_data()[:1]
        training.forward(data, "cross_entropy").result()
        print("  the run answers a forward pass")

        section("unload_model")
        with TinkerAPI() as api:  # TINKER_BASE_URL / TINKER_API_KEY, like the ServiceClient
            ok, reply = optional(
                "unload_model",
                lambda: api.training.unload_model(model_id=training.model_id).result(timeout=60),
            )
        if not ok:
            return
        print(f"  unloaded: {reply.model_id}")

        section("the unloaded run refuses work")
        try:
            training.forward(data, "cross_entropy").result(timeout=60)
        except tinker.APIError as err:
            print(f"  {type(err).__name__}: {err}")
        else:
            check(False, "a forward pass on the unloaded run succeeded")


if __name__ == "__main__":
    run(main)
