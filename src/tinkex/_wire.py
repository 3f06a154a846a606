"""The wire conventions of the Tinker API.

An unset optional field is omitted, never null: the generated layer sends an explicit ``None``
as ``null`` (it can mean "remove"); in the hand-written clients ``None`` means "not set", so
:func:`omit` and :func:`compact` turn it into an omission. Protobuf results are decoded by the
converters of ``_proto`` (numpy and the compiled messages load on the first such result).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sdkgen.runtime import NOT_GIVEN, NotGiven, WireCodecs

from ._generated import endpoints as _e

__all__ = ["compact", "omit", "register_result_decoders"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def omit(value: T | None) -> T | NotGiven:
    """``NOT_GIVEN`` for ``None``: the argument is left out of the request."""
    return NOT_GIVEN if value is None else value


def compact(model: type[M], **fields: Any) -> M:
    """``model(**fields)`` without the ``None`` fields, so they are left out of the request."""
    return model(**{k: v for k, v in fields.items() if v is not None})


def _forward_backward_output(content: bytes) -> Any:
    from ._proto import decode_forward_backward_output

    return decode_forward_backward_output(content)


def _sample_response(content: bytes) -> Any:
    from ._proto import decode_sample_response

    return decode_sample_response(content)


def register_result_decoders(codecs: WireCodecs) -> None:
    """Teach ``codecs`` the protobuf results of the Tinker API (packed arrays need converters)."""
    for spec, decode in (
        (_e.FORWARD_BACKWARD, _forward_backward_output),
        (_e.ASAMPLE, _sample_response),
    ):
        if spec.result_message is not None:
            codecs.register(spec.result_message, decode)
