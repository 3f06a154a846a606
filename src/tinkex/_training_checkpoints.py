"""TrainingClient's checkpoint methods: saving and loading the training state, saving weights for the sampler or for export, and sampling clients on them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sdkgen.runtime import (
    APIFuture,
)

from ._generated import models
from ._public_call import awaited_twin, future_twin, public
from ._tinker_paths import check_tinker_path, normalize_path
from ._training_base import TrainingBase
from ._validation import (
    check_checkpoint_name,
)
from ._wire import compact
from .types import (
    LoadWeightsResponse,
    SaveWeightsForSamplerResponse,
    SaveWeightsResponse,
)

if TYPE_CHECKING:
    from ._sampling_client import RetryConfig, SamplingClient, SamplingClientFuture
logger = logging.getLogger("tinkex")
H = TypeVar("H")
R = TypeVar("R")

__all__ = ["TrainingCheckpoints"]


class TrainingCheckpoints(TrainingBase):
    """The checkpoint methods of TrainingClient (which inherits them; use TrainingClient)."""

    @public
    def save_state(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: dict[str, str] | None = None,
    ) -> APIFuture[SaveWeightsResponse]:
        """Save weights and optimizer state as ``tinker://<run>/weights/<name>`` (resumable).

        Args:
            name: The checkpoint's name: ``[A-Za-z0-9_.-]``, 1 to 255 characters, not starting
                with ``.``.
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            overwrite: Replace an existing checkpoint of the same name.
            user_metadata: Stored with the checkpoint.

        Returns:
            A future of the ``SaveWeightsResponse``, whose ``path`` is the checkpoint's
                ``tinker://`` path.

        Example::

            path = training_client.save_state("step-100").result().path
        """
        check_checkpoint_name(name)
        return self._single(
            "save_state",
            lambda seq_id: self._training.save_weights(
                request=compact(
                    models.SaveWeightsRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    overwrite=overwrite,
                    user_metadata=user_metadata,
                ),
                on_queue_state=self._queue_logger,
            ),
            lambda r: r.model_copy(update={"path": normalize_path(r.path, "weights")}),
        )

    def _load(
        self, path: str, optimizer: bool, weights_access_token: str | None
    ) -> APIFuture[LoadWeightsResponse]:
        check_tinker_path(path)
        return self._single(
            "load_state_with_optimizer" if optimizer else "load_state",
            lambda seq_id: self._training.load_weights(
                request=compact(
                    models.LoadWeightsRequest,
                    model_id=self.model_id,
                    seq_id=seq_id,
                    path=path,
                    optimizer=optimizer,
                    weights_access_token=weights_access_token,
                ),
                on_queue_state=self._queue_logger,
            ),
        )

    @public
    def load_state(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """Load weights (not the optimizer state) from a ``tinker://.../weights/...`` path.

        Args:
            path: A state saved by ``save_state``.
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the ``LoadWeightsResponse``.
        """
        return self._load(path, False, weights_access_token)

    @public
    def load_state_with_optimizer(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """Load weights and optimizer state from a ``tinker://.../weights/...`` path.

        Args:
            path: A state saved by ``save_state``.
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the ``LoadWeightsResponse``.
        """
        return self._load(path, True, weights_access_token)

    @public
    def save_weights_for_sampler(
        self, name: str, ttl_seconds: int | None = None, user_metadata: dict[str, str] | None = None
    ) -> APIFuture[SaveWeightsForSamplerResponse]:
        """Save sampler weights as ``tinker://<run>/sampler_weights/<name>`` (persistent).

        Args:
            name: The checkpoint's name (as for ``save_state``).
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            user_metadata: Stored with the checkpoint.

        Returns:
            A future of the ``SaveWeightsForSamplerResponse``, whose ``path`` is what
                ``create_sampling_client`` takes.

        Example::

            path = training_client.save_weights_for_sampler("final").result().path
            sampler = training_client.create_sampling_client(path).result()
        """
        check_checkpoint_name(name)

        def convert(result: models.SaveWeightsForSamplerResponseInternal) -> Any:
            if not result.path:
                raise ValueError("the server saved sampler weights but returned no path")
            return SaveWeightsForSamplerResponse(
                path=normalize_path(result.path, "sampler_weights")
            )

        return self._single(
            "save_weights_for_sampler",
            lambda seq_id: self._training.save_weights_for_sampler(
                request=compact(
                    models.SaveWeightsForSamplerRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    user_metadata=user_metadata,
                ),
                on_queue_state=self._queue_logger,
            ),
            convert,
        )

    @public
    def save_weights_external(
        self,
        name: str,
        ttl_seconds: int | None = None,
        age_encryption_recipients: list[str] | None = None,
    ) -> APIFuture[models.SaveWeightsExternalResponse]:
        """Export the weights in Hugging Face format as ``tinker://<run>/external_weights/<name>``.

        Args:
            name: The export's name (as for ``save_state``).
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            age_encryption_recipients: Up to 10 age public keys to encrypt the export for.

        Returns:
            A future of the ``SaveWeightsExternalResponse`` with the export's path; its files
                are listed by ``RestClient.get_external_weights_urls``.
        """
        check_checkpoint_name(name)

        def convert(result: models.SaveWeightsExternalResponseInternal) -> Any:
            if not result.path:
                raise ValueError("the server exported weights but returned no path")
            return models.SaveWeightsExternalResponse(path=result.path)

        return self._single(
            "save_weights_external",
            lambda seq_id: self._training.save_weights_external(
                request=compact(
                    models.SaveWeightsExternalRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    age_encryption_recipients=age_encryption_recipients,
                ),
                on_queue_state=self._queue_logger,
            ),
            convert,
        )

    @public
    def save_weights_and_get_sampling_client(
        self,
        name: str | None = None,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
        kind: Literal["snapshot", "inflight"] = "snapshot",
    ) -> SamplingClientFuture:
        """Save the current weights for sampling (ephemeral: no checkpoint is kept) and return a
        SamplingClient on them. To keep a checkpoint, use ``save_weights_for_sampler``.

        Args:
            name: Ignored, with a warning: nothing is kept under a name.
            retry_config: How the sampler's requests are throttled and retried.
            record_stability_info: Ask the server to record stability information with each
                sample.
            kind: ``"snapshot"``: these weights, fixed; ``"inflight"``: a shared target that
                later saves update in place.

        Returns:
            A future of the ``SamplingClient``.

        Example::

            sampler = training_client.save_weights_and_get_sampling_client().result()
        """
        from ._sampling_client import SamplingClient, SamplingClientFuture, open_sampling_client

        if name is not None:
            logger.warning(
                "save_weights_and_get_sampling_client(name=...) keeps no checkpoint; the name is "
                "ignored. Use save_weights_for_sampler(name) to save one."
            )
        sampling_seq = self.holder.session.next_sampling_seq_id()
        seq_id = self._turnstile.reserve(1)

        async def run() -> SamplingClient:
            body = compact(
                models.SaveWeightsForSamplerRequest,
                model_id=self.model_id,
                seq_id=seq_id,
                sampling_session_seq_id=sampling_seq,
                kind=kind,
            )
            async with self._turnstile.turn(seq_id, 1):
                handle = await self._guarded(
                    seq_id,
                    self._training.save_weights_for_sampler(
                        request=body, on_queue_state=self._queue_logger
                    ),
                )
            result = await handle.result()
            base_model = self._base_model()
            if result.sampling_session_id:
                return SamplingClient(
                    self.holder,
                    sampling_session_id=result.sampling_session_id,
                    base_model=base_model,
                    retry_config=retry_config,
                    record_stability_info=record_stability_info,
                )
            if result.path:  # a server that saves a path instead of an ephemeral session
                return await open_sampling_client(
                    self.holder,
                    model_path=normalize_path(result.path, "sampler_weights"),
                    known_base_model=base_model,
                    retry_config=retry_config,
                    record_stability_info=record_stability_info,
                )
            raise ValueError("the server returned neither a sampling session nor a path")

        return SamplingClientFuture(self._submit(run(), "save_weights_and_get_sampling_client"))

    @public
    def create_sampling_client(
        self,
        model_path: str,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
    ) -> SamplingClientFuture:
        """A SamplingClient on saved sampler weights (``tinker://.../sampler_weights/...``).

        Args:
            model_path: Sampler weights saved by ``save_weights_for_sampler``.
            retry_config: How the sampler's requests are throttled and retried.
            record_stability_info: Ask the server to record stability information with each
                sample.

        Returns:
            A future of the ``SamplingClient``.
        """
        from ._sampling_client import SamplingClientFuture, open_sampling_client

        check_tinker_path(model_path)
        coro = open_sampling_client(
            self.holder,
            model_path=model_path,
            known_base_model=self._base_model(),
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )
        return SamplingClientFuture(self._submit(coro, "create_sampling_client"))

    save_state_async = future_twin(save_state)

    load_state_async = future_twin(load_state)

    load_state_with_optimizer_async = future_twin(load_state_with_optimizer)

    save_weights_for_sampler_async = future_twin(save_weights_for_sampler)

    save_weights_external_async = future_twin(save_weights_external)

    create_sampling_client_async = awaited_twin(create_sampling_client)

    save_weights_and_get_sampling_client_async = awaited_twin(save_weights_and_get_sampling_client)
