"""The client fixtures (fake Tinker server, ServiceClient, TrainingClient) of tests/clients."""

from tests.clients.conftest import (  # noqa: F401
    _clean_env,
    _no_thread_left_behind,
    _reset_sample_backoff,
    make_service,
    server,
    service,
    training,
)
from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401
