"""The low-level client: one typed method per endpoint of the Tinker API, generated from
``manifest/tinker.yaml`` (the same methods tinkex's own clients call).

Use it for an endpoint the high-level clients do not wrap, or to control one call's timeout,
retries and headers. Its futures are polled with ``handle.result(timeout=...)``.

Example::

    from tinkex.lowlevel import TinkerAPI, models

    with TinkerAPI(base_url="http://127.0.0.1:8000", api_key="tml-...") as api:
        caps = api.service.get_server_capabilities()
        step = api.training.optim_step(model_id="...", seq_id=3, adam_params=models.AdamParams())
        print(step.result(timeout=120))
"""

from ._generated import API_SPEC, AsyncTinkerAPI, TinkerAPI, endpoints, models

__all__ = ["API_SPEC", "AsyncTinkerAPI", "TinkerAPI", "endpoints", "models"]
