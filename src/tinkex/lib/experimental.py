"""``tinker.lib.experimental`` of the official SDK: the warning experimental features give."""

from .._compat import ExperimentalWarning

__all__ = ["ExperimentalWarning"]
