"""sdkgen: typed Python SDKs from a declarative YAML manifest, and the small runtime they run on.

Two parts, installable without any SDK made with them:

- ``sdkgen.codegen``, the generator (``pip install 'sdkgen[codegen]'``):
  ``python -m sdkgen generate MANIFEST --out DIR`` writes a typed package from a manifest.
- ``sdkgen.runtime``, what a generated package imports at run time: configuration, transports,
  retries and deadlines, futures, streams, codecs, pagination, telemetry and the error tree.

Example::

    python -m sdkgen generate notes.yaml --out src/notes_sdk/_generated
"""

__version__ = "0.1.0"
