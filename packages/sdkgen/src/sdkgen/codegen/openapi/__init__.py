"""OpenAPI 3.0 / 3.1 documents in: imported as a manifest (``python -m sdkgen import``), or
merged with an overlay manifest that names them (``openapi: file``).

    read (JSON or YAML, positions kept) -> translate (operations, schemas, security)
    -> manifest data whose every key knows its file and line -> the usual validate and emit
"""

from .bootstrap import bootstrap
from .overlay import load_manifest

__all__ = ["bootstrap", "load_manifest"]
