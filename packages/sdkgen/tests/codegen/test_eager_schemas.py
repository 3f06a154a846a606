"""`eager_schemas`: the listed schemas and those they use are defined at import; the others in a
module imported on first use, reachable as `models.X` (attribute, `from` import, unpickling)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import generate

from .test_validation import problems_of

Write = Callable[[str], Path]

MANIFEST = """\
manifest_version: 1
api:
  name: split
  title: Split
  client_class: SplitAPI
  version: "1"
  base_url: https://split.example.test
  retry_policies:
    default: {max_retries: 0}
resources:
  things:
    endpoints:
      get_thing:
        method: GET
        path: /things/{thing_id}
        path_params: {thing_id: {schema: {type: string}}}
        response: Thing
      get_report:
        method: GET
        path: /report
        response: Report
eager_schemas: [Thing]
schemas:
  Level: {enum: [low, high]}
  Part:
    type: object
    properties: {name: {type: string}, level: {$ref: '#/schemas/Level'}}
    required: [name]
  Thing:
    type: object
    properties: {id: {type: string}, parts: {type: array, items: {$ref: '#/schemas/Part'}}}
    required: [id]
  Node:
    type: object
    properties:
      part: {$ref: '#/schemas/Part'}
      children: {type: array, items: {$ref: '#/schemas/Node'}}
  Report:
    type: object
    properties: {nodes: {type: array, items: {$ref: '#/schemas/Node'}}}
  Entry: {oneOf: [{$ref: '#/schemas/Thing'}, {$ref: '#/schemas/Report'}]}
"""

SCRIPT = r"""
import json, pickle, sys
import split_sdk
from split_sdk import models
out = {"lazy_at_import": "split_sdk._models_lazy" in sys.modules}
thing = models.Thing(id="t", parts=[{"name": "p", "level": "low"}])
out["lazy_after_eager_use"] = "split_sdk._models_lazy" in sys.modules
from split_sdk.models import Report
report = Report.model_validate({"nodes": [{"part": {"name": "p"}, "children": [{}]}]})
out["lazy_after_first_use"] = "split_sdk._models_lazy" in sys.modules
out["module"] = Report.__module__
out["same"] = models.Node is sys.modules["split_sdk._models_lazy"].Node
out["roundtrip"] = pickle.loads(pickle.dumps(report)) == report
out["child_part"] = report.nodes[0].children[0].part
try:
    models.Nope
except AttributeError as err:
    out["missing"] = str(err)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eager")
    (root / "split.yaml").write_text(MANIFEST)
    generate(root / "split.yaml", root / "split_sdk")
    return root


def test_only_the_listed_schemas_and_what_they_use_are_defined_at_import(root: Path) -> None:
    models = (root / "split_sdk" / "models.py").read_text()
    lazy = (root / "split_sdk" / "_models_lazy.py").read_text()
    for name in ("class Thing(", "class Part(", "Level: TypeAlias"):
        assert name in models
        assert name not in lazy
    for name in ("class Node(", "class Report(", "Entry: TypeAlias"):
        assert name in lazy
        assert name not in models
    assert "from ._models_lazy import" in models  # what type checkers see


def test_lazy_schemas_are_defined_on_first_use(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["lazy_at_import"] is False
    assert out["lazy_after_eager_use"] is False
    assert out["lazy_after_first_use"] is True
    assert out["module"] == "split_sdk._models_lazy"
    assert out["same"] is True
    assert out["roundtrip"] is True
    assert out["child_part"] is None
    assert "Nope" in out["missing"]


def test_without_the_list_every_schema_is_in_models(tmp_path: Path) -> None:
    manifest = tmp_path / "whole.yaml"
    manifest.write_text(MANIFEST.replace("eager_schemas: [Thing]\n", ""))
    generate(manifest, tmp_path / "whole_sdk")
    assert not (tmp_path / "whole_sdk" / "_models_lazy.py").exists()
    assert "class Report(" in (tmp_path / "whole_sdk" / "models.py").read_text()


def test_an_unknown_eager_schema_is_refused(write_manifest: Write) -> None:
    path = write_manifest(MANIFEST.replace("[Thing]", "[Thing, Ghost]"))
    assert any("unknown schema `Ghost`" in p for p in problems_of(path))
