"""The generic runtime tinkex's generated code runs on, under its tinkex name.

It is the ``sdkgen`` kit's runtime (``packages/sdkgen`` in this repository): the same objects,
so ``tinkex.runtime.APIError is sdkgen.runtime.APIError``.

Example::

    from tinkex.runtime import RequestOptions
"""

from sdkgen.runtime import *  # noqa: F403
from sdkgen.runtime import __all__ as __all__
