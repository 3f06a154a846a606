"""RestClient: training runs, checkpoints, sessions, samplers and weights, without a session.

Every method returns an :class:`APIFuture`; listings are also available as iterators over every
page (``iter_training_runs``, ``iter_user_checkpoints``, ``iter_sessions``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, Literal, TypeVar

from sdkgen.runtime import APIFuture

from ._generated import models
from ._public_call import awaited_twin, public
from ._rest_checkpoints import RestCheckpoints
from .types import ParsedCheckpointTinkerPath

__all__ = ["RestClient"]

AccessScope = Literal["owned", "accessible"]
T = TypeVar("T")


class RestClient(RestCheckpoints):
    """REST calls of the Tinker API: runs, checkpoints, sessions, samplers and the account.

    Made by ``ServiceClient.create_rest_client()`` (sharing its connections), or on its own as
    ``RestClient(base_url=..., api_key=...)`` (then ``close()`` it, or use it in a ``with``
    block). Methods return an ``APIFuture`` unless they say otherwise.

    Example::

        rest = service_client.create_rest_client()
        for ckpt in rest.list_checkpoints("run-1").result().checkpoints:
            print(ckpt.tinker_path)
    """

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

    get_session_async = awaited_twin(get_session)

    list_sessions_async = awaited_twin(list_sessions)

    assign_session_project_async = awaited_twin(assign_session_project)

    export_session_trace_async = awaited_twin(export_session_trace)

    get_sampler_async = awaited_twin(get_sampler)

    get_audit_log_async = awaited_twin(get_audit_log)

    get_billing_usage_async = awaited_twin(get_billing_usage)

    get_current_checkpoint_storage_usage_async = awaited_twin(get_current_checkpoint_storage_usage)

    # -- helpers -----------------------------------------------------------------------------
