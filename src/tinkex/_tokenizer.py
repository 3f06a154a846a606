"""Loading a model's tokenizer with transformers (an optional extra)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .types._tensor import require

__all__ = ["load_tokenizer"]


@lru_cache(maxsize=16)
def load_tokenizer(model_name: str, tokenizer_id: str | None = None) -> Any:
    """The tokenizer for ``model_name`` (or the server-given ``tokenizer_id``).

    A local directory works as well as a hub name; offline use needs the files cached locally.
    """
    transformers = require("transformers")
    name = (tokenizer_id or model_name).split(":", 1)[0]
    if not name:
        raise ValueError("the server named no model or tokenizer for this run")
    return transformers.AutoTokenizer.from_pretrained(name, use_fast=True)
