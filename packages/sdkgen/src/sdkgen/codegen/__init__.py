"""The generator: a manifest (YAML) in, a typed Python package out.

    load (positions kept) -> validate (every problem at once) -> IR -> emit (models, endpoints)

It imports nothing of the packages it generates, and knows nothing of any particular API.
"""

from .errors import ManifestError, Problem
from .generate import check, generate

__all__ = ["ManifestError", "Problem", "check", "generate"]
