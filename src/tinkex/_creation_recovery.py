"""What happens after the answer to a creation call is lost.

A lost answer to an optimizer or forward/backward step cannot be checked, so it ends in
``AmbiguousOutcomeError``. A lost answer to a *creation* (``create_session``, ``create_model``,
``create_sampling_session``) can: the session's training runs and sampling sessions are
listable. So a creation whose answer was lost is looked up, by the request's own attributes
(the seq id the server puts in the new object's id, the base model, rank, model path, user
metadata), and then

* adopted when it is there (nothing is sent again),
* resent once, with the same idempotency key and seq id, when it is certainly not there (a
  deduplicating server replays its first answer; a plain one creates it now),
* and only when the lookup cannot decide, ``AmbiguousOutcomeError`` is raised, saying why.

Only the Tinker layer knows what a creation is and how to look for it: the runtime stays generic.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sdkgen.runtime import (
    AmbiguousOutcomeError,
    APIError,
    APIResponseValidationError,
    FutureExpiredError,
    RequestFailedError,
    ResponseLostError,
    SDKError,
    new_idempotency_key,
)

from ._generated import models
from ._wire import omit

if TYPE_CHECKING:
    from ._holder import Holder

__all__ = [
    "ABSENT",
    "Found",
    "Undecided",
    "create_model_recovering",
    "create_sampling_session_recovering",
    "create_session_recovering",
    "load_run_recovering",
    "recover",
]

logger = logging.getLogger("tinkex")
T = TypeVar("T")

# Lost or unreadable answers: the request reached the server, what it did is unknown (or, for an
# unreadable 2xx / an expired future, it was accepted but its result is gone).
LOST_ANSWER: tuple[type[APIError], ...] = (
    AmbiguousOutcomeError,
    APIResponseValidationError,
    FutureExpiredError,
)
# After the one resend: lost again, or refused as a duplicate.
RETRY_LOOKUP: tuple[type[APIError], ...] = (*LOST_ANSWER, RequestFailedError)
# Sessions scanned for a lost create_session (newest first): the new one is at the top.
SESSION_SCAN = 20


@dataclass(frozen=True)
class Found:
    """The lookup found the created object: its id."""

    object_id: str


@dataclass(frozen=True)
class Undecided:
    """The lookup could not tell whether the creation happened: why."""

    reason: str


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: The lookup is sure the creation did not happen.
ABSENT = _Absent()
Lookup = Found | Undecided | _Absent


@dataclass
class _Claims:
    """Ids this process already holds (never adopted twice) and creations still in flight (an
    object matched only by attributes could be theirs)."""

    ids: set[str] = field(default_factory=set)
    inflight: int = 0


_lock = threading.Lock()
_claims: weakref.WeakKeyDictionary[Holder, _Claims] = weakref.WeakKeyDictionary()
# The session of every client of this process (a closed client's no longer counts).
_sessions: weakref.WeakKeyDictionary[Holder, str] = weakref.WeakKeyDictionary()


def _open_sessions(base_url: str) -> set[str]:
    with _lock:
        return {s for h, s in _sessions.items() if not h.runner.closed and h.base_url == base_url}


def _claims_of(holder: Holder) -> _Claims:
    with _lock:
        return _claims.setdefault(holder, _Claims())


def claim(holder: Holder, object_id: str) -> None:
    """Record that ``holder`` holds ``object_id`` (a training run or sampling session)."""
    with _lock:
        _claims.setdefault(holder, _Claims()).ids.add(object_id)


async def recover(
    what: str,
    create: Callable[[], Awaitable[T]],
    lookup: Callable[[], Awaitable[Lookup]],
    adopt: Callable[[str], Awaitable[T]],
) -> T:
    """Run ``create``; when its answer is lost, ``lookup`` decides: adopt, resend once, or raise.

    Args:
        what: what is created, for messages (e.g. ``"training run (model seq id 0)"``).
        create: sends the creation; safe to call twice (same idempotency key and seq id).
        lookup: finds out whether the creation happened.
        adopt: turns the id of a found object into the result.

    Example::

        client = await recover("sampling session", create, lookup, adopt)
    """
    try:
        return await create()
    except LOST_ANSWER as err:
        lost: APIError = err
    found = await _safe_lookup(lookup)
    if isinstance(found, Found):
        logger.warning("the answer to a new %s was lost; it was created: %s", what, found.object_id)
        return await adopt(found.object_id)
    accepted = isinstance(lost, ResponseLostError) or not isinstance(lost, AmbiguousOutcomeError)
    if isinstance(found, Undecided) or accepted:
        # A 2xx whose body was cut or unreadable, or an expired future, says the server
        # accepted it: never resend.
        why = found.reason if isinstance(found, Undecided) else "accepted, but not listed"
        lost.detail = f"{lost.detail} [{what}: looked it up, cannot tell ({why})]"
        raise lost
    logger.warning("the answer to a new %s was lost; it was not created: sending it again", what)
    try:
        return await create()
    except RETRY_LOOKUP as err:
        # Lost again, or refused as a duplicate (the first one was still on its way): look once
        # more; what is there now is ours.
        again = await _safe_lookup(lookup)
        if isinstance(again, Found):
            logger.warning("the %s was created after all: %s", what, again.object_id)
            return await adopt(again.object_id)
        err.detail = (
            f"{err.detail} [{what}: not found after the first answer was lost; resent once]"
        )
        raise


async def _recover_claimed(
    holder: Holder,
    what: str,
    create: Callable[[], Awaitable[str]],
    lookup: Callable[[], Awaitable[Lookup]],
) -> str:
    """:func:`recover` for an object ``holder`` then holds (a run or a sampling session): while it
    runs, lookups know another creation of this holder is in flight; the id found is the result."""
    claims = _claims_of(holder)

    async def adopt(object_id: str) -> str:
        return object_id

    with _lock:
        claims.inflight += 1
    try:
        object_id = await recover(what, create, lookup, adopt)
    finally:
        with _lock:
            claims.inflight -= 1
    claim(holder, object_id)
    return object_id


async def _safe_lookup(lookup: Callable[[], Awaitable[Lookup]]) -> Lookup:
    try:
        return await lookup()
    except SDKError as err:
        return Undecided(f"the lookup failed: {type(err).__name__}: {err}"[:300])


def _matches(got: Mapping[str, Any] | None, want: Mapping[str, Any] | None) -> bool:
    return dict(got or {}) == dict(want or {})


def _by_seq(ids: list[str], prefix: str, expected: str) -> Lookup | None:
    """Where the server names objects ``<session>:<kind>:<seq>`` (``ids``: all the session
    holds), the seq id decides."""
    if expected in ids:
        return Found(expected)
    if ids and all(i.startswith(prefix) for i in ids):
        return ABSENT
    return None


def _single(matches: list[str], claims: _Claims, kind: str) -> Lookup:
    """Matched by attributes only: one unclaimed match with no other creation in flight."""
    if not matches:
        return ABSENT
    if len(matches) == 1 and claims.inflight <= 1:
        return Found(matches[0])
    return Undecided(f"{len(matches)} {kind} match and other creations are in flight")


# ---------------------------------------------------------------------- training runs


async def create_model_recovering(
    holder: Holder,
    *,
    session_id: str,
    model_seq_id: int,
    base_model: str,
    user_metadata: dict[str, str] | None,
    lora: models.LoraConfig,
    optimizer: models.OptimizerConfig | None = None,
) -> str:
    """Create a training run; its model id, recovered from a lost answer where possible.

    Example::

        model_id = await create_model_recovering(holder, session_id=sid, model_seq_id=0,
                                                 base_model="Qwen/Qwen3-8B", user_metadata=None,
                                                 lora=models.LoraConfig(rank=8))
    """

    async def send(key: str) -> str | None:
        handle = await holder.api.training.create_model(
            session_id=session_id,
            model_seq_id=model_seq_id,
            base_model=base_model,
            user_metadata=omit(user_metadata),
            lora_config=lora,
            optimizer_config=omit(optimizer),
            idempotency_key=key,
        )
        return (await handle.result()).model_id

    return await _new_run(
        holder, session_id, model_seq_id, send, base_model, lora.rank, user_metadata
    )


async def load_run_recovering(
    holder: Holder,
    *,
    session_id: str,
    model_seq_id: int,
    path: str,
    optimizer_state: bool,
    base_model: str | None,
    user_metadata: dict[str, str] | None,
    weights_access_token: str | None,
    optimizer: models.OptimizerConfig | None = None,
) -> str:
    """Create a training run by loading a checkpoint (``load_weights`` with the session and a
    model seq id); its model id, recovered from a lost answer where possible.

    Example::

        model_id = await load_run_recovering(holder, session_id=sid, model_seq_id=1,
                                             path="tinker://run/weights/0001",
                                             optimizer_state=True, base_model=None,
                                             user_metadata=None, weights_access_token=None)
    """

    async def send(key: str) -> str | None:
        handle = await holder.api.training.load_weights(
            session_id=session_id,
            model_seq_id=model_seq_id,
            path=path,
            optimizer=optimizer_state,
            base_model=omit(base_model),
            user_metadata=omit(user_metadata),
            weights_access_token=weights_access_token,
            optimizer_config=omit(optimizer),
            idempotency_key=key,
        )
        return (await handle.result()).model_id

    return await _new_run(holder, session_id, model_seq_id, send, base_model, None, user_metadata)


async def _new_run(
    holder: Holder,
    session_id: str,
    model_seq_id: int,
    send: Callable[[str], Awaitable[str | None]],
    base_model: str | None,
    rank: int | None,
    user_metadata: dict[str, str] | None,
) -> str:
    """A new training run by ``send(idempotency_key)``, looked up after a lost answer by its
    model seq id (servers name runs ``<session>:train:<seq>``), else by base model, rank and
    user metadata."""
    key = new_idempotency_key()
    expected = f"{session_id}:train:{model_seq_id}"
    claims = _claims_of(holder)

    async def create() -> str:
        return await send(key) or expected

    def same(run_base: str | None, run_rank: int | None) -> bool:
        # None: not known on one side, so not a mismatch
        base_ok = None in (base_model, run_base) or base_model == run_base
        return base_ok and (None in (rank, run_rank) or rank == run_rank)

    async def lookup() -> Lookup:
        try:
            session = await holder.api.sessions.get_session(session_id=session_id)
        except SDKError:
            # Servers without session listings: the run's own record, at the id servers derive.
            info = await holder.api.training.get_info(model_id=expected)
            if not same(info.model_data.model_name, info.lora_rank):
                return Undecided(f"{expected} exists with other settings")
            return Found(expected)
        decided = _by_seq(session.training_run_ids, f"{session_id}:train:", expected)
        ids = [i for i in session.training_run_ids if i not in claims.ids]
        if isinstance(decided, Found):
            run = await holder.api.training_runs.get_training_run(decided.object_id)
            if not same(run.base_model, run.lora_rank):
                return Undecided(f"{expected} exists with other settings")
            return decided
        if decided is not None:
            return decided
        if base_model is None:
            return Undecided(
                "the server's run ids do not carry seq ids, and no base model to match"
            )
        matches = []
        for run_id in ids:
            run = await holder.api.training_runs.get_training_run(run_id)
            if same(run.base_model, run.lora_rank) and _matches(run.user_metadata, user_metadata):
                matches.append(run_id)
        return _single(matches, claims, "training runs")

    what = f"training run (session {session_id}, model seq id {model_seq_id})"
    return await _recover_claimed(holder, what, create, lookup)


# ---------------------------------------------------------------------- sampling sessions


async def create_sampling_session_recovering(
    holder: Holder,
    *,
    session_id: str,
    seq_id: int,
    base_model: str | None,
    model_path: str | None,
) -> str:
    """Create a sampling session; its id, recovered from a lost answer where possible.

    Example::

        sampler_id = await create_sampling_session_recovering(
            holder, session_id=sid, seq_id=0, base_model=None, model_path="tinker://r/sampler_weights/1"
        )
    """
    key = new_idempotency_key()
    expected = f"{session_id}:sample:{seq_id}"
    claims = _claims_of(holder)

    async def create() -> str:
        reply = await holder.api.sampling.create_sampling_session(
            session_id=session_id,
            sampling_session_seq_id=seq_id,
            base_model=omit(base_model),
            model_path=omit(model_path),
            idempotency_key=key,
        )
        return reply.sampling_session_id

    def same(sampler: models.GetSamplerResponse) -> bool:
        if model_path is not None:
            return sampler.model_path == model_path
        return sampler.model_path is None and sampler.base_model == base_model

    async def lookup() -> Lookup:
        session = await holder.api.sessions.get_session(session_id=session_id)
        decided = _by_seq(session.sampler_ids, f"{session_id}:sample:", expected)
        ids = [i for i in session.sampler_ids if i not in claims.ids]
        if isinstance(decided, Found):
            if not same(await holder.api.sampling.get_sampler(decided.object_id)):
                return Undecided(f"{expected} exists and serves something else")
            return decided
        if decided is not None:
            return decided
        matches = [i for i in ids if same(await holder.api.sampling.get_sampler(i))]
        return _single(matches, claims, "sampling sessions")

    what = f"sampling session (session {session_id}, sampling session seq id {seq_id})"
    return await _recover_claimed(holder, what, create, lookup)


# ---------------------------------------------------------------------- sessions


async def create_session_recovering(
    holder: Holder,
    *,
    tags: list[str],
    user_metadata: dict[str, Any],
    sdk_version: str,
    project_id: str | None,
    display_name: str | None,
) -> models.CreateSessionResponse:
    """Open a session; a lost answer is looked up among the newest sessions of this key: one
    that holds nothing yet, has this ``user_metadata`` and ``display_name`` and no client of
    this process holds. Two or more such sessions (clients of other processes starting at the
    same moment with the same metadata) cannot be told apart: ``AmbiguousOutcomeError``.

    Example::

        reply = await create_session_recovering(holder, tags=[], user_metadata={},
                                                sdk_version="0.38.0", project_id=None,
                                                display_name=None)
    """
    key = new_idempotency_key()

    async def create() -> models.CreateSessionResponse:
        return await holder.api.sessions.create_session(
            tags=tags,
            user_metadata=user_metadata,
            sdk_version=sdk_version,
            project_id=omit(project_id),
            display_name=omit(display_name),
            idempotency_key=key,
        )

    async def lookup() -> Lookup:
        page = await holder.api.sessions.list_sessions(limit=SESSION_SCAN)
        held = _open_sessions(holder.base_url)
        matches = []
        for sid in page.sessions:
            if sid in held:
                continue
            session = await holder.api.sessions.get_session(session_id=sid)
            if (
                not session.training_run_ids
                and not session.sampler_ids
                and _matches(session.user_metadata, user_metadata)
                and session.display_name == display_name
            ):
                matches.append(sid)
        if len(matches) > 1:
            return Undecided(
                f"{len(matches)} empty sessions with this user_metadata; a distinctive "
                "user_metadata per ServiceClient makes them tell apart"
            )
        return Found(matches[0]) if matches else ABSENT

    async def adopt(session_id: str) -> models.CreateSessionResponse:
        return models.CreateSessionResponse(session_id=session_id)

    reply = await recover("session", create, lookup, adopt)
    with _lock:
        _sessions[holder] = reply.session_id
    return reply
