"""The official SDK's ``tinker.lib`` paths, for code that imports from them.

Code written for the official ``tinker`` SDK imports from module paths as well as from the top
level (``from tinker.lib.public_interfaces import APIFuture``,
``from tinker.types.tensor_data import TensorData``). tinkex has those paths as real modules
(``tinkex.lib.public_interfaces``, ``tinkex.types.tensor_data``, ...), each a few lines that import
tinkex's own objects: ``tinkex.types.tensor_data.TensorData is tinkex.TensorData``.

Real modules rather than an import hook that makes them up on demand: type checkers and IDEs
resolve them, ``import *``, ``pydoc`` and packaging tools see them, and each costs nothing until
imported. Only the *name* ``tinker`` needs a hook (see ``tinkex._tinker_alias``).

Only paths with names users import are here; docs/official-layout.md lists what is left out and
why (internals of the official HTTP layer, its telemetry, its CLI).
"""
