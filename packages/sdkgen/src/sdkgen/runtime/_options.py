"""Per-call options, merged over the client's defaults (per-call values win)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, final

import httpx

from ._spec import Record

__all__ = ["NOT_GIVEN", "NotGiven", "RequestOptions"]

T = TypeVar("T")


@final
class NotGiven:
    """Marks an argument the caller did not pass, so that ``None`` can mean "send null"."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def given(value: T | NotGiven, default: T) -> T:
    return default if isinstance(value, NotGiven) else value


@dataclass(frozen=True, slots=True, eq=False, repr=False)  # eq, hash, repr: Record
class RequestOptions(Record):
    """What one call may override. ``NOT_GIVEN`` fields fall back to the client's defaults."""

    timeout: float | None | NotGiven = NOT_GIVEN
    max_retries: int | NotGiven = NOT_GIVEN
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] | None = None
    deadline: float | None | NotGiven = NOT_GIVEN
    compress: bool | NotGiven = NOT_GIVEN  # False: send an endpoint's body uncompressed
    pool: str | None = None  # send over this pool instead of the endpoint's
    # Run on every attempt of this call, after the client's own hooks (see _hooks).
    request_hooks: Sequence[Callable[[httpx.Request], None]] = ()
    response_hooks: Sequence[Callable[[httpx.Response], None]] = ()
    # Escape hatches for what the manifest does not (yet) describe: merged over the query and
    # the JSON body object the generated method builds (their keys win; see _body).
    extra_query: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
