"""Metrics logging: a few training steps logged to JSONL, the loss seen even where the server
sends none, and the curve drawn.

A server that sends no ``loss:sum`` (skyrl-tx, the local backend, answers ``metrics == {}``)
gets the loss computed by tinkex from the returned logprobs: ``loss:sum``, ``loss:mean`` (per
weighted token) and ``loss:client_computed = 1.0``. A ``tinkex.metrics.MetricsLogger`` appends
one JSON line per step (and forwards to TensorBoard where tensorboardX is installed); the curve
is drawn as ``tinkex metrics plot`` does (needs ``pip install 'tinkex[plot]'``).

    python examples/metrics_logging.py [--steps N] [--out DIR]
    tinkex metrics plot DIR/metrics.jsonl -o loss.png    # the same plot, from the command line
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import LEARNING_RATE, LORA_RANK, Example, check, mean_nll, run, section, skip_part

import tinkex as tinker
from tinkex import types
from tinkex.metrics import (
    CLIENT_COMPUTED_KEY,
    MetricsLogger,
    MetricsSink,
    TensorBoardSink,
    plot_metrics,
)


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="training steps (default 6)")
    parser.add_argument("--out", type=Path, help="where to write (default: a new temp folder)")
    args = parser.parse_args()
    out_dir: Path = args.out or Path(tempfile.mkdtemp(prefix="tinkex-metrics-"))

    sinks: list[MetricsSink] = []
    try:
        sinks.append(TensorBoardSink(out_dir / "tensorboard"))
    except ImportError as err:  # the message names the extra to install
        skip_part("TensorBoard", str(err))

    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()

        section(f"{args.steps} steps of cross entropy, logged to {out_dir / 'metrics.jsonl'}")
        losses: list[float] = []
        with MetricsLogger(out_dir / "metrics.jsonl", forward_to=sinks) as log:
            for step in range(args.steps):
                fb = training.forward_backward(data, "cross_entropy")
                opt = training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE))
                metrics = fb.result().metrics
                opt.result()
                where = "client" if metrics.get(CLIENT_COMPUTED_KEY) else "server"
                loss = metrics.get("loss:mean", metrics["loss:sum"])
                log.log(step, metrics, loss=loss, learning_rate=LEARNING_RATE)
                losses.append(loss)
                print(
                    f"step {step}: loss {loss:.4f} per token "
                    f"(loss:sum {metrics['loss:sum']:.2f}, computed by the {where})"
                )
        check(losses[-1] < losses[0], f"the loss did not go down: {losses}")

        section("the client's loss agrees with the logprobs")
        out = training.forward(data, "cross_entropy").result()
        if out.metrics.get(CLIENT_COMPUTED_KEY):
            expected = mean_nll(out, data)
            print(f"loss:mean {out.metrics['loss:mean']:.6f}, recomputed {expected:.6f}")
            check(abs(out.metrics["loss:mean"] - expected) < 1e-4, "loss:mean disagrees")
        else:
            print(f"the server sent the loss itself: {out.metrics}")

        section("the curve")
        png = out_dir / "loss.png"
        try:
            drawn = plot_metrics(out_dir / "metrics.jsonl", png, title="metrics_logging example")
        except ImportError as err:
            skip_part("plot", str(err))
        else:
            print(f"wrote {png} ({', '.join(drawn)})")
        print(f"files in {out_dir}: {sorted(p.name for p in out_dir.iterdir())}")


if __name__ == "__main__":
    run(main)
