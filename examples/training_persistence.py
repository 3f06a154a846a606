"""Training persistence: save the training state, load it back, start new runs from it.

* ``save_state(name)`` saves weights and optimizer state as ``tinker://<run>/weights/<name>``;
* ``load_state(path)`` / ``load_state_with_optimizer(path)`` restore them into a run;
* ``ServiceClient.create_training_client_from_state(path)`` (and ``..._with_optimizer``) start a
  new run from them, e.g. to resume after a crash.

    python examples/training_persistence.py
"""

from __future__ import annotations

from _common import LEARNING_RATE, LORA_RANK, Example, check, mean_nll, run, section

import tinkex as tinker
from tinkex import types

TOLERANCE = 1e-4


def main(ex: Example) -> None:
    adam = types.AdamParams(learning_rate=LEARNING_RATE)
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()

        def loss_of(client: tinker.TrainingClient) -> float:
            return mean_nll(client.forward(data, "cross_entropy").result(), data)

        def step(client: tinker.TrainingClient) -> None:
            client.forward_backward(data, "cross_entropy")
            client.optim_step(adam).result()

        section("train two steps and save the state")
        step(training)
        step(training)
        saved_loss = loss_of(training)
        state = training.save_state("persistence-demo").result()
        print(f"  saved {state.path} at loss {saved_loss:.4f}")
        info = service.create_rest_client().get_weights_info_by_tinker_path(state.path).result()
        print(f"  weights info: base model {info.base_model}, LoRA rank {info.lora_rank}")

        section("train on, then load_state_with_optimizer: back to the saved loss")
        step(training)
        moved = loss_of(training)
        print(f"  after one more step: {moved:.4f}")
        check(abs(moved - saved_loss) > TOLERANCE, "the extra step did not change the weights")
        training.load_state_with_optimizer(state.path).result()
        restored = loss_of(training)
        print(f"  after load_state_with_optimizer: {restored:.4f}")
        check(abs(restored - saved_loss) < TOLERANCE, f"{restored} != saved {saved_loss}")

        section("create_training_client_from_state: a new run with the saved weights")
        fresh = service.create_training_client_from_state(state.path).result()
        ex.unload_at_exit(fresh)
        fresh_loss = loss_of(fresh)
        print(f"  new run {fresh.model_id}: loss {fresh_loss:.4f}")
        check(abs(fresh_loss - saved_loss) < TOLERANCE, f"{fresh_loss} != saved {saved_loss}")

        section("create_training_client_from_state_with_optimizer: resume training")
        resumed = service.create_training_client_from_state_with_optimizer(state.path).result()
        ex.unload_at_exit(resumed)
        start = loss_of(resumed)
        step(resumed)
        end = loss_of(resumed)
        print(f"  resumed run {resumed.model_id}: loss {start:.4f} -> {end:.4f} after one step")
        check(abs(start - saved_loss) < TOLERANCE, f"{start} != saved {saved_loss}")
        check(end < start, "the resumed run did not train")
        # Same weights, same Adam moments, same data: the same step as the original run took.
        check(abs(end - moved) < 1e-3, f"resumed step {end} != original step {moved}")
        print(f"  the same loss as the original run's step from that state ({moved:.4f})")


if __name__ == "__main__":
    run(main)
