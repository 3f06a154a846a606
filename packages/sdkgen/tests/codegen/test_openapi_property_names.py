"""The OpenAPI importer and property names: a property whose name cannot be a model attribute
(``@type``, ``if-version``, ``class``) is kept with a snake_case ``x-py-name`` written into the
manifest; one in an inline object (where the manifest has no ``x-py-name``) is left out with a
located note; an overlay can rename it; the bootstrap manifest generates an SDK that sends the
wire names."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

from pytest_httpx import HTTPXMock
from sdkgen.codegen.__main__ import main
from sdkgen.codegen.generate import generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.openapi.operations import translate_document
from sdkgen.codegen.openapi.overlay import load_manifest
from sdkgen.codegen.openapi.source import read_document
from sdkgen.codegen.validate import validate
from tests.sibling.conftest import import_from

DOC = """\
openapi: 3.1.0
info: {title: Tags, version: "1"}
servers: [{url: "https://tags.example.test"}]
paths:
  /tags:
    post:
      operationId: createTag
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: "#/components/schemas/Tag"}}
      responses:
        "200":
          description: the stored tag
          content:
            application/json: {schema: {$ref: "#/components/schemas/Tag"}}
components:
  schemas:
    Tag:
      type: object
      required: ["@type", name]
      properties:
        "@type": {type: string}
        at_type: {type: string}
        if-version: {type: integer}
        class: {type: string}
        name: {type: string}
        Tag-Id: {type: string, x-py-name: tag_id}
        meta:
          type: object
          required: ["@x"]
          properties:
            "@x": {type: string}
            class: {type: string}
            plain: {type: string}
    Labelled:
      allOf:
        - $ref: "#/components/schemas/Tag"
        - type: object
          properties:
            "2fa": {type: boolean}
"""


def _doc(tmp_path: Path) -> Path:
    path = tmp_path / "tags.yaml"
    path.write_text(DOC)
    return path


def test_unusable_names_get_a_python_name_and_inline_ones_a_note(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    translation = translate_document(read_document(doc))
    schemas = translation.loaded.data["schemas"]
    tag = schemas["Tag"]["properties"]
    assert tag["@type"] == {"type": "string", "x-py-name": "at_type_2"}  # `at_type` is taken
    assert "x-py-name" not in tag["at_type"]
    assert tag["if-version"]["x-py-name"] == "if_version"
    assert tag["class"]["x-py-name"] == "class_"
    assert tag["Tag-Id"] == {"type": "string", "x-py-name": "tag_id"}  # the document's own
    assert schemas["Tag"]["required"] == ["@type", "name"]
    meta = tag["meta"]
    assert set(meta["properties"]) == {"class", "plain"}  # `class` keeps its generated name
    assert "x-py-name" not in meta["properties"]["class"]
    assert "required" not in meta
    labelled = schemas["Labelled"]["properties"]  # allOf merged: the names come along
    assert labelled["@type"]["x-py-name"] == "at_type_2"
    assert labelled["2fa"]["x-py-name"] == "field_2fa"
    notes = "\n".join(translation.notes)
    line = DOC.splitlines().index('            "@x": {type: string}') + 1
    assert f"{doc}:{line}:" in notes
    assert "property `@x` of an inline object in schema `Tag` left out" in notes
    assert "@type" not in notes
    # Labelled's copy of `meta` (its allOf) is noted at the same place
    assert notes.count(f"{doc}:{line}:") == 2, notes


def test_the_bootstrap_manifest_shows_the_names_and_its_sdk_sends_the_wire_names(
    tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    out = tmp_path / "tags.manifest.yaml"
    assert main(["import", str(_doc(tmp_path)), "--out", str(out)]) == 0
    text = out.read_text()
    assert "x-py-name: at_type_2" in text
    assert "x-py-name: if_version" in text
    validate(load_yaml(out))
    generate(out, tmp_path / "tags_sdk")
    importer = import_from(tmp_path / "tags_sdk")
    sdk = next(importer)
    try:
        httpx_mock.add_response(json={"@type": "t", "name": "n", "class": "c"})
        with sdk.Tags(base_url="https://tags.example.test") as client:
            tag = client.default.create_tag(at_type_2="t", name="n", if_version=2, class_="c")
        assert (tag.at_type_2, tag.class_) == ("t", "c")
        body = json.loads(httpx_mock.get_requests()[0].content)
        assert body == {"@type": "t", "name": "n", "if-version": 2, "class": "c"}
    finally:
        importer.close()


def test_an_overlay_renames_a_property(tmp_path: Path) -> None:
    _doc(tmp_path)
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        textwrap.dedent(
            """\
            manifest_version: 1
            openapi: tags.yaml
            schema_overrides:
              Tag:
                properties:
                  "@type": {type: string, x-py-name: kind}
            """
        )
    )
    manifest = validate(load_manifest(overlay))
    assert manifest.schemas["Tag"]["properties"]["@type"]["x-py-name"] == "kind"
    out = tmp_path / "tags_overlay_sdk"
    generate(overlay, out)
    assert 'kind: Annotated[str, Field(alias="@type")]' in (out / "models.py").read_text()
    shutil.rmtree(out)
