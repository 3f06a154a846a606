"""RestClient's checkpoint calls: listing, deleting, publishing, expiring, downloading and copying checkpoints, and reading a checkpoint's weights info."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypeVar

from sdkgen.runtime import APIFuture

from ._download import DEFAULT_READ_TIMEOUT, ProgressCallback, download_checkpoint
from ._generated import models
from ._public_call import awaited_twin, public
from ._rest_base import RestBase
from ._validation import check_checkpoint_id
from ._wire import omit
from .types import ParsedCheckpointTinkerPath

AccessScope = Literal["owned", "accessible"]
T = TypeVar("T")

__all__ = ["RestCheckpoints"]


class RestCheckpoints(RestBase):
    """The checkpoint methods of RestClient (which inherits them; use RestClient)."""

    @public
    def list_checkpoints(self, training_run_id: str) -> APIFuture[models.CheckpointsListResponse]:
        """The checkpoints of one training run.

        Args:
            training_run_id: The run's id.

        Returns:
            A future of the ``CheckpointsListResponse`` (``checkpoints``).
        """
        return self._call(
            self._api.checkpoints.list_checkpoints(training_run_id), "list_checkpoints"
        )

    @public
    def list_user_checkpoints(
        self, limit: int = 100, offset: int = 0
    ) -> APIFuture[models.CheckpointsListResponse]:
        """One page of the checkpoints you own, across runs; ``iter_user_checkpoints`` walks them
        all.

        Args:
            limit: Checkpoints on the page.
            offset: Checkpoints skipped before the page.

        Returns:
            A future of the ``CheckpointsListResponse``.
        """
        return self._call(
            self._api.checkpoints.list_user_checkpoints(limit=limit, offset=offset),
            "list_user_checkpoints",
        )

    @public
    def iter_user_checkpoints(self, page_size: int = 100) -> Iterator[models.Checkpoint]:
        """Every checkpoint you own, fetching ``page_size`` at a time.

        Args:
            page_size: Checkpoints fetched per request.

        Returns:
            An iterator of ``Checkpoint`` (blocking).
        """
        return self._each(self._api.checkpoints.iter_list_user_checkpoints(limit=page_size))

    @public
    def delete_checkpoint(self, training_run_id: str, checkpoint_id: str) -> APIFuture[None]:
        """Delete one checkpoint of a run (``checkpoint_id`` such as ``weights/step-10``).

        Args:
            training_run_id: The run's id.
            checkpoint_id: Kind and name, such as ``weights/step-10``.
        """
        check_checkpoint_id(checkpoint_id)
        return self._call(
            self._api.checkpoints.delete_checkpoint(training_run_id, checkpoint_id),
            "delete_checkpoint",
        )

    @public
    def delete_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Delete the checkpoint at a ``tinker://<run>/<kind>/<name>`` path.

        Args:
            tinker_path: The checkpoint, ``tinker://<run>/<kind>/<name>``.
        """
        p = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self.delete_checkpoint(p.training_run_id, p.checkpoint_id)

    @public
    def publish_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Make a checkpoint public, so other users can load or sample it.

        Args:
            tinker_path: The checkpoint, ``tinker://<run>/<kind>/<name>``.
        """
        p = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self._call(
            self._api.checkpoints.publish_checkpoint(p.training_run_id, p.checkpoint_id),
            "publish_checkpoint",
        )

    @public
    def unpublish_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Make a published checkpoint private again.

        Args:
            tinker_path: The checkpoint, ``tinker://<run>/<kind>/<name>``.
        """
        p = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self._call(
            self._api.checkpoints.unpublish_checkpoint(p.training_run_id, p.checkpoint_id),
            "unpublish_checkpoint",
        )

    @public
    def set_checkpoint_ttl_from_tinker_path(
        self, tinker_path: str, ttl_seconds: int | None
    ) -> APIFuture[None]:
        """Expire the checkpoint ``ttl_seconds`` from now; ``None`` keeps it indefinitely.

        Args:
            tinker_path: The checkpoint, ``tinker://<run>/<kind>/<name>``.
            ttl_seconds: Seconds from now; ``None`` removes the expiry.
        """
        p = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self._call(
            self._api.checkpoints.set_checkpoint_ttl(
                p.training_run_id, p.checkpoint_id, ttl_seconds=ttl_seconds
            ),
            "set_checkpoint_ttl",
        )

    @public
    def get_external_weights_urls(
        self, tinker_path: str
    ) -> APIFuture[models.ExternalWeightsUrlsResponse]:
        """Download URLs of exported weights (a ``tinker://<run>/external_weights/<name>`` path).

        Args:
            tinker_path: An export made by ``TrainingClient.save_weights_external``.

        Returns:
            A future of the ``ExternalWeightsUrlsResponse``: signed URLs of its files.
        """
        p = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        if p.checkpoint_type != "external":
            raise ValueError(
                f"expected an external_weights path (tinker://<run>/external_weights/<name>), "
                f"got {tinker_path!r}"
            )
        return self._call(
            self._api.checkpoints.get_external_weights_urls(p.training_run_id, p.checkpoint_id),
            "get_external_weights_urls",
        )

    @public
    def download_checkpoint(
        self,
        tinker_path: str,
        output_dir: str | os.PathLike[str],
        *,
        force: bool = False,
        progress: bool | ProgressCallback = True,
        max_expanded_bytes: int | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> Path:
        """Download a checkpoint into the directory ``output_dir``; returns its absolute path.

        A blocking call. It uses the server's archive route (older servers, skyrl-tx) when it
        has one, else the export route: an ``external_weights/`` path's files directly, a
        ``weights/`` path through a temporary export (deleted afterwards); ``sampler_weights/``
        paths cannot be exported. The download streams to disk with constant memory into a
        hidden directory next to ``output_dir``, which is renamed into place only when
        complete: a failure leaves nothing behind. Every completed download holds a record,
        ``.tinkex-download.json``. An existing ``output_dir`` is refused before anything is
        downloaded, unless ``force=True`` and it is empty or a previous download of the same
        checkpoint holding nothing else (then it is replaced once the new one is complete);
        anything else, and system directories, are refused and never deleted.

        Archives are checked before anything is extracted: absolute paths, ``..``, links
        leading outside, device files, fifos, and more than ``max_expanded_bytes`` in total
        (default: 100 times the archive's size, at least 1 MiB, at most 20 GiB; 20 GiB for the
        files of an export) are refused with ``tinkex.UnsafeArchiveError``; a failed CRC or
        length with ``tinkex.CorruptArchiveError``.

        Args:
            tinker_path: The checkpoint, ``tinker://<run>/<weights|external_weights>/<name>``.
            output_dir: The directory to create.
            force: Replace ``output_dir`` when it is empty or an earlier download of the same
                checkpoint.
            progress: A progress bar on stderr (``False``: none), or a callable
                ``progress(file_name, bytes_done, bytes_total_or_None)``.
            max_expanded_bytes: The most the checkpoint may take on disk.
            read_timeout: Seconds without data before the download fails.

        Returns:
            The absolute path of the downloaded directory.

        Raises:
            DownloadError: Or one of its kinds: ``InvalidTinkerPathError`` (also a
                ``ValueError``), ``OutputExistsError``, ``CheckpointNotFoundError``,
                ``UnsafeArchiveError``, ``CorruptArchiveError``. API errors as usual.

        Example::

            path = rest.download_checkpoint("tinker://run-1/sampler_weights/final", "./final")
        """
        return download_checkpoint(
            self.holder,
            tinker_path,
            output_dir,
            force=force,
            progress=progress,
            max_expanded_bytes=max_expanded_bytes,
            read_timeout=read_timeout,
        )

    @public
    def get_weights_info_by_tinker_path(
        self, tinker_path: str
    ) -> APIFuture[models.WeightsInfoResponse]:
        """The base model, LoRA rank and optimizer of the weights at a tinker path.

        Args:
            tinker_path: The weights' ``tinker://`` path.

        Returns:
            A future of the ``WeightsInfoResponse``.
        """
        ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self._call(
            self._api.weights.get_weights_info(tinker_path=tinker_path), "get_weights_info"
        )

    @public
    def copy_weights(
        self,
        path: str,
        destination_project_id: str | None = None,
        *,
        ttl_seconds: int | None = None,
        weights_access_token: str | None = None,
    ) -> APIFuture[str]:
        """Copy a checkpoint into a project; the copy's tinker path.

        Args:
            path: The checkpoint's ``tinker://`` path.
            destination_project_id: The project to copy into (default ``$TINKER_PROJECT_ID``).
            ttl_seconds: When the copy expires, in seconds from now (``None``: never).
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the copy's ``tinker://`` path.
        """
        import os

        project = destination_project_id or os.environ.get("TINKER_PROJECT_ID")
        if not project:
            raise ValueError("copy_weights needs destination_project_id (or TINKER_PROJECT_ID)")
        ParsedCheckpointTinkerPath.from_tinker_path(path)
        return self._call(
            self._api.training.copy_weights(
                source_path=path,
                destination_project_id=project,
                ttl_seconds=omit(ttl_seconds),
                weights_access_token=weights_access_token,
            ),
            "copy_weights",
        ).map(lambda reply: reply.tinker_path)

    list_checkpoints_async = awaited_twin(list_checkpoints)

    list_user_checkpoints_async = awaited_twin(list_user_checkpoints)

    get_external_weights_urls_async = awaited_twin(get_external_weights_urls)

    delete_checkpoint_async = awaited_twin(delete_checkpoint)

    delete_checkpoint_from_tinker_path_async = awaited_twin(delete_checkpoint_from_tinker_path)

    publish_checkpoint_from_tinker_path_async = awaited_twin(publish_checkpoint_from_tinker_path)

    unpublish_checkpoint_from_tinker_path_async = awaited_twin(
        unpublish_checkpoint_from_tinker_path
    )

    set_checkpoint_ttl_from_tinker_path_async = awaited_twin(set_checkpoint_ttl_from_tinker_path)

    copy_weights_async = awaited_twin(copy_weights)
