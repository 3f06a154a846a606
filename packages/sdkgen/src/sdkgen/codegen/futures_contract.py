"""The manifest's `api.futures` contract: the checks that span its keys, and the emitted spec.

Single keys (field paths, empty lists, statuses) are checked by the manifest model; what is
checked here needs two keys at once. The emitted ``FuturesSpec(...)`` lists the keys every
manifest had before the polling keys (`max_poll_interval`, `poll_hint`, `failed.equals`) and
those only when they differ from the runtime's defaults, so that a manifest without them
generates the same code as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .loader import Key
from .manifest import Futures

__all__ = ["check_futures", "futures_spec_source"]

_BASE: Key = ("api", "futures")


def _values(equals: str | list[str] | None) -> list[str]:
    return [] if equals is None else [equals] if isinstance(equals, str) else list(equals)


def check_futures(futures: Futures, add: Callable[[Key, str], None]) -> None:
    """Report the contradictions between the contract's keys through ``add(path, message)``.

    Example::

        check_futures(manifest.api.futures, checker.add)
    """
    if futures.poll_interval > futures.max_poll_interval:
        add(
            (*_BASE, "poll_interval"),
            f"poll_interval ({futures.poll_interval}) is above max_poll_interval "
            f"({futures.max_poll_interval}), the cap of its backoff: lower it or raise "
            "max_poll_interval",
        )
    pending, failed = futures.pending, futures.failed
    if failed.field != pending.field:
        return
    if failed.equals is None:
        add(
            (*_BASE, "failed"),
            f"failed.field `{failed.field}` is also pending.field: without `equals`, every reply "
            "that is not pending would be a failure (the result too); list the values that mean "
            "failed in failed.equals",
        )
        return
    both = sorted(set(_values(pending.equals)) & set(_values(failed.equals)))
    if both:
        add(
            (*_BASE, "failed", "equals"),
            f"{', '.join(both)} is listed both as pending and as failed; keep it in one list",
        )


def futures_spec_source(futures: Futures) -> str:
    """The Python source of the ``FuturesSpec`` that ``futures`` describes."""
    f = futures
    meta = f.metadata_reply
    pending = f.pending.equals
    fields: dict[str, Any] = {
        "poll_endpoint": f.poll_endpoint,
        "request_id_field": f.request_id_field,
        "pending_field": f.pending.field,
        "pending_value": pending if isinstance(pending, str) else tuple(pending),
        "failed_field": f.failed.field,
        "message_field": f.message_field,
        "category_field": f.category_field,
        "queue_state_field": f.queue_state_field,
        "queue_state_reason_field": f.queue_state_reason_field,
        "queue_state_active": f.queue_state_active,
        "retry_statuses": tuple(f.retry_statuses),
        "backoff_statuses": tuple(f.backoff_statuses),
        "expired_statuses": tuple(f.expired_statuses),
        "bad_request_statuses": tuple(f.bad_request_statuses),
        "bad_request_budget": f.bad_request_budget,
        "pause_statuses": tuple(f.pause_statuses),
        "pause_interval": f.pause_interval,
        "pause_cap": f.pause_cap,
        "poll_interval": f.poll_interval,
        "max_backoff": f.max_backoff,
        "poll_fields": dict(f.poll_fields),
        "metadata_field": meta.field if meta else None,
        "metadata_value": meta.equals if meta else None,
        "metadata_then": dict(meta.then) if meta else {},
        "iteration_header": f.iteration_header,
    }
    hint = f.poll_hint
    # Emitted only when not the runtime's default (the spec's defaults are the manifest's).
    optional: dict[str, tuple[Any, Any]] = {
        "failed_values": (tuple(_values(f.failed.equals)), ()),
        "max_poll_interval": (f.max_poll_interval, 5.0),
        "retry_after_header": (hint.header, True),
        "poll_after_field": (hint.field, None),
        "poll_after_unit": (hint.unit, "s"),
        "poll_after_cap": (hint.cap, 60.0),
    }
    fields |= {key: value for key, (value, default) in optional.items() if value != default}
    return "FuturesSpec(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"
