"""Training metrics made visible: a JSONL log, experiment trackers and curves.

- :class:`MetricsLogger` appends one JSON line per step (``step``, ``time``, ``loss``, any
  metrics) and forwards the numbers to the trackers given (:class:`TensorBoardSink`,
  :class:`WandbSink`, :class:`MLflowSink`; each needs its extra, imported only when made).
- :func:`read_metrics` reads such a file back; :func:`plot_metrics` (``tinkex metrics plot``)
  draws its curves (``pip install 'tinkex[plot]'``).
- A server that sends no ``loss:sum`` for a built-in loss (skyrl-tx answers ``metrics == {}``)
  gets it computed by the client from the returned logprobs: ``loss:sum``, ``loss:mean`` (per
  weighted token) and :data:`CLIENT_COMPUTED_KEY` = 1.0 in ``ForwardBackwardOutput.metrics``.

Example::

    from tinkex.metrics import MetricsLogger

    with MetricsLogger("runs/sft/metrics.jsonl") as log:
        for step in range(10):
            fb = training.forward_backward(data, "cross_entropy").result()
            training.optim_step(types.AdamParams(learning_rate=1e-4)).result()
            log.log(step, fb.metrics, loss=fb.metrics["loss:mean"])
"""

from .._client_loss import CLIENT_COMPUTED_KEY, client_loss
from ._logger import MetricsLogger, MetricsSink, read_metrics
from ._plot import plot_metrics
from ._sinks import MLflowSink, TensorBoardSink, WandbSink

__all__ = [
    "CLIENT_COMPUTED_KEY",
    "MLflowSink",
    "MetricsLogger",
    "MetricsSink",
    "TensorBoardSink",
    "WandbSink",
    "client_loss",
    "plot_metrics",
    "read_metrics",
]
