"""What a server says of itself: its feature flags (``/client/config``, asked once), the
settings it may change while the client runs (``/client/dynamic_config``, refreshed in the
background) and its models (capabilities). The clients read them; only this object asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sdkgen.runtime import (
    BackgroundLoop,
    HTTPBackend,
    NotFoundError,
    SDKError,
    without_call_headers,
)

from ._generated import AsyncTinkerAPI, models

__all__ = ["DYNAMIC_CONFIG_MIN_REFRESH", "ServerFeatures"]

logger = logging.getLogger("tinkex")

# The dynamic config is refreshed every ``refresh_interval_sec`` the server asks for, but not
# more often than this.
DYNAMIC_CONFIG_MIN_REFRESH = 10.0


class ServerFeatures:
    """The server's flags, settings and models, fetched on first use and kept.

    Args:
        api: Gives the current low-level client (a new one after ``fork()``).
        version: The protocol version tinkex reports (``sdk_version``).
        base_url: The server's address, for log lines.
        loop: The SDK's loop, which runs the background refresh.
        http_backend: The client's choice; ``"auto"`` follows the server's
            ``use_pyqwest_transport`` flag.

    Example::

        flags = await features.config()
        if flags.sample_streaming: ...
    """

    def __init__(
        self,
        api: Callable[[], AsyncTinkerAPI],
        *,
        version: str,
        base_url: str,
        loop: BackgroundLoop,
        http_backend: HTTPBackend,
    ) -> None:
        self._api = api
        self._version = version
        self._base_url = base_url
        self._loop = loop
        self._http_backend = http_backend
        self._config: models.ClientConfigResponse | None = None
        self._dynamic: models.ClientDynamicConfigResponse | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._capabilities: models.GetServerCapabilitiesResponse | None = None

    @property
    def known_config(self) -> models.ClientConfigResponse | None:
        """The feature flags if already fetched (``config()``), else None."""
        return self._config

    @property
    def known_dynamic_config(self) -> models.ClientDynamicConfigResponse | None:
        """The last dynamic config fetched (``dynamic_config()``), else None."""
        return self._dynamic

    async def config(self) -> models.ClientConfigResponse:
        """The server's feature flags; servers without the endpoint (404) get the defaults."""
        if self._config is None:
            api = self._api()
            try:
                with without_call_headers():  # the client's own set-up, not the caller's call
                    config = await api.service.get_client_config(sdk_version=self._version)
            except NotFoundError:
                logger.debug("%s has no client config endpoint; using defaults", self._base_url)
                config = models.ClientConfigResponse()
                if api.codecs.mode == "auto":
                    # Servers without it (skyrl-tx, older self-hosted ones) predate protobuf.
                    api.codecs.mode = "json"
            if self._http_backend == "auto":
                backend: HTTPBackend = "auto" if config.use_pyqwest_transport else "httpx"
                api.use_http_backend(backend)
            self._config = config
        return self._config

    async def dynamic_config(self) -> models.ClientDynamicConfigResponse:
        """The settings a server may change while the client runs (``sample_cancel_enabled``,
        ...): fetched once, then refreshed in the background every ``refresh_interval_sec``
        (at least 10 s), keeping the last good answer when a refresh fails. A server without
        the endpoint (404) gets the defaults, and is not asked again."""
        if self._dynamic is None:
            with without_call_headers():  # set-up, and the refresh task must not inherit a call
                config, found = await self._fetch_dynamic(None)
                if self._dynamic is None:
                    self._dynamic = config
                    if found and self._loop.in_loop_thread() and self._refresh is None:
                        self._refresh = asyncio.get_running_loop().create_task(
                            self._refresh_dynamic(), name="tinkex-dynamic-config"
                        )
        return self._dynamic

    async def capabilities(self, refresh: bool = False) -> models.GetServerCapabilitiesResponse:
        """The server's supported models (cached after the first answer)."""
        if self._capabilities is None or refresh:
            self._capabilities = await self._api().service.get_server_capabilities()
        return self._capabilities

    def forget_refresh(self) -> None:
        """In a child of fork(): the parent's refresh task is not this process's."""
        self._refresh = None

    async def aclose(self) -> None:
        """Stop the background refresh (on the SDK's loop)."""
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def _fetch_dynamic(
        self, last_good: models.ClientDynamicConfigResponse | None
    ) -> tuple[models.ClientDynamicConfigResponse, bool]:
        """The server's dynamic config, and whether it has one (False after a first 404; a
        404 later, say while the server is redeployed, keeps the last good answer)."""
        try:
            return await self._api().service.get_dynamic_config(sdk_version=self._version), True
        except NotFoundError:
            if last_good is not None:
                return last_good, True
            logger.debug("%s has no dynamic config endpoint; using defaults", self._base_url)
            return models.ClientDynamicConfigResponse(), False
        except SDKError as err:
            if last_good is None:
                logger.warning(
                    "could not fetch the dynamic config from %s (%s); using defaults until a "
                    "refresh succeeds",
                    self._base_url,
                    err,
                )
            return last_good or models.ClientDynamicConfigResponse(), True

    async def _refresh_dynamic(self) -> None:
        while True:
            current = self._dynamic or models.ClientDynamicConfigResponse()
            await asyncio.sleep(max(current.refresh_interval_sec, DYNAMIC_CONFIG_MIN_REFRESH))
            config, found = await self._fetch_dynamic(current)
            self._dynamic = config
            if not found:
                return
