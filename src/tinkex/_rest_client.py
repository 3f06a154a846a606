"""RestClient: training runs, checkpoints, sessions, samplers and weights, without a session.

Every method returns an :class:`APIFuture`; listings are also available as iterators over every
page (``iter_training_runs``, ``iter_user_checkpoints``, ``iter_sessions``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from sdkgen.runtime import APIFuture
from sdkgen.runtime._call_context import current_call_headers, using_call_headers

from ._download import DEFAULT_READ_TIMEOUT, ProgressCallback, download_checkpoint
from ._generated import AsyncTinkerAPI, models
from ._holder import Holder
from ._public_call import awaited_twin, public
from ._settings import ClientSettings
from ._validation import check_checkpoint_id
from ._wire import omit
from .types import ParsedCheckpointTinkerPath

__all__ = ["RestClient"]

AccessScope = Literal["owned", "accessible"]
T = TypeVar("T")


class RestClient:
    """REST calls of the Tinker API: runs, checkpoints, sessions, samplers and the account.

    Made by ``ServiceClient.create_rest_client()`` (sharing its connections), or on its own as
    ``RestClient(base_url=..., api_key=...)`` (then ``close()`` it, or use it in a ``with``
    block). Methods return an ``APIFuture`` unless they say otherwise.

    Example::

        rest = service_client.create_rest_client()
        for ckpt in rest.list_checkpoints("run-1").result().checkpoints:
            print(ckpt.tinker_path)
    """

    def __init__(
        self,
        _holder: Holder | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self._owns_holder = _holder is None
        self.holder = _holder or Holder(ClientSettings.resolve(base_url=base_url, api_key=api_key))

    def __repr__(self) -> str:
        return f"RestClient(base_url={self.holder.base_url!r})"

    @public
    def close(self) -> None:
        """Close the connections (only those this RestClient opened itself)."""
        if self._owns_holder:
            self.holder.close(status=None)

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T], what: str) -> APIFuture[T]:
        return self.holder.submit(coro, what)

    @property
    def _api(self) -> AsyncTinkerAPI:
        return self.holder.api

    # -- server ------------------------------------------------------------------------------

    @public
    def get_server_capabilities(self) -> APIFuture[models.GetServerCapabilitiesResponse]:
        """The models the server offers and what it supports (no session needed)."""
        return self._call(self._api.service.get_server_capabilities(), "get_server_capabilities")

    # -- training runs -----------------------------------------------------------------------

    @public
    def get_training_run(
        self, training_run_id: str, access_scope: AccessScope = "owned"
    ) -> APIFuture[models.TrainingRun]:
        """One training run by id (``access_scope="accessible"``: any run you may read).

        Args:
            training_run_id: The run's id (``TrainingClient.model_id``).
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.

        Returns:
            A future of the ``TrainingRun``.
        """
        return self._call(
            self._api.training_runs.get_training_run(training_run_id, access_scope=access_scope),
            "get_training_run",
        )

    @public
    def get_training_run_by_tinker_path(
        self, tinker_path: str, access_scope: AccessScope = "owned"
    ) -> APIFuture[models.TrainingRun]:
        """The training run a ``tinker://<run>/...`` path belongs to.

        Args:
            tinker_path: Any ``tinker://`` path of the run.
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.

        Returns:
            A future of the ``TrainingRun``.
        """
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        return self.get_training_run(parsed.training_run_id, access_scope)

    @public
    def list_training_runs(
        self,
        limit: int = 20,
        offset: int = 0,
        access_scope: AccessScope = "owned",
        project_id: str | None = None,
    ) -> APIFuture[models.TrainingRunsResponse]:
        """One page of training runs (``limit`` from ``offset``); ``iter_training_runs`` walks them
        all.

        Args:
            limit: Runs on the page.
            offset: Runs skipped before the page.
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.
            project_id: Only the runs of this project.

        Returns:
            A future of the ``TrainingRunsResponse`` (``training_runs``, and the ``cursor``).

        Example::

            page = rest.list_training_runs(limit=10).result()
            ids = [run.training_run_id for run in page.training_runs]
        """
        return self._call(
            self._api.training_runs.list_training_runs(
                limit=limit, offset=offset, access_scope=access_scope, project_id=project_id
            ),
            "list_training_runs",
        )

    @public
    def iter_training_runs(
        self,
        access_scope: AccessScope = "owned",
        project_id: str | None = None,
        page_size: int = 100,
    ) -> Iterator[models.TrainingRun]:
        """Every training run, fetching ``page_size`` at a time.

        Args:
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.
            project_id: Only the runs of this project.
            page_size: Runs fetched per request.

        Returns:
            An iterator of ``TrainingRun`` (blocking: each page is fetched as it is reached).

        Example::

            for run in rest.iter_training_runs():
                print(run.training_run_id, run.base_model)
        """
        return self._each(
            self._api.training_runs.iter_list_training_runs(
                limit=page_size, access_scope=access_scope, project_id=project_id
            )
        )

    # -- checkpoints -------------------------------------------------------------------------

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

    # -- sessions and samplers ---------------------------------------------------------------

    @public
    def get_session(
        self, session_id: str, access_scope: AccessScope = "owned"
    ) -> APIFuture[models.GetSessionResponse]:
        """One session: its training runs and samplers.

        Args:
            session_id: The session's id.
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.

        Returns:
            A future of the ``GetSessionResponse``.
        """
        return self._call(
            self._api.sessions.get_session(session_id, access_scope=access_scope), "get_session"
        )

    @public
    def list_sessions(
        self, limit: int = 20, offset: int = 0, access_scope: AccessScope = "owned"
    ) -> APIFuture[models.ListSessionsResponse]:
        """One page of session ids; ``iter_sessions`` walks them all.

        Args:
            limit: Sessions on the page.
            offset: Sessions skipped before the page.
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.

        Returns:
            A future of the ``ListSessionsResponse`` (``sessions``: ids, newest first).
        """
        return self._call(
            self._api.sessions.list_sessions(limit=limit, offset=offset, access_scope=access_scope),
            "list_sessions",
        )

    @public
    def iter_sessions(
        self, access_scope: AccessScope = "owned", page_size: int = 100
    ) -> Iterator[str]:
        """Every session id, fetching ``page_size`` at a time (until an empty page).

        Args:
            access_scope: ``"owned"``: only your own; ``"accessible"``: anything you may read.
            page_size: Session ids fetched per request.

        Returns:
            An iterator of session ids (blocking).
        """
        return self._each(
            self._api.sessions.iter_list_sessions(limit=page_size, access_scope=access_scope)
        )

    @public
    def assign_session_project(self, session_id: str, project_id: str) -> APIFuture[None]:
        """Move a session (and what it created) into a project.

        Args:
            session_id: The session's id.
            project_id: The project to move it into.
        """
        return self._call(
            self._api.sessions.assign_session_project(session_id, project_id=project_id),
            "assign_session_project",
        )

    @public
    def get_sampler(self, sampler_id: str) -> APIFuture[models.GetSamplerResponse]:
        """One sampler: its base model and the weights it samples from.

        Args:
            sampler_id: The sampler's id (a sampling session id).

        Returns:
            A future of the ``GetSamplerResponse``.
        """
        return self._call(self._api.sampling.get_sampler(sampler_id), "get_sampler")

    @public
    def search_sessions(
        self, request: models.SessionSearchRequest
    ) -> APIFuture[models.SessionSearchResponse]:
        """Sessions matching a search (see ``types.SessionSearchRequest`` for the filters).

        Args:
            request: The filters (``types.SessionSearchRequest``).

        Returns:
            A future of the matching sessions.
        """
        return self._call(self._api.sessions.search_sessions(request=request), "search_sessions")

    # -- admin -------------------------------------------------------------------------------

    @public
    def get_audit_log(
        self, event_type: models.AuditEventType = "all", day: date | None = None
    ) -> APIFuture[models.AuditLogResponse]:
        """The audit log of one day (the server's today when ``day`` is None), for one family
        of events (``"all"`` by default).

        Args:
            event_type: ``"all"``, ``"checkpoints"``, ``"projects"``, ``"teams"`` or
                ``"organizations"``.
            day: The day (default: the server's today).

        Returns:
            A future of the day's audit events.
        """
        return self._call(
            self._api.admin.get_audit_log(event_type=event_type, day=day), "get_audit_log"
        )

    @public
    def get_billing_usage(self, starting_on: Any, ending_before: Any) -> APIFuture[Any]:
        """Usage events between two RFC 3339 times (needs billing-admin rights).

        Args:
            starting_on: The first time (RFC 3339 string or ``datetime``).
            ending_before: The end, excluded.

        Returns:
            A future of the usage events.
        """
        return self._call(
            self._api.admin.get_billing_usage(starting_on=starting_on, ending_before=ending_before),
            "get_billing_usage",
        )

    @public
    def get_current_checkpoint_storage_usage(self, project_id: str | None = None) -> APIFuture[Any]:
        """Checkpoint storage in use now, per project and user, with its estimated monthly cost.

        Args:
            project_id: Only this project (default: every project you may read).

        Returns:
            A future of the storage usage.
        """
        return self._call(
            self._api.admin.get_current_checkpoint_storage_usage(project_id=project_id),
            "get_current_checkpoint_storage_usage",
        )

    @public
    def export_session_trace(self, session_id: str, poll_interval: float = 5.0) -> APIFuture[str]:
        """The URL of a session's trace export, polling until the server has it ready.

        Args:
            session_id: The session's id.
            poll_interval: Seconds between polls.

        Returns:
            A future of the export's URL.
        """
        import asyncio

        async def run() -> str:
            while True:
                reply = await self._api.sessions.export_session_trace(session_id)
                if reply.status == "ready" and reply.url:
                    return str(reply.url)
                if reply.status == "failed":
                    raise RuntimeError(
                        f"trace export of session {session_id} failed: {reply.error}"
                    )
                await asyncio.sleep(poll_interval)

        return self._call(run(), "export_session_trace")

    @public
    def get_current_api_key(self) -> APIFuture[models.SelfApiKeyResponse]:
        """What the server knows of the API key in use: its id, name, organisation and user
        (servers without the endpoint answer 404)."""
        return self._call(self._api.auth.get_current_api_key(), "get_current_api_key")

    @public
    def whoami(self) -> Any:
        """Identity from a JWT credential; API keys carry none, so this raises for them."""
        raise RuntimeError(
            "whoami() needs JWT authentication, which this client does not use; the API key "
            "identifies you to the server"
        )

    @public
    def get_telemetry(self) -> Any:
        """The telemetry of this client's connections (listeners, events)."""
        return self.holder.api.telemetry

    # -- deprecated async twins --------------------------------------------------------------

    get_training_run_async = awaited_twin(get_training_run)

    get_training_run_by_tinker_path_async = awaited_twin(get_training_run_by_tinker_path)

    list_training_runs_async = awaited_twin(list_training_runs)

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

    get_session_async = awaited_twin(get_session)

    list_sessions_async = awaited_twin(list_sessions)

    assign_session_project_async = awaited_twin(assign_session_project)

    export_session_trace_async = awaited_twin(export_session_trace)

    get_sampler_async = awaited_twin(get_sampler)

    get_audit_log_async = awaited_twin(get_audit_log)

    get_billing_usage_async = awaited_twin(get_billing_usage)

    get_current_checkpoint_storage_usage_async = awaited_twin(get_current_checkpoint_storage_usage)

    # -- helpers -----------------------------------------------------------------------------

    def _each(self, items: AsyncIterator[T]) -> Iterator[T]:
        """The items of a generated async iterator, one page fetched at a time on the client's
        loop, under the headers of the public call that made the iterator (``@public``)."""
        return _items_of(self.holder, items, current_call_headers())


_END: Any = object()


def _items_of(
    holder: Holder, items: AsyncIterator[T], headers: Mapping[str, str] | None
) -> Iterator[T]:
    async def step() -> T:
        try:
            return await anext(items)
        except StopAsyncIteration:
            return cast(T, _END)

    try:
        while True:
            with using_call_headers(headers):
                item = holder.run(step())
            if item is _END:
                return
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if (
            close is not None and not holder.runner.closed
        ):  # left early (a CLI --limit): end the walk
            holder.run(close())
