"""Code a spawned worker process runs (importable by name, unlike a test module)."""

from __future__ import annotations

from typing import Any


def sample_in_worker(sampling_client: Any, tokens: list[int]) -> dict[str, Any]:
    """Sample with a SamplingClient unpickled in this process; what came back, and from where."""
    import threading

    from tinkex import types

    try:
        out = sampling_client.sample(
            types.ModelInput.from_ints(tokens), 2, types.SamplingParams(max_tokens=3)
        ).result(timeout=20)
        return {
            "tokens": [list(s.tokens) for s in out.sequences],
            "session": sampling_client.sampling_session_id,
            "base_model": sampling_client.base_model,
        }
    finally:
        sampling_client.holder.close(status=None)
        assert not [t for t in threading.enumerate() if t.name == "tinkex" and t.is_alive()]
