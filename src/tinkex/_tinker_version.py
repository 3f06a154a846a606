"""``tinker._version`` of the official SDK: tinkex's title and version.

After ``install_as_tinker()``, ``from tinker._version import __version__`` gives tinkex's version
(``tinkex._version`` is tinkex's own helper module, hence this one).
"""

from __future__ import annotations

from ._version import sdk_version

__title__ = "tinkex"
__version__ = sdk_version()
