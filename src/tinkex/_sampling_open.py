"""Opening sampling clients: a new sampling session (a lost answer looked up), the base model
under saved weights, and the clone ids that keep the seq ids of clients of one session apart."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from sdkgen.runtime import NotFoundError

from ._creation_recovery import create_sampling_session_recovering
from .types import ParsedCheckpointTinkerPath

if TYPE_CHECKING:
    from ._holder import Holder
    from ._sampling_client import SamplingClient
    from ._sampling_retry import RetryConfig

__all__ = ["CLONE_SEQ_STRIDE", "base_model_of", "new_clone_id", "open_sampling_client"]

logger = logging.getLogger("tinkex")

# A clone (an unpickled client) numbers its requests from ``CLONE_SEQ_STRIDE * clone id``, so
# that its seq ids never collide with those of the other clients of the same sampling session.
CLONE_SEQ_STRIDE = 1_000_000_000


async def open_sampling_client(
    holder: Holder,
    *,
    model_path: str | None = None,
    base_model: str | None = None,
    retry_config: RetryConfig | None = None,
    record_stability_info: bool = False,
    known_base_model: str | None = None,
) -> SamplingClient:
    """A SamplingClient on a new sampling session on ``model_path`` or ``base_model`` (exactly
    one is sent; ``known_base_model`` only records what the caller already knows of the model)."""
    if (model_path is None) == (base_model is None):
        raise ValueError("pass exactly one of model_path (tinker://...) and base_model")
    sampler_id = await create_sampling_session_recovering(  # a lost answer: looked up
        holder,
        session_id=await holder.session.session_id(),
        seq_id=holder.session.next_sampling_seq_id(),
        base_model=base_model,
        model_path=model_path,
    )
    known = base_model or known_base_model
    if known is None and model_path is not None:
        known = await base_model_of(holder, sampler_id, model_path)
    from ._sampling_client import SamplingClient  # the client module imports this one

    return SamplingClient(
        holder,
        sampling_session_id=sampler_id,
        base_model=known,
        retry_config=retry_config,
        record_stability_info=record_stability_info,
    )


def _new_clone_id() -> int:
    """A random clone id (1 ..): another client of an existing sampling session numbers its
    requests apart from the others (the official SDK does the same)."""
    return secrets.randbelow(CLONE_SEQ_STRIDE) + 1


async def base_model_of(holder: Holder, sampler_id: str, model_path: str) -> str | None:
    """The base model under a sampler: asked of the sampler, else of its training run (servers
    without the samplers endpoint), else unknown."""
    try:
        return (await holder.api.sampling.get_sampler(sampler_id)).base_model
    except NotFoundError:
        pass
    try:
        run = ParsedCheckpointTinkerPath.from_tinker_path(model_path).training_run_id
        return (await holder.api.training_runs.get_training_run(run)).base_model
    except (NotFoundError, ValueError):
        logger.debug("base model of %s is unknown (the server cannot say)", model_path)
        return None


def new_clone_id() -> int:
    """A random clone id (1 ..): another client of an existing sampling session numbers its
    requests apart from the others (the official SDK does the same)."""
    return secrets.randbelow(CLONE_SEQ_STRIDE) + 1
