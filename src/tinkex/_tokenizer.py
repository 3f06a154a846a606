"""Loading a model's tokenizer with transformers (an optional extra)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from .types._tensor import require

__all__ = ["load_tokenizer"]


@lru_cache(maxsize=16)
def load_tokenizer(model_name: str, tokenizer_id: str | None = None) -> Any:
    """The tokenizer for ``model_name`` (or the server-given ``tokenizer_id``).

    A local directory works as well as a hub name; offline use needs the files cached locally.
    The local backend's model alias (``tiny-qwen3``, see :mod:`tinkex.local`) loads the tiny
    model's tokenizer from its cache.
    """
    transformers = require("transformers")
    name = (tokenizer_id or model_name).split(":", 1)[0]
    if not name:
        raise ValueError("the server named no model or tokenizer for this run")
    return transformers.AutoTokenizer.from_pretrained(_local_alias(name) or name, use_fast=True)


def _local_alias(name: str) -> str | None:
    """The tiny model's directory for the local backend's alias (when built), else None."""
    from .local import alias_model_dir

    if os.path.isdir(name):  # a directory of that name here is what the user means
        return None
    path = alias_model_dir(name)
    return str(path) if path is not None else None
