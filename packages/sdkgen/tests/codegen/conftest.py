"""Helpers for generator tests: a minimal valid manifest to break in one place at a time."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

BASE = """\
manifest_version: 1
api:
  name: mini
  title: Mini
  client_class: MiniAPI
  version: "1"
  base_url: https://mini.example.test
  retry_policies:
    default: {max_retries: 1}
  pools:
    default: {max_connections: 4}
resources:
  items:
    endpoints:
      get_item:
        method: GET
        path: /items/{item_id}
        path_params: {item_id: {schema: {type: string}}}
        response: Item
      create_item:
        method: POST
        path: /items
        request: NewItem
        response: Item
schemas:
  NewItem:
    type: object
    properties:
      name: {type: string}
      size: {type: integer, default: 1}
    required: [name]
  Item:
    type: object
    properties:
      id: {type: string}
      name: {type: string}
    required: [id, name]
"""


@pytest.fixture
def write_manifest(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "manifest.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write
