"""Checkpoint management with the RestClient: list, inspect, set a TTL, delete.

Parts the server does not serve are skipped with the reason (``SKIP-PART``); listing and
inspecting are needed, the rest is optional.

    python examples/checkpoint_management.py
"""

from __future__ import annotations

from typing import Any

from _common import LORA_RANK, Example, check, optional, run, section

import tinkex as tinker


def show(checkpoints: list[Any]) -> None:
    for c in checkpoints:
        size = f"{c.size_bytes / 1024:.0f} KiB" if c.size_bytes else "?"
        expires = c.expires_at.isoformat(timespec="seconds") if c.expires_at else "never"
        print(
            f"  {c.checkpoint_type:8} {c.checkpoint_id:32} {size:>9}  "
            f"{c.time:%Y-%m-%d %H:%M:%S}  expires {expires}"
        )


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        rest = service.create_rest_client()

        section("make two checkpoints")
        state = training.save_state("ckpt-state", ttl_seconds=3600).result()
        sampler = training.save_weights_for_sampler("ckpt-sampler").result()
        print(f"  {state.path}\n  {sampler.path}")

        section(f"list_checkpoints({training.model_id!r})")
        listed = rest.list_checkpoints(training.model_id).result().checkpoints
        show(listed)
        paths = {c.tinker_path for c in listed}
        check({state.path, sampler.path} <= paths, f"saved checkpoints not listed: {paths}")

        section("checkpoint info")
        info = rest.get_weights_info_by_tinker_path(state.path).result()
        print(f"  {state.path}: base model {info.base_model}, LoRA rank {info.lora_rank}")
        run_info = rest.get_training_run_by_tinker_path(sampler.path).result()
        last = run_info.last_sampler_checkpoint or run_info.last_checkpoint
        print(
            f"  training run {run_info.training_run_id}: owner {run_info.model_owner}, "
            f"last checkpoint {last.tinker_path if last else None}"
        )

        section("all your checkpoints (list_user_checkpoints)")
        ok, mine = optional("list_user_checkpoints", lambda: rest.list_user_checkpoints().result())
        if ok:
            print(f"  {len(mine.checkpoints)} checkpoint(s) across your runs")
            show(mine.checkpoints[:5])

        section("set a TTL")
        ok, _ = optional(
            "set_checkpoint_ttl",
            lambda: rest.set_checkpoint_ttl_from_tinker_path(sampler.path, 7200).result(),
        )
        if ok:
            print(f"  {sampler.path} now expires in 2 h")

        section("delete")
        ok, _ = optional(
            "delete_checkpoint",
            lambda: rest.delete_checkpoint_from_tinker_path(sampler.path).result(),
        )
        if ok:
            left = rest.list_checkpoints(training.model_id).result().checkpoints
            show(left)
            check(
                sampler.path not in {c.tinker_path for c in left},
                f"{sampler.path} is still listed after delete",
            )
            print(f"  deleted {sampler.path}")


if __name__ == "__main__":
    run(main)
