"""Checkpoint download: fetch a checkpoint to a local directory, safely.

Trains a step, saves sampler weights, downloads them with ``RestClient.download_checkpoint``
(streamed to disk with constant memory, placed atomically, archives extracted only after every
member is checked), lists the files, and shows that an existing directory is not overwritten
without ``force=True``.

    python examples/checkpoint_download.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import LEARNING_RATE, LORA_RANK, Example, check, run, section, skip

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        training.forward_backward(ex.training_data(), "cross_entropy")
        training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result()
        saved = training.save_weights_for_sampler("download-me").result()
        print(f"saved {saved.path}")
        rest = service.create_rest_client()
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "checkpoint"
            section("download_checkpoint")
            try:
                where = rest.download_checkpoint(saved.path, target, progress=False)
            except tinker.NotFoundError as err:
                skip(f"the server offers no way to download checkpoints: {err}")
            files = sorted(p for p in where.rglob("*") if p.is_file())
            for f in files:
                print(f"  {f.relative_to(where)}  {f.stat().st_size:,} bytes")
            check(bool(files), "the download is empty")
            section("an existing directory is kept unless force=True")
            try:
                rest.download_checkpoint(saved.path, target, progress=False)
            except tinker.OutputExistsError as err:
                print(f"  refused as expected: {err}")
            else:
                raise AssertionError("an existing output directory was overwritten")
            again = rest.download_checkpoint(saved.path, target, force=True, progress=False)
            check(again == where, f"force put it elsewhere: {again}")
            print("  force=True replaced it")


if __name__ == "__main__":
    run(main)
