"""ServiceClient: the entry point. It owns the session; it creates training, sampling and REST
clients. Close it (or use it as a context manager) to finish the session and stop every
background task.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import httpx
from sdkgen.runtime import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    APIFuture,
    APIStatusError,
    BadRequestError,
    ClientFuture,
    HTTPBackend,
    Listener,
    Metrics,
    NotFoundError,
    RequestFailedError,
    RetryInfo,
    UnprocessableEntityError,
    WireMode,
)

from ._creation_recovery import create_model_recovering, load_run_recovering
from ._generated import models
from ._holder import Holder
from ._public_call import awaited_twin, public
from ._sampling_client import (
    RetryConfig,
    SamplingClientFuture,
    open_sampling_client,
)
from ._session import SessionStatus
from ._settings import DEFAULT_RESULT_TIMEOUT, ClientSettings, PickleCredentials
from ._tinker_paths import check_tinker_path
from ._training_client import TrainingClient
from ._validation import check_lora_rank
from .types import GetServerCapabilitiesResponse

if TYPE_CHECKING:  # loaded on first use: checkpoint downloads pull in archives and files
    from ._compat import LossHandle
    from ._rest_client import RestClient

__all__ = ["ServiceClient", "TrainingClientFuture"]

logger = logging.getLogger("tinkex")


class TrainingClientFuture(ClientFuture[TrainingClient]):
    """A TrainingClient being created (``.result()``; client methods also work on it)."""

    def __init__(self, future: APIFuture[TrainingClient]) -> None:
        super().__init__(future, "training client")


class _NoOtherArguments(TypedDict, total=False):
    """No keyword beyond the named ones: a typo such as ``base_ulr=`` is a type error. At run
    time an unknown keyword is ignored with a ``FutureWarning``, as the official SDK does."""


class ServiceClient:
    """Connects to a Tinker server and creates the clients that do the work.

    Settings resolve as arguments > environment (``TINKER_BASE_URL``, ``TINKER_API_KEY``, ...) >
    defaults. Beyond the official SDK's arguments: ``timeout`` (per attempt), ``max_retries``,
    ``result_timeout`` (default wait of every ``.result()``; ``None`` waits forever),
    ``unreachable_timeout`` (default 60 s: a training or sampling wait whose server cannot be
    reached at all fails with ``APIConnectionError`` after that long, or after more failures in
    a row than ``max_retries`` when given; a server that answers, even "not yet", may keep a
    wait going up to ``result_timeout``),
    ``resend_ambiguous`` (resend a request whose answer was lost: only for servers that
    deduplicate), ``listeners`` / ``on_retry`` (telemetry), ``transport`` (an httpx transport),
    ``http_backend`` (``"auto"``: the pyqwest transport, a Rust HTTP client, when the server's
    config asks for it and ``pyqwest`` is installed, else httpx; ``"httpx"`` or ``"pyqwest"`` to
    force one; a ``transport`` always wins).

    Args:
        user_metadata: Stored with the session; also how a session whose creation answer was
            lost is found again, so make it distinctive.
        project_id: The project of the session and of what it creates (default
            ``$TINKER_PROJECT_ID``).
        display_name: A name for the session, shown by the server.
        base_url: The server (default ``$TINKER_BASE_URL``, else the hosted service).
        api_key: The key (default ``$TINKER_API_KEY``); never logged or shown in errors.
        default_headers_overrides: Headers sent with every request, over the defaults.
        timeout: Seconds for each HTTP attempt, from sending to the last byte (default
            ``$TINKER_TIMEOUT``, else 60).
        max_retries: Retries of one request (default ``$TINKER_MAX_RETRIES``, else the
            endpoint's policy).
        result_timeout: Seconds every ``.result()`` without a timeout waits at most (3,600);
            ``None`` waits forever.
        resend_ambiguous: Resend a state-changing request whose answer was lost instead of
            raising ``AmbiguousOutcomeError``. Only for a server that deduplicates.
        listeners: Callables given every telemetry event (request start, end, error, retry,
            queue state).
        on_retry: Called with a ``RetryInfo`` before every retry.
        transport: An httpx transport for every connection (wins over ``http_backend``).
        tags: Tags of the session (added to ``$TINKER_TAGS``).
        heartbeat_period: Seconds between the session's heartbeats.
        telemetry_flush_interval: Seconds between batches of telemetry sent to the server
            (``TINKER_TELEMETRY=0`` sends none).
        propagate_trace: Send the current OpenTelemetry trace context (``traceparent``).
        http_backend: ``"auto"``, ``"httpx"`` or ``"pyqwest"``: which HTTP client sends.
        wire: ``"auto"``, ``"json"`` or ``"protobuf"``: which encoding bodies and results use.
        unreachable_timeout: Seconds a wait for a result goes on while the server cannot be
            reached at all (60).
        pickle_credentials: What a pickled ``SamplingClient`` of this client carries of the
            key: ``"include"`` (the key itself, as the official SDK does) or ``"environment"``
            (nothing; the process that unpickles it uses its own ``TINKER_API_KEY``,
            ``TINKER_CREDENTIAL_CMD`` or ``tinkex auth login``). Default
            ``$TINKER_PICKLE_CREDENTIALS``, else the key is included and the first such pickle
            warns (``PickledCredentialsWarning``).
        **kwargs: Nothing else is accepted: an unknown keyword is a type error, and at run
            time it is ignored with a ``FutureWarning``, as the official SDK does.

    Example::

        with ServiceClient() as service:
            training = service.create_lora_training_client("Qwen/Qwen3-8B", rank=16).result()
    """

    holder: Holder

    def __init__(
        self,
        user_metadata: dict[str, str] | None = None,
        project_id: str | None = None,
        *,
        display_name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        default_headers_overrides: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        result_timeout: float | None = DEFAULT_RESULT_TIMEOUT,
        resend_ambiguous: bool = False,
        listeners: Iterable[Listener] = (),
        on_retry: Callable[[RetryInfo], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        tags: Iterable[str] | None = None,
        heartbeat_period: float = 10.0,
        telemetry_flush_interval: float = 10.0,
        propagate_trace: bool = False,
        http_backend: HTTPBackend = "auto",
        wire: WireMode = "auto",
        unreachable_timeout: float = DEFAULT_UNREACHABLE_TIMEOUT,
        pickle_credentials: PickleCredentials | None = None,
        **kwargs: Unpack[_NoOtherArguments],
    ) -> None:
        if kwargs:
            warnings.warn(
                f"ServiceClient ignores unknown arguments: {', '.join(sorted(kwargs))}",
                FutureWarning,
                stacklevel=2,
            )
        self.holder = Holder(
            ClientSettings.resolve(
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
                default_headers=default_headers_overrides,
                listeners=listeners,
                on_retry=on_retry,
                transport=transport,
                result_timeout=result_timeout,
                resend_ambiguous=resend_ambiguous,
                user_metadata=user_metadata,
                project_id=project_id,
                display_name=display_name,
                tags=tags,
                heartbeat_period=heartbeat_period,
                telemetry_flush_interval=telemetry_flush_interval,
                propagate_trace=propagate_trace,
                http_backend=http_backend,
                wire=wire,
                unreachable_timeout=unreachable_timeout,
                pickle_credentials=pickle_credentials,
            )
        )

    def __repr__(self) -> str:
        return f"ServiceClient(base_url={self.holder.base_url!r})"

    # -- training clients --------------------------------------------------------------------

    async def _check_base_model(self, base_model: str) -> None:
        """Refuse a base model the server does not list as trainable (when it lists any)."""
        try:
            caps = await self.holder.features.capabilities()
        except (NotFoundError, APIStatusError):
            return  # a server that cannot say; let it decide
        names = [
            m.model_name for m in caps.supported_models if m.model_name and m.trainable is not False
        ]
        if names and base_model not in names:
            raise ValueError(
                f"unknown base model {base_model!r}; this server trains: {', '.join(sorted(names))}"
            )

    async def _client_for(self, model_seq_id: int, model_id: str) -> TrainingClient:
        info = await self.holder.api.training.get_info(model_id=model_id)
        return TrainingClient(self.holder, model_seq_id, model_id, info=info)

    async def _new_run(
        self,
        model_seq_id: int,
        base_model: str,
        lora: models.LoraConfig,
        user_metadata: dict[str, str] | None,
        optimizer: models.OptimizerConfig | None = None,
    ) -> TrainingClient:
        """create_model, recovered from a lost answer (looked up, adopted or resent once)."""
        session_id = await self.holder.session.session_id()
        model_id = await create_model_recovering(
            self.holder,
            session_id=session_id,
            model_seq_id=model_seq_id,
            base_model=base_model,
            user_metadata=user_metadata,
            lora=lora,
            optimizer=optimizer,
        )
        return await self._client_for(model_seq_id, model_id)

    @public
    def create_lora_training_client(
        self,
        base_model: str,
        rank: int = 32,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        user_metadata: dict[str, str] | None = None,
        optimizer: models.OptimizerConfig | None = None,
    ) -> TrainingClientFuture:
        """A new LoRA training run on ``base_model``.

        Args:
            base_model: A model the server trains (``get_server_capabilities()`` lists them);
                another name fails with a ``ValueError`` before the run is created.
            rank: The LoRA rank (1 to 65,536; servers may allow less).
            seed: Seed of the adapter's initialisation.
            train_mlp: Put adapters on the MLP layers.
            train_attn: Put adapters on the attention layers.
            train_unembed: Put an adapter on the unembedding layer.
            user_metadata: Stored with the run (``RestClient.get_training_run`` shows it).
            optimizer: The optimizer of the run (``AdamOptimizerConfig``, the default, or
                ``DimuonOptimizerConfig``); each step's hyper-parameters go to ``optim_step``.

        Returns:
            A future of the ``TrainingClient``.

        Example::

            training = service.create_lora_training_client("Qwen/Qwen3-8B", rank=16).result()
        """
        if not (train_mlp or train_attn or train_unembed):
            raise ValueError("at least one of train_mlp, train_attn, train_unembed must be True")
        check_lora_rank(rank)
        lora = models.LoraConfig(
            rank=rank,
            seed=seed,
            train_mlp=train_mlp,
            train_attn=train_attn,
            train_unembed=train_unembed,
        )
        holder = self.holder
        model_seq_id = holder.session.next_model_seq_id()

        async def run() -> TrainingClient:
            await self._check_base_model(base_model)
            try:
                return await self._new_run(model_seq_id, base_model, lora, user_metadata, optimizer)
            except RequestFailedError as err:
                if err.category == "user":
                    err.detail = (
                        f"{err.detail} (base_model={base_model!r}; "
                        "get_server_capabilities() lists the supported models)"
                    )
                raise

        return TrainingClientFuture(holder.submit(run(), "create_lora_training_client"))

    def _from_state(
        self,
        path: str,
        optimizer_state: bool,
        base_model: str | None,
        user_metadata: dict[str, str] | None,
        weights_access_token: str | None,
        optimizer: models.OptimizerConfig | None,
    ) -> TrainingClientFuture:
        check_tinker_path(path)
        holder = self.holder
        model_seq_id = holder.session.next_model_seq_id()

        async def run() -> TrainingClient:
            try:
                model_id = await load_run_recovering(  # a lost answer: looked up
                    holder,
                    session_id=await holder.session.session_id(),
                    model_seq_id=model_seq_id,
                    path=path,
                    optimizer_state=optimizer_state,
                    base_model=base_model,
                    user_metadata=user_metadata,
                    weights_access_token=weights_access_token,
                    optimizer=optimizer,
                )
                return await self._client_for(model_seq_id, model_id)
            except (UnprocessableEntityError, BadRequestError) as err:
                # Servers that predate creating a run by loading (e.g. skyrl-tx) want a run
                # first: create one like the checkpoint's, then load into it.
                logger.info(
                    "creating from state by loading is not supported here (%s); "
                    "creating a run and loading into it",
                    err,
                )
                return await self._create_then_load(
                    path, optimizer_state, user_metadata, weights_access_token
                )

        return TrainingClientFuture(holder.submit(run(), "create_training_client_from_state"))

    async def _create_then_load(
        self,
        path: str,
        optimizer_state: bool,
        user_metadata: dict[str, str] | None,
        weights_access_token: str | None,
    ) -> TrainingClient:
        holder = self.holder
        try:
            info = await holder.api.weights.get_weights_info(tinker_path=path)
        except NotFoundError as err:
            err.detail = f"no checkpoint at {path}: {err.detail}"
            raise
        model_seq_id = holder.session.next_model_seq_id()
        lora = models.LoraConfig(rank=info.lora_rank or 32)
        client = await self._new_run(model_seq_id, info.base_model, lora, user_metadata)
        load = client.load_state_with_optimizer if optimizer_state else client.load_state
        await load(path, weights_access_token)
        return client

    @public
    def create_training_client_from_state(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: dict[str, str] | None = None,
        weights_access_token: str | None = None,
        optimizer: models.OptimizerConfig | None = None,
    ) -> TrainingClientFuture:
        """A new training run that starts from the weights of a saved ``tinker://`` state.

        The optimizer starts afresh (``create_training_client_from_state_with_optimizer``
        restores it too). On a server that cannot create a run from a state (such as
        skyrl-tx), a run like the checkpoint's is created and the state loaded into it.

        Args:
            path: The state, ``tinker://<run>/weights/<name>`` (from ``save_state``).
            base_model: The base model, when the server cannot tell it from the state.
            user_metadata: Stored with the new run.
            weights_access_token: A token for weights shared by another user.
            optimizer: The optimizer of the new run (default: Adam).

        Returns:
            A future of the ``TrainingClient``.

        Example::

            training = service.create_training_client_from_state(
                "tinker://RUN/weights/step-100"
            ).result()
        """
        return self._from_state(
            path, False, base_model, user_metadata, weights_access_token, optimizer
        )

    @public
    def create_training_client_from_state_with_optimizer(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: dict[str, str] | None = None,
        weights_access_token: str | None = None,
    ) -> TrainingClientFuture:
        """Like ``create_training_client_from_state``, restoring the optimizer state too.

        Args:
            path: The state, ``tinker://<run>/weights/<name>`` (from ``save_state``).
            base_model: The base model, when the server cannot tell it from the state.
            user_metadata: Stored with the new run.
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the ``TrainingClient``, whose next step continues the saved run's.
        """
        return self._from_state(path, True, base_model, user_metadata, weights_access_token, None)

    # -- sampling and REST -------------------------------------------------------------------

    @public
    def create_sampling_client(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
    ) -> SamplingClientFuture:
        """A SamplingClient on saved sampler weights (``model_path``) or on a base model.

        Args:
            model_path: Sampler weights, ``tinker://<run>/sampler_weights/<name>`` (from
                ``TrainingClient.save_weights_for_sampler``).
            base_model: A base model to sample as it is; one of the two is needed.
            retry_config: How sampling requests are throttled and retried (``RetryConfig``).
            record_stability_info: Ask the server to record stability information with each
                sample (sent as ``record_stability_info`` in every sample request).

        Returns:
            A future of the ``SamplingClient``.

        Example::

            sampler = service.create_sampling_client(base_model="Qwen/Qwen3-8B").result()
        """
        if model_path is None and base_model is None:
            raise ValueError("pass model_path (tinker://...) or base_model")
        if model_path is not None:
            check_tinker_path(model_path)
        coro = open_sampling_client(
            self.holder,
            model_path=model_path,
            base_model=base_model,
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )
        return SamplingClientFuture(self.holder.submit(coro, "create_sampling_client"))

    @public
    def create_rest_client(self) -> RestClient:
        """A RestClient sharing this client's connections (no request is made).

        Example::

            runs = service.create_rest_client().list_training_runs(limit=10).result()
        """
        from ._rest_client import RestClient

        return RestClient(self.holder)

    @public
    def get_server_capabilities(self) -> GetServerCapabilitiesResponse:
        """The models the server can train and sample (a blocking call).

        Example::

            names = [m.model_name for m in service.get_server_capabilities().supported_models]
        """
        return self.holder.run(self.holder.features.capabilities(refresh=True))

    @public
    async def get_server_capabilities_async(self) -> GetServerCapabilitiesResponse:
        """The models the server can train and sample, awaited on the caller's loop."""
        return await self.holder.submit(
            self.holder.api.service.get_server_capabilities(), "get_server_capabilities"
        )

    @public
    def get_console_url(self) -> str:
        """Where to look at this server's runs: its base URL."""
        return self.holder.base_url

    @public
    def get_telemetry(self) -> Any:
        """The telemetry of this client's connections (add listeners to it)."""
        return self.holder.api.telemetry

    @property
    def metrics(self) -> Metrics:
        """Counts, errors, retries, latency percentiles and queue-paused time per endpoint, for
        every client this ServiceClient made. ``service.metrics.summary()`` gives them all."""
        return self.holder.metrics

    @public
    def copy_weights(
        self, path: str, *, ttl_seconds: int | None = None, weights_access_token: str | None = None
    ) -> APIFuture[str]:
        """Copy a checkpoint into this client's project; the copy's tinker path.

        Args:
            path: The checkpoint's ``tinker://`` path.
            ttl_seconds: When the copy expires, in seconds from now (``None``: never).
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the copy's ``tinker://`` path. Needs ``ServiceClient(project_id=...)``.
        """
        if not self.holder.settings.project_id:
            raise ValueError("copy_weights needs a project: ServiceClient(project_id=...)")
        return self.create_rest_client().copy_weights(
            path,
            self.holder.settings.project_id,
            ttl_seconds=ttl_seconds,
            weights_access_token=weights_access_token,
        )

    @public
    def create_custom_loss(self, fn: Callable[..., Any], input_ranks: Any) -> APIFuture[LossHandle]:
        """A handle for a loss computed client-side by ``forward_backward_custom``.

        Args:
            fn: The loss function.
            input_ranks: Maps each input name of ``fn`` (after the logprobs) to its rank.

        Returns:
            A future of the ``LossHandle``.
        """
        from ._compat import LossHandle

        ranks = dict(input_ranks) if isinstance(input_ranks, Mapping) else {}
        inputs = [models.CustomLossInput(name=n, rank=r) for n, r in ranks.items()]
        handle = LossHandle(name=getattr(fn, "__name__", "custom_loss"), inputs=inputs, fn=fn)

        async def ready() -> LossHandle:
            return handle

        return self.holder.submit(ready(), "create_custom_loss")

    # -- lifecycle ---------------------------------------------------------------------------

    @public
    def close(self, status: SessionStatus = "success", detail: str | None = None) -> None:
        """Finish the session with ``status`` and stop all background work. Safe to call twice.

        Leaving a ``with ServiceClient()`` block calls it (``"errored"`` when an exception
        leaves the block).

        Args:
            status: How the session ended: ``"success"``, ``"errored"`` or ``"interrupted"``.
            detail: A short note stored with the status (such as the error).
        """
        self.holder.close(status, detail)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.holder.session.telemetry.unhandled_exception(exc)
        if exc is None:
            self.close("success")
        elif isinstance(exc, Exception):
            self.close("errored", f"{type(exc).__name__}: {exc}"[:500])
        else:
            self.close("interrupted", type(exc).__name__)

    # -- deprecated async twins --------------------------------------------------------------

    create_lora_training_client_async = awaited_twin(create_lora_training_client)

    create_training_client_from_state_async = awaited_twin(create_training_client_from_state)

    create_training_client_from_state_with_optimizer_async = awaited_twin(
        create_training_client_from_state_with_optimizer
    )

    create_sampling_client_async = awaited_twin(create_sampling_client)


def service_on(holder: Holder) -> ServiceClient:
    """A ``ServiceClient`` over an existing holder (its session and connections; nothing new
    opened): for SDK code, such as a download, that needs the service's methods on the
    connections a ``RestClient`` already has. Closing it is the holder owner's business.

    Example::

        training = service_on(rest.holder).create_training_client_from_state(path).result()
    """
    service = ServiceClient.__new__(ServiceClient)  # __init__ would make a holder of its own
    service.holder = holder
    return service
