"""What the two API clients share: per-call resolution (policy, timeouts, the request of each
attempt), telemetry around each stage, and the reading of an answer's outcome (size limit,
status first). Nothing here does I/O; the twins in ``_client`` are the loops that send.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel

from ._auth import auth_header_names
from ._backpressure import SharedWindow, body_bytes, window_for
from ._body import encode_form_body, merge_extra_body, merge_extra_query
from ._body_limit import LimitedBody, limit_body
from ._breaker import CircuitBreaker, CircuitState
from ._codec import WireCodecs
from ._config import ClientConfig, WireMode
from ._errors import APIError, APIStatusError, ResponseTooLargeError
from ._hooks import RequestHook, ResponseHook, checked_hooks, run_hooks
from ._liveness import first_contact_error
from ._options import NotGiven, RequestOptions
from ._request import (
    CallArgs,
    build_request,
    encode_json_body,
    new_idempotency_key,
    render_path,
    sends_idempotency_key,
)
from ._response import cut_off_error, request_id_of, status_error, too_large_error, transport_error
from ._retry import RetryInfo, RetryState
from ._spec import APISpec, EndpointSpec, RetryPolicy
from ._telemetry import Event, Listener, Telemetry, apply_log_env

if TYPE_CHECKING:
    from ._multipart import MultipartBody

__all__ = ["Call", "ClientCore"]

_CALL_IDS = itertools.count(1)


class Call:
    """One call in flight: its spec, fixed arguments, policy and retry state."""

    __slots__ = (
        "args",
        "breaker",
        "budget",
        "call_id",
        "ends_at",
        "path",
        "policy",
        "pool",
        "spec",
        "state",
        "timeout",
    )

    def __init__(
        self,
        spec: EndpointSpec,
        args: CallArgs,
        policy: RetryPolicy,
        state: RetryState,
        timeout: float,
        path: str,
        call_id: int,
        pool: str,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.breaker = breaker
        self.pool = pool
        self.call_id = call_id
        self.spec = spec
        self.args = args
        self.policy = policy
        self.state = state
        self.timeout = timeout
        self.path = path
        # The current attempt's wall-clock allowance (its timeout within the call's deadline)
        # and when it ends: enforced while the answer's bytes arrive, not only between reads.
        self.budget = timeout
        self.ends_at = 0.0


class ClientCore:
    api: ClassVar[APISpec]
    endpoints: ClassVar[Mapping[str, EndpointSpec]] = {}

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        listeners: Iterable[Listener] = (),
        on_retry: Callable[[RetryInfo], None] | None = None,
        resend_ambiguous: bool = False,
        propagate_trace: bool = False,
        wire: WireMode = "auto",
        config: ClientConfig | None = None,
        credentials: Mapping[str, str] | None = None,
        request_hooks: Iterable[RequestHook] = (),
        response_hooks: Iterable[ResponseHook] = (),
    ) -> None:
        self.config = config or ClientConfig.resolve(
            self.api,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            deadline=deadline,
            default_headers=default_headers,
            resend_ambiguous=resend_ambiguous,
            propagate_trace=propagate_trace,
            wire=wire,
            credentials=credentials,
            request_hooks=request_hooks,
            response_hooks=response_hooks,
        )
        self.codecs = WireCodecs(self.api, self.config.wire)
        apply_log_env(self.api)  # the manifest's env.log (e.g. MYAPI_LOG=info), once
        self.telemetry = Telemetry(listeners, logger_name=self.api.logger)
        self._on_retry = on_retry
        #: Whether the server has ever answered this client (any status): until it has, a
        #: failure to reach it is retried for the policy's ``first_contact_deadline`` only.
        self.server_answered = False
        #: This client's circuit breakers by name (the manifest's ``circuit_breakers``), for
        #: reading their state: ``api.circuit_breakers["storage"].state``.
        self.circuit_breakers: Mapping[str, CircuitBreaker] = {
            name: CircuitBreaker(name, policy, on_change=self._circuit_changed)
            for name, policy in self.api.circuit_breakers.items()
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    # -- per-call resolution -------------------------------------------------------------

    def _policy(self, spec: EndpointSpec, options: RequestOptions) -> RetryPolicy:
        policy = self.api.retry_policies.get(spec.retry) or RetryPolicy()
        changes: dict[str, Any] = {}
        if not isinstance(options.max_retries, NotGiven):
            changes["max_retries"] = options.max_retries
        elif self.config.max_retries is not None and policy.max_retries > 0:
            # A client-wide setting tunes retrying endpoints; it never adds retries to an
            # endpoint whose policy is not to retry.
            changes["max_retries"] = self.config.max_retries
        if not isinstance(options.deadline, NotGiven):
            changes["deadline"] = options.deadline
        elif self.config.deadline is not None:
            changes["deadline"] = self.config.deadline
        if not changes:
            return policy
        return dataclasses.replace(policy, **changes)

    def _attempt_timeout(self, spec: EndpointSpec, options: RequestOptions) -> float:
        if not isinstance(options.timeout, NotGiven) and options.timeout is not None:
            return options.timeout
        pool = self.api.pools.get(spec.pool)
        if spec.timeout is not None:
            return spec.timeout
        if pool is not None and pool.timeout is not None:
            return pool.timeout
        return self.config.timeout

    def _start(
        self,
        spec: EndpointSpec,
        *,
        path_params: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
        body: BaseModel | Mapping[str, Any] | None,
        content: bytes | None,
        secret_headers: Mapping[str, str | None] | None,
        options: RequestOptions | None,
    ) -> Call:
        options = options or RequestOptions()
        if spec.deprecated:
            warnings.warn(
                f"{spec.id} is deprecated: {spec.deprecated}", DeprecationWarning, stacklevel=4
            )
        payload: bytes | MultipartBody | None = content
        if spec.body == "multipart" and content is None:
            from ._multipart import encode_multipart_body  # loaded by the first multipart call

            payload = encode_multipart_body(
                spec.id, body, options.extra_body, file_fields=spec.file_fields
            )
        elif spec.body == "form" and content is None:
            payload = encode_form_body(spec.id, body, options.extra_body)
        elif options.extra_body is not None:
            payload = merge_extra_body(spec.id, body, content, options.extra_body)
        elif content is None and body is not None:
            payload = encode_json_body(body)
        query = merge_extra_query(query, options.extra_query)
        key = options.idempotency_key
        if key is None and sends_idempotency_key(self.api, spec):
            key = new_idempotency_key()
        args = CallArgs(
            path_params=path_params,
            query=query,
            content=payload,
            secret_headers=secret_headers,
            extra_headers=options.extra_headers,
            idempotency_key=key,
            compress=options.compress is not False,
            request_hooks=checked_hooks(options.request_hooks, "request_hooks"),
            response_hooks=checked_hooks(options.response_hooks, "response_hooks"),
        )
        policy = self._policy(spec, options)
        path = render_path(spec, args.path_params)
        call_id = next(_CALL_IDS)
        state = RetryState(
            policy,
            endpoint=spec.id,
            deadline=policy.deadline,
            report=self._report_retry(spec, path, call_id),
            reached=self._server_answered,
        )
        timeout = self._attempt_timeout(spec, options)
        breaker = self.circuit_breakers[spec.breaker] if spec.breaker is not None else None
        return Call(
            spec, args, policy, state, timeout, path, call_id, options.pool or spec.pool, breaker
        )

    def _server_answered(self) -> bool:
        return self.server_answered

    def _circuit_changed(self, breaker: CircuitBreaker, state: CircuitState, reason: str) -> None:
        level = logging.WARNING if state == "open" else logging.INFO
        self.telemetry.logger.log(
            level, "circuit breaker %r is now %s: %s", breaker.name, state, reason
        )
        self.telemetry.emit(
            Event("circuit_state", "", "", "", detail=f"{state}: {reason}", circuit=breaker.name)
        )

    def report_retry(self, spec: EndpointSpec, info: RetryInfo) -> None:
        """Report a retry the caller makes itself, outside the runtime's retry loop, as the
        runtime reports its own: a ``retry`` telemetry event and the ``on_retry`` hook.

        Args:
            spec: The endpoint being retried.
            info: The attempt, the wait before it and its cause.

        Example::

            api.report_retry(endpoints.CREATE_JOB, RetryInfo(endpoint="create_job", attempt=1,
                             wait=0.5, cause=err, elapsed=0.0))
        """
        self._report_retry(spec, spec.path, 0)(info)

    def _report_retry(
        self, spec: EndpointSpec, path: str, call_id: int
    ) -> Callable[[RetryInfo], None]:
        def report(info: RetryInfo) -> None:
            cause = info.cause
            self.telemetry.emit(
                Event(
                    "retry",
                    spec.id,
                    spec.method,
                    path,
                    attempt=info.attempt,
                    status_code=getattr(cause, "status_code", None),
                    elapsed=info.elapsed,
                    wait=info.wait,
                    error=str(cause),
                    error_type=type(cause).__name__,
                    call_id=call_id,
                )
            )
            if self._on_retry is not None:
                try:
                    self._on_retry(info)
                except Exception:
                    self.telemetry.logger.exception(
                        "on_retry hook %r failed; the call goes on", self._on_retry
                    )

        return report

    def _request_for_attempt(self, call: Call) -> httpx.Request:
        if call.breaker is not None:  # an open circuit: fail at once, send nothing
            call.breaker.admit(call.spec.id, call.spec.method, call.path)
        attempt = call.state.next_attempt()
        timeout = call.timeout
        remaining = call.state.remaining()
        if remaining is not None:
            timeout = max(min(timeout, remaining), 0.001)
        call.budget = timeout
        call.ends_at = time.monotonic() + timeout
        request = build_request(
            self.api,
            self.config,
            call.spec,
            call.args,
            retries_taken=attempt - 1,
            timeout=httpx.Timeout(timeout, connect=min(self.config.connect_timeout, timeout)),
        )
        if self.config.propagate_trace:
            from ._otel import inject_trace_context

            inject_trace_context(request.headers)
        run_hooks(self.config.request_hooks, call.args.request_hooks, request)  # see _hooks
        self.telemetry.emit(
            Event(
                "request_start",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=attempt,
                call_id=call.call_id,
            )
        )
        if self.telemetry.logger.isEnabledFor(logging.DEBUG):  # (the names cost a tuple a call)
            self.telemetry.log_request(
                call.spec.id, attempt, request, self._secret_names(call.spec)
            )
        return request

    def _limit(self, call: Call, response: httpx.Response, stream: bool) -> LimitedBody:
        """Bound the body about to be read: its size (per event for a stream that opened),
        and, unless it is a stream, the time it may take to arrive. The response hooks run
        first: status and headers are in, the body is not (see _hooks)."""
        self.server_answered = True
        run_hooks(self.config.response_hooks, call.args.response_hooks, response)
        spec = call.spec
        limit = spec.max_response_bytes or self.api.max_response_bytes
        opened = stream and response.status_code < 400
        # An event stream is bounded per event; a binary body read as a stream as a whole.
        per_event = opened and spec.stream is not None

        def too_large(size: int) -> ResponseTooLargeError:
            return too_large_error(self.api, spec, response, call.path, size, per_event=per_event)

        deadline_at = None if opened else call.ends_at
        return limit_body(
            response, limit=limit, too_large=too_large, per_event=per_event, deadline_at=deadline_at
        )

    def _lost(
        self,
        call: Call,
        request: httpx.Request,
        response: httpx.Response | None,
        body: LimitedBody | None,
        exc: httpx.HTTPError | ResponseTooLargeError,
    ) -> APIError:
        """The error for an attempt whose answer did not arrive in full. Once the status line
        has arrived it decides (status first): an error status is that status's error; a
        success status means a state-changing request was applied."""
        resend = self.config.resend_ambiguous
        if call.breaker is not None:
            call.breaker.failed(f"{type(exc).__name__}: {exc}")
        if response is None:
            return transport_error(call.spec, call.path, exc, resend_ambiguous=resend)
        head = bytes(body.head) if body is not None else b""
        return cut_off_error(
            self.api, call.spec, response, call.path, exc, head=head, resend_ambiguous=resend
        )

    def _secret_names(self, spec: EndpointSpec) -> tuple[str, ...]:
        return (*auth_header_names(self.api), *spec.secret_headers)

    def _check(self, call: Call, response: httpx.Response) -> None:
        """Raise the typed error for an error status (the body must be read)."""
        if call.breaker is not None:
            if call.breaker.counts_status(response.status_code):
                call.breaker.failed(f"status {response.status_code}")
            else:  # any other answer shows the server is there
                call.breaker.succeeded()
        if response.status_code >= 400:
            raise status_error(self.api, self.config, call.spec, response, call.path)
        self.telemetry.emit(
            Event(
                "request_end",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=call.state.attempt,
                status_code=response.status_code,
                elapsed=call.state.elapsed(),
                request_id=request_id_of(self.api, response),
                call_id=call.call_id,
            )
        )

    def _failed(self, call: Call, err: APIError) -> APIError:
        if call.state.first_contact_failed:  # say what to check, not only the socket's error
            err = first_contact_error(
                err,
                base_url=self.config.base_url,
                limit=call.policy.first_contact_deadline or 0.0,
                base_url_env=self.api.env.get("base_url"),
            )
        err.attempts = call.state.attempt
        err.elapsed = call.state.elapsed()
        self.telemetry.emit(
            Event(
                "request_error",
                call.spec.id,
                call.spec.method,
                call.path,
                attempt=call.state.attempt,
                status_code=err.status_code,
                elapsed=err.elapsed,
                error=str(err),
                error_type=type(err).__name__,
                request_id=err.request_id,
                call_id=call.call_id,
            )
        )
        return err

    def _window(self, call: Call) -> SharedWindow | None:
        """The shared window calls of this endpoint wait out, when it has backpressure."""
        return None if call.spec.backpressure is None else window_for(self.api, call.spec)

    def _refused(self, call: Call, err: APIError, window: SharedWindow) -> bool:
        """Whether ``err`` is one of the endpoint's backpressure statuses: then the window is
        opened (or kept open longer), the wait is reported as a retry, and the call is to be
        sent again, from its first attempt, once the window closes."""
        rule = call.spec.backpressure
        if rule is None or not isinstance(err, APIStatusError):
            return False
        if not rule.refuses(err.status_code or 0):
            return False
        wait = window.open(rule.window_after(body_bytes(call.args.content)))
        call.state.attempt = 0  # sent again in full: the retry policy's budget starts over
        info = RetryInfo(
            endpoint=call.spec.id, attempt=0, wait=wait, cause=err, elapsed=call.state.elapsed()
        )
        self._report_retry(call.spec, call.path, call.call_id)(info)
        return True

    def _endpoint(self, endpoint_id: str) -> EndpointSpec:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise LookupError(f"no endpoint {endpoint_id!r} in {type(self).__name__}") from None
