"""``tinker.lib.public_interfaces.api_future`` of the official SDK.

The official SDK has an abstract ``APIFuture`` and ``AwaitableConcurrentFuture``, its
implementation over a ``concurrent.futures.Future``. tinkex's ``APIFuture`` is both: it wraps a
``concurrent.futures.Future`` (``APIFuture(future)``), so both names are that one class.
"""

from sdkgen.runtime import APIFuture, APIFuture as AwaitableConcurrentFuture

__all__ = ["APIFuture", "AwaitableConcurrentFuture"]
