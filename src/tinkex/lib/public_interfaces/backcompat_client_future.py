"""``tinker.lib.public_interfaces.backcompat_client_future`` of the official SDK.

``BackcompatClientFuture``, the base of the futures that give a client, is tinkex's
``ClientFuture`` (a future whose client attributes can be used before it resolves).
"""

from sdkgen.runtime import ClientFuture as BackcompatClientFuture

__all__ = ["BackcompatClientFuture"]
