"""A fake Tinker server for tests (real HTTP on 127.0.0.1, state, faults on cue).

    from tests.fake_tinker import FakeTinker, faults

    with FakeTinker(dedupe=False, try_agains=1) as server:
        server.inject("optim_step", faults.drop_after())
        ...  # point a client at server.base_url
        assert server.optim_steps[model_id] == 2

Fixtures: ``fake_tinker`` (a factory: ``server = fake_tinker(dedupe=False)`` returns a
started server, stopped at teardown) and ``fake_tinker_server`` (one started default server).
To use them from another test directory, import them into that directory's ``conftest.py``::

    from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401

See ``server.py`` for the fault API, the dedupe modes and the counters.
"""

from __future__ import annotations

from . import faults
from .faults import (
    Fault,
    bad_schema,
    delay,
    drop_after,
    drop_before,
    fail,
    malformed_json,
    status,
    truncate_after,
)
from .server import FakeTinker, RecordedRequest, Reply

__all__ = [
    "FakeTinker",
    "Fault",
    "RecordedRequest",
    "Reply",
    "bad_schema",
    "delay",
    "drop_after",
    "drop_before",
    "fail",
    "faults",
    "malformed_json",
    "status",
    "truncate_after",
]
