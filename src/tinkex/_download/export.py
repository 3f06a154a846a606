"""The export route of newer servers (wire protocol 0.38, section 7.10).

``external_weights/`` paths list their files with ``external_weights_urls`` (per-file signed
URLs, re-signed when they are about to expire); a ``weights/`` path is first exported: a
temporary training client is created from the state, ``save_weights_external`` writes an
export, its files are downloaded, then the export is deleted and the temporary model unloaded.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sdkgen.runtime import APIStatusError, NotFoundError

from .._generated import models
from ..types import ParsedCheckpointTinkerPath
from .errors import CheckpointNotFoundError, DownloadError, UnsafeArchiveError
from .fetch import CLEANUP_TIMEOUT, fetch, route_absent, run
from .files import Transfer
from .verify import safe_relative_path

if TYPE_CHECKING:
    from .._holder import Holder
    from .._training_client import TrainingClient

__all__ = ["EXPORT_TTL_SECONDS", "RESIGN_MARGIN", "download_files", "export_and_download"]

#: Signed URLs closer than this (seconds) to their expiry are asked for again.
RESIGN_MARGIN = 300.0
#: Lifetime of the temporary export made to download a ``weights/`` checkpoint.
EXPORT_TTL_SECONDS = 3600

_logger = logging.getLogger("tinkex")


def _expires_soon(expires: datetime) -> bool:
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return (expires - datetime.now(UTC)).total_seconds() < RESIGN_MARGIN


def _file_plan(urls: dict[str, str], what: str) -> list[tuple[str, PurePosixPath]]:
    """The relative paths of an export's files, checked like archive members."""
    plan: list[tuple[str, PurePosixPath]] = []
    seen: set[PurePosixPath] = set()
    for name in urls:
        path = safe_relative_path(name, what=f"file {name!r} of {what}")
        if path is None:
            raise UnsafeArchiveError(f"file {name!r} of {what} names the output directory itself")
        if path in seen:
            raise UnsafeArchiveError(f"file {name!r} of {what} appears twice; refused")
        seen.add(path)
        plan.append((name, path))
    for _, path in plan:
        for parent in list(path.parents)[:-1]:
            if parent in seen:
                raise UnsafeArchiveError(
                    f"file {str(path)!r} of {what} is inside the file {str(parent)!r}; refused"
                )
    return plan


def _external_urls(holder: Holder, path: str) -> models.ExternalWeightsUrlsResponse:
    parsed = ParsedCheckpointTinkerPath.from_tinker_path(path)
    try:
        return holder.run(
            holder.api.checkpoints.get_external_weights_urls(
                parsed.training_run_id, parsed.checkpoint_id
            )
        )
    except APIStatusError as err:
        if err.status_code in (404, 405) and route_absent(err.status_code or 0, err.body):
            raise DownloadError(
                f"cannot download {path}: the server at {holder.base_url} serves neither the "
                "archive route nor external_weights_urls"
            ) from err
        if isinstance(err, NotFoundError):
            raise CheckpointNotFoundError(f"checkpoint {path} not found: {err.detail}") from err
        raise


def download_files(
    holder: Holder,
    path: str,
    content: Path,
    transfer: Transfer,
) -> None:
    urls = _external_urls(holder, path)
    plan = _file_plan(urls.urls, path)
    for name, relative in plan:
        if _expires_soon(urls.expires):
            urls = _external_urls(holder, path)
            if name not in urls.urls:
                raise DownloadError(f"file {name!r} of {path} disappeared when re-signing")
        target = content.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        run(
            holder,
            fetch(holder, urls.urls[name], target, transfer, name=name, what=f"{name} of {path}"),
        )


def export_and_download(
    holder: Holder,
    path: str,
    content: Path,
    transfer: Transfer,
) -> None:
    """Section 7.10: a temporary training client from the state, a temporary export of its
    weights, the export's files, then the export deleted and the model unloaded."""
    from .._service_client import service_on

    try:
        holder.run(holder.api.weights.get_weights_info(tinker_path=path))
    except APIStatusError as err:
        if isinstance(err, NotFoundError) and not route_absent(404, err.body):
            raise CheckpointNotFoundError(f"checkpoint {path} not found: {err.detail}") from err
        if not route_absent(err.status_code or 0, err.body):
            raise
    training: TrainingClient = service_on(holder).create_training_client_from_state(path).result()
    export_path: str | None = None
    try:
        name = f"tinkex-download-{uuid.uuid4().hex[:12]}"
        try:
            export = training.save_weights_external(name, ttl_seconds=EXPORT_TTL_SECONDS).result()
        except APIStatusError as err:
            if route_absent(err.status_code or 0, err.body):
                raise DownloadError(
                    f"cannot download {path}: the server at {holder.base_url} serves neither "
                    "the archive route nor save_weights_external"
                ) from err
            raise
        export_path = export.path
        download_files(holder, export_path, content, transfer)
    finally:
        _cleanup_export(holder, training.model_id, export_path)


def _cleanup_export(holder: Holder, model_id: str, export_path: str | None) -> None:
    if export_path is not None:
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(export_path)
        try:
            holder.run(
                holder.api.checkpoints.delete_checkpoint(
                    parsed.training_run_id, parsed.checkpoint_id
                ),
                timeout=CLEANUP_TIMEOUT,
            )
        except Exception as err:
            _logger.warning("could not delete the temporary export %s: %s", export_path, err)

    async def unload() -> None:
        handle = await holder.api.training.unload_model(model_id=model_id)
        await handle.result(timeout=CLEANUP_TIMEOUT)

    try:
        holder.run(unload(), timeout=CLEANUP_TIMEOUT + 5)
    except Exception as err:
        _logger.info("could not unload the temporary model %s: %s", model_id, err)
