"""The client's session on the server: opened on first need, kept alive by a heartbeat,
finished with a status when the client closes; with it, the seq ids the session numbers its
runs and samplers by, and the session's telemetry.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import TYPE_CHECKING, Literal

from sdkgen.runtime import GoneError, NotFoundError, SDKError, without_call_headers

from ._creation_recovery import create_session_recovering
from ._generated import models
from ._session_telemetry import SessionTelemetry
from ._wire import omit

if TYPE_CHECKING:
    from ._holder import Holder

__all__ = ["Session", "SessionStatus"]

logger = logging.getLogger("tinkex")
SessionStatus = Literal["success", "errored", "interrupted"]

HEARTBEAT_WARN_AFTER = 120.0
TELEMETRY_DRAIN_TIMEOUT = 5.0
# Finishing the session is best effort: a server that is gone must not hold up close() (or the
# exit of a program interrupted with Ctrl-C) for long.
FINISH_TIMEOUT = 5.0
FINISH_RETRIES = 2
_FINISH_REASONS: dict[
    str,
    type[
        models.ClientSessionFinishSuccess
        | models.ClientSessionFinishErrored
        | models.ClientSessionFinishInterrupted
    ],
] = {
    "success": models.ClientSessionFinishSuccess,
    "errored": models.ClientSessionFinishErrored,
    "interrupted": models.ClientSessionFinishInterrupted,
}


class Session:
    """One process's session of a client (a child of ``fork()`` gets a new one).

    Args:
        holder: The client's shared parts: its settings (tags, metadata, heartbeat period),
            connections and server features.

    Example::

        session_id = await holder.session.session_id()
        model_seq_id = holder.session.next_model_seq_id()
    """

    def __init__(self, holder: Holder) -> None:
        self._holder = holder
        self._telemetry = SessionTelemetry(
            holder, flush_interval=holder.settings.telemetry_flush_interval
        )
        self._id: str | None = None
        self._lock: asyncio.Lock | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._heartbeats_ok = 0
        # ``next`` on a count is atomic: ids stay unique when several threads create at once.
        self._model_seq = itertools.count()
        self._sampling_seq = itertools.count()

    # -- what is known so far ----------------------------------------------------------------

    @property
    def telemetry(self) -> SessionTelemetry:
        """The session's telemetry events (start, end, errors)."""
        return self._telemetry

    @property
    def known_id(self) -> str | None:
        """The session's id once it has been created (:meth:`session_id`), else None."""
        return self._id

    @property
    def started(self) -> bool:
        """True once the session exists on the server."""
        return self._id is not None

    @property
    def heartbeat(self) -> asyncio.Task[None] | None:
        """The heartbeat task, once the session exists (done when the server ended it)."""
        return self._heartbeat

    @property
    def heartbeats_ok(self) -> int:
        """How many heartbeats the server has acknowledged."""
        return self._heartbeats_ok

    def next_model_seq_id(self) -> int:
        """The seq id of the next training run this session creates (0, 1, ...)."""
        return next(self._model_seq)

    def next_sampling_seq_id(self) -> int:
        """The seq id of the next sampling session this session creates (0, 1, ...)."""
        return next(self._sampling_seq)

    # -- opening -----------------------------------------------------------------------------

    async def session_id(self) -> str:
        """The session's id, created on first use (on the SDK's loop); the heartbeat starts
        with it.

        Example::

            session_id = await holder.session.session_id()
        """
        known = self._id
        if known is not None:
            return known
        if self._lock is None:
            self._lock = asyncio.Lock()
        # Opening the session is the client's own set-up: it, and the heartbeat and telemetry
        # tasks it starts, carry no headers of the public call that happened to need it first.
        async with self._lock:
            with without_call_headers():
                known = self._id  # another caller may have opened it meanwhile
                if known is None:
                    known = await self._open()
        return known

    async def _open(self) -> str:
        holder = self._holder
        settings = holder.settings
        await holder.features.config()
        await holder.features.dynamic_config()
        reply = await create_session_recovering(  # a lost answer: looked up
            holder,
            tags=list(settings.tags),
            user_metadata=dict(settings.user_metadata),
            sdk_version=holder.version,
            project_id=settings.project_id,
            display_name=settings.display_name,
        )
        for level, message in (
            (logging.INFO, reply.info_message),
            (logging.WARNING, reply.warning_message),
            (logging.ERROR, reply.error_message),
        ):
            if message:
                logger.log(level, "server: %s", message)
        self._id = reply.session_id
        self._telemetry.session_started()
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeat_loop(reply.session_id), name="tinkex-heartbeat"
        )
        return reply.session_id

    async def _heartbeat_loop(self, session_id: str) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self._holder.settings.heartbeat_period)
            try:
                await self._holder.api.sessions.session_heartbeat(session_id=session_id)
            except GoneError:
                logger.info("session %s is finished on the server; heartbeat stops", session_id)
                return
            except SDKError as err:
                silent = time.monotonic() - last_ok
                if silent > HEARTBEAT_WARN_AFTER:
                    logger.warning(
                        "no successful heartbeat for session %s in %.0fs (%s); the server will "
                        "end the session if this goes on",
                        session_id,
                        silent,
                        err,
                    )
                else:
                    logger.debug("heartbeat for session %s failed: %s", session_id, err)
                continue
            last_ok = time.monotonic()
            self._heartbeats_ok += 1

    # -- closing (on the SDK's loop) ---------------------------------------------------------

    async def stop_heartbeat(self) -> None:
        """Stop the heartbeat and wait for it to end."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)

    async def finish(self, status: SessionStatus | None, detail: str | None) -> None:
        """Tell the server the session is over (when there is one and ``status`` is given),
        best effort and briefly; then end the session's telemetry, sending what is left.

        Example::

            await holder.session.finish("errored", "ValueError: bad batch")
        """
        try:
            if status is not None and self._id is not None:
                await asyncio.wait_for(
                    self._holder.api.sessions.finish_session(
                        self._id,
                        reason=_FINISH_REASONS[status](),
                        detail=omit(detail),
                        max_retries=FINISH_RETRIES,
                    ),
                    FINISH_TIMEOUT,
                )
        except NotFoundError:
            # Servers without the finish endpoint (e.g. skyrl-tx) end sessions by heartbeat.
            logger.debug("the server has no finish endpoint; session %s ends by timeout", self._id)
        except SDKError as err:
            logger.warning("could not finish session %s: %s", self._id, err)
        except TimeoutError:
            logger.warning(
                "could not finish session %s within %gs; closing anyway", self._id, FINISH_TIMEOUT
            )
        finally:
            self._telemetry.session_ended()
            with without_call_headers():
                await self._telemetry.aclose(TELEMETRY_DRAIN_TIMEOUT)
