"""Fixtures of the fake server's own tests."""

from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401
