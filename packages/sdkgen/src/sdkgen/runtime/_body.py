"""Building a request model from a generated method's keyword arguments, and merging a call's
``extra_query`` / ``extra_body`` escape hatches over what the generated method built."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel

from ._options import NotGiven
from ._request import encode_json_body

if TYPE_CHECKING:
    from ._spec import EndpointSpec

__all__ = [
    "build_body",
    "encode_form_body",
    "merge_extra_body",
    "merge_extra_query",
    "message_body",
    "request_body",
    "validate_params",
]

M = TypeVar("M", bound=BaseModel)


def build_body(model: type[M], values: Mapping[str, Any]) -> M:
    """Validate arguments into ``model`` before any request is sent; ``NOT_GIVEN`` ones are left out.

    A bad argument raises ``pydantic.ValidationError`` naming the field.
    """
    return model.model_validate({k: v for k, v in values.items() if not isinstance(v, NotGiven)})


def request_body(
    model: type[M],
    request: M | None,
    fields: Mapping[str, Any],
    *,
    method: str,
    required: Sequence[str] = (),
    wire: Mapping[str, str] | None = None,
) -> M:
    """A generated method's request body: the prebuilt ``request``, or a ``model`` validated
    from the field keywords (``NOT_GIVEN`` ones left out), never both.

    Args:
        model: The endpoint's request model.
        request: The caller's prebuilt model, or None.
        fields: Every field keyword, by argument name (``NOT_GIVEN`` when not passed).
        method: The method's name, for error messages.
        required: The arguments the keyword form requires.
        wire: Argument name -> field name, where they differ (a keyword, a reserved name).

    Raises:
        TypeError: ``request`` together with a field keyword, ``request`` of another type, or
            a required field keyword missing (the form Python itself raises for one).
        pydantic.ValidationError: a field keyword's value, naming the field.

    Example::

        request_body(NewNote, None, {"text": "hi"}, method="create_note", required=("text",))
    """
    given = [name for name, value in fields.items() if not isinstance(value, NotGiven)]
    if request is not None:
        if given:
            passed = ", ".join(f"`{name}`" for name in given)
            raise TypeError(
                f"{method}() takes either `request` (a prebuilt {model.__name__}) or the field "
                f"keywords, not both: it got `request` and {passed}"
            )
        if not isinstance(request, model):
            raise TypeError(
                f"{method}(): `request` must be a {model.__name__}, not {type(request).__name__}"
            )
        return request
    missing = [name for name in required if isinstance(fields.get(name), NotGiven)]
    if missing:
        listed = ", ".join(f"`{name}`" for name in missing)
        raise TypeError(
            f"{method}() missing required keyword argument(s) {listed} "
            f"(or pass request={model.__name__}(...))"
        )
    renamed = wire or {}
    return build_body(model, {renamed.get(k, k): v for k, v in fields.items()})


def validate_params(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check path and query arguments against their schemas; the validated values, by wire name.

    A bad argument raises ``pydantic.ValidationError`` naming it, before any request is sent.
    """
    return dict(model.model_validate(dict(values)))


def merge_extra_query(
    query: Mapping[str, Any] | None, extra_query: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The call's query with ``extra_query`` merged over it (its keys win; ``None`` drops a key,
    as for any query value).

    Args:
        query: What the generated method built, by wire name.
        extra_query: The caller's additions, sent unvalidated.

    Example::

        merge_extra_query({"limit": 10}, {"limit": 5, "beta": True})
        # {"limit": 5, "beta": True}
    """
    if not extra_query:
        return query
    return {**(query or {}), **extra_query}


def _body_object(
    endpoint: str, body: BaseModel | Mapping[str, Any] | None, extra_body: Mapping[str, Any] | None
) -> dict[str, Any]:
    # The body as the JSON encoder would send it (aliases, unset Nones left out), so that a
    # JSON and a form endpoint agree on field names and values; extra_body's keys over it.
    encoded = encode_json_body(body)
    data: Any = {} if encoded is None else json.loads(encoded)
    if not isinstance(data, dict):
        raise ValueError(
            f"{endpoint}: extra_body merges keys into a JSON object body, but this endpoint's "
            f"body is a JSON {type(data).__name__}"
        )
    data.update(extra_body or {})
    return data


def _form_text(endpoint: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise ValueError(
            f"{endpoint}: form field `{key}` is nested ({type(value).__name__}); a form field "
            "is one value or a list of values"
        )
    return str(value)


def encode_form_body(
    endpoint: str,
    body: BaseModel | Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None = None,
) -> bytes:
    """An ``application/x-www-form-urlencoded`` body: one ``key=value`` per field, a list as
    the key repeated, booleans as ``true``/``false``, ``None`` left out. ``extra_body``'s keys
    are merged over the fields first. A nested value raises ``ValueError`` naming the field.

    Args:
        endpoint: The endpoint id, for error messages.
        body: The request model (or mapping) the generated method built, if any.
        extra_body: The caller's extra fields, if any (they win).

    Example::

        encode_form_body("login", {"user": "a b", "scope": ["r", "w"], "remember": True})
        # b'user=a+b&scope=r&scope=w&remember=true'
    """
    pairs: list[tuple[str, str]] = []
    for key, value in _body_object(endpoint, body, extra_body).items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((key, _form_text(endpoint, key, v)) for v in values if v is not None)
    return urlencode(pairs).encode("ascii")


def merge_extra_body(
    endpoint: str,
    body: BaseModel | Mapping[str, Any] | None,
    content: bytes | None,
    extra_body: Mapping[str, Any],
) -> bytes:
    """The JSON body with ``extra_body``'s keys merged over its top-level object (they win).

    Only a JSON object body can take extra keys: an endpoint that sends raw bytes (a
    ``content`` or protobuf argument) raises ``ValueError`` naming the endpoint, before anything
    is sent. An endpoint without a body sends ``extra_body`` alone, as JSON.

    Args:
        endpoint: The endpoint id, for the error message.
        body: The request model (or mapping) the generated method built, if any.
        content: Raw body bytes the generated method built, if any.
        extra_body: The caller's keys, sent unvalidated (JSON-serialisable values).

    Example::

        merge_extra_body("create", {"name": "a"}, None, {"beta": 1})
        # b'{"name":"a","beta":1}'
    """
    if content is not None:
        raise ValueError(
            f"{endpoint}: extra_body merges keys into a JSON object body, but this endpoint "
            "sends raw bytes; put the field into the content you pass instead"
        )
    data = _body_object(endpoint, body, extra_body)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def message_body(message: Any, spec: EndpointSpec, *, method: str) -> bytes:
    """A protobuf-body method's content: ``message`` serialized, or sent as it is when it is
    already the serialized ``bytes`` (a body encoded ahead of time).

    Args:
        message: A message of the endpoint's type (``spec.message``), or its serialized bytes.
        spec: The endpoint.
        method: The method's name, for the error.

    Raises:
        TypeError: ``message`` is neither, naming the method and the message type it takes.

    Example::

        message_body(shapes_pb2.Box(label="cube"), endpoints.MEASURE, method="measure")
    """
    if isinstance(message, bytes):
        return message
    descriptor = getattr(message, "DESCRIPTOR", None)
    if getattr(descriptor, "full_name", None) != spec.message or not hasattr(
        message, "SerializeToString"
    ):
        raise TypeError(
            f"{method}(): `message` must be a {spec.message} protobuf message or its serialized "
            f"bytes, not {type(message).__name__}"
        )
    data: bytes = message.SerializeToString()
    return data
