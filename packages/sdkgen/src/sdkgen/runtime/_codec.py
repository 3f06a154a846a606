"""Wire encodings: which one a body travels in, and turning a protobuf result into its type.

An endpoint may offer a protobuf body (``EndpointSpec.body == "protobuf"``) and a future may
deliver its result as a protobuf message (``EndpointSpec.result_message``). One
:class:`WireCodecs` per client decides, per server:

* ``wire="json"``: JSON only; results are asked for with ``Accept: application/json``.
* ``wire="protobuf"``: protobuf wherever the manifest offers it; a refusal is an error.
* ``wire="auto"`` (default): protobuf until the server refuses a protobuf body (415 or 422:
  it cannot read the encoding); then JSON for that client from then on, said once at INFO.

Results are content-negotiated: a poll asks for protobuf where the manifest offers it, the mode
allows it and a converter to the result type is registered for the message (packed arrays need
one), and whatever the server answers is decoded by its ``Content-Type``: a protobuf reply
without a converter is read field by field through ``MessageToDict``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, cast

import httpx

from ._config import WireMode
from ._errors import APIResponseValidationError, APIStatusError
from ._response import type_adapter
from ._spec import APISpec, EndpointSpec

__all__ = ["JSON", "PROTOBUF", "WireCodecs", "hex_excerpt"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ACCEPT_BOTH = f"{PROTOBUF}, {JSON};q=0.5"
# Statuses with which a server says it cannot read the body's encoding.
_REFUSALS = (415, 422)
_EXCERPT_BYTES = 32


ResultDecoder = Callable[[bytes], Any]


def hex_excerpt(content: bytes, limit: int = _EXCERPT_BYTES) -> str:
    """The first bytes of a body as hex, for an error message about undecodable bytes."""
    head = content[:limit].hex(" ")
    return f"{head} ..." if len(content) > limit else head or "<empty body>"


class WireCodecs:
    """The wire encodings of one client: its mode, what the server refused, result decoders.

    Example::

        codecs = WireCodecs(API_SPEC, "auto")
        codecs.register("pkg.Result", decode_result)  # bytes -> the result type
        codecs.protobuf_request(spec)  # True until the server refuses protobuf
    """

    def __init__(self, api: APISpec, mode: WireMode = "auto") -> None:
        self._api = api
        self.mode: WireMode = mode
        self._refused_by: str | None = None
        self._decoders: dict[str, ResultDecoder] = {}
        self._module: Any = None
        self._lock = threading.Lock()

    # -- requests -------------------------------------------------------------------------

    def protobuf_request(self, spec: EndpointSpec) -> bool:
        """True when a call that can go either way should send ``spec``'s protobuf body."""
        return spec.body == "protobuf" and self.mode != "json" and self._refused_by is None

    @property
    def refused(self) -> str | None:
        """The endpoint whose protobuf body the server refused (``None``: none was)."""
        return self._refused_by

    def is_refusal(self, err: BaseException, spec: EndpointSpec) -> bool:
        """True when ``err`` says the server cannot read ``spec``'s protobuf body."""
        return (
            spec.body == "protobuf"
            and isinstance(err, APIStatusError)
            and err.status_code in _REFUSALS
        )

    def refuse(self, spec: EndpointSpec, err: APIStatusError) -> None:
        """Remember that this server refuses protobuf bodies: JSON from now on ("auto" mode)."""
        with self._lock:
            first = self._refused_by is None
            self._refused_by = spec.id
        if first:
            logging.getLogger(self._api.logger).info(
                "the server refused a protobuf body on %s (HTTP %s): using JSON from now on",
                spec.id,
                err.status_code,
            )

    def forget_refusal(self) -> None:
        """Undo :meth:`refuse` (the JSON body was refused too: the encoding was not the cause)."""
        with self._lock:
            self._refused_by = None

    # -- results --------------------------------------------------------------------------

    def register(self, message: str, decode: ResultDecoder) -> None:
        """Decode protobuf results of ``message`` (its full name) with ``decode(bytes)``."""
        self._decoders[message] = decode

    def accept(self, spec: EndpointSpec) -> str | None:
        """The ``Accept`` header for polling ``spec``'s result (``None``: the poll's default)."""
        if self.mode == "json" or spec.result_message not in self._decoders:
            return None  # a result nobody can turn into its type is not asked for as protobuf
        return PROTOBUF if self.mode == "protobuf" else _ACCEPT_BOTH

    @staticmethod
    def is_protobuf(response: httpx.Response) -> bool:
        return PROTOBUF in response.headers.get("content-type", "")

    def decode(self, spec: EndpointSpec, response: httpx.Response, result_type: type[Any]) -> Any:
        """The result of ``spec`` from a protobuf reply; undecodable bytes raise
        :class:`APIResponseValidationError` naming the endpoint, with a hex excerpt."""
        content = response.content
        name = spec.result_message
        try:
            if name is None:
                raise ValueError("the manifest names no protobuf message for this result")
            decoder = self._decoders.get(name)
            if decoder is not None:
                return decoder(content)
            return self._decode_fields(name, content, result_type)
        except Exception as err:
            # protobuf's DecodeError (not a ValueError in every runtime), a converter's
            # ValueError on inconsistent arrays, a ValidationError: one typed error, chained.
            raise APIResponseValidationError(
                f"the protobuf result ({name}) could not be decoded: {err}; "
                f"{len(content)} bytes: {hex_excerpt(content)}",
                endpoint=spec.id,
                method=spec.method,
                path=spec.path,
                status_code=response.status_code,
            ) from err

    def message_class(self, name: str) -> Any:
        """The compiled message class of ``name`` (``package.Message``)."""
        if self._module is None:
            if self._api.protobuf_module is None:
                raise TypeError(f"{self._api.title} declares no protobuf schema")
            self._module = importlib.import_module(self._api.protobuf_module)
        return getattr(self._module, name.rsplit(".", 1)[-1])

    def _decode_fields(self, name: str, content: bytes, result_type: type[Any]) -> Any:
        from google.protobuf.json_format import MessageToDict

        message = self.message_class(name).FromString(content)
        data = MessageToDict(message, preserving_proto_field_name=True)
        return type_adapter(cast(Hashable, result_type)).validate_python(data)
