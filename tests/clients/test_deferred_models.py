"""Generated models build their validators on first use; first use from many threads at once
must build each once and validate correctly (pydantic >= 2.14 locks the build)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, threading
from tinkex._generated import models as m

names = ["OptimStepRequest", "SampleRequest", "CreateModelRequest", "SaveWeightsRequest",
         "ForwardBackwardOutput", "TrainingRun", "CheckpointsListResponse", "LoraConfig"]
built_before = {n: getattr(m, n).__pydantic_complete__ for n in names}
barrier = threading.Barrier(16)
errors = []

def use(i):
    barrier.wait()
    try:
        m.OptimStepRequest.model_validate({"model_id": "x", "seq_id": i})
        m.LoraConfig.model_validate({"rank": 8})
        try:
            m.LoraConfig.model_validate({"rank": 8, "bogus": 1})
        except Exception as err:
            if "extra" not in str(err).lower():
                errors.append(f"wrong error: {err}")
        else:
            errors.append("an unknown field was accepted")
        m.ForwardBackwardOutput.model_validate(
            {"loss_fn_output_type": "ArrayRecord", "loss_fn_outputs": [], "metrics": {}}
        )
    except Exception as err:
        errors.append(repr(err))

threads = [threading.Thread(target=use, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"before": built_before, "errors": errors}))
"""


def test_models_are_built_on_first_use_once_across_threads() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    assert not any(out["before"].values())  # nothing was built at import
