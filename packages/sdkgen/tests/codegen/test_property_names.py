"""Issue 11, point 3: name aliases for schema properties. A property's key is its wire name;
``x-py-name`` in its schema is the model attribute and the method argument. The model keeps the
wire name as its alias; a generated SDK sends and reads the wire name in JSON, form and multipart
bodies, responses, pages, stream events and future results. A wire name that cannot be an
attribute without ``x-py-name``, an unusable or clashing ``x-py-name``, and one out of place
are refused with file:line."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError
from sdkgen.codegen.property_names import suggest_python_name
from tests.runtime._multipart_support import split_parts
from tests.sibling.conftest import import_from

MANIFEST = """\
manifest_version: 1
api:
  name: tagged
  title: Tagged
  client_class: TaggedAPI
  version: "1"
  base_url: https://tagged.example.test
  retry_policies:
    default: {max_retries: 0}
  futures:
    poll_endpoint: poll_job
    request_id_field: "@id"
    pending: {field: "@state", equals: running}
    failed: {field: error}
    poll_interval: 0.01
resources:
  things:
    endpoints:
      create_thing:
        method: POST
        path: /things
        request: NewThing
        response: Thing
      create_thing_form:
        method: POST
        path: /things/form
        body: form
        request: NewThing
        response: Thing
      upload_thing:
        method: POST
        path: /things/upload
        body: multipart
        request: Upload
        response: Thing
      list_things:
        method: GET
        path: /things
        query: {after: {schema: {type: string}}}
        response: ThingPage
        paginate: {style: cursor, items: "@items", cursor: after, next: "meta.@next"}
      watch_things:
        method: GET
        path: /things/events
        stream: {format: sse, event: Thing}
      start_job:
        method: POST
        path: /jobs
        request: NewThing
        response: JobHandle
        future: {result: Thing}
      poll_job:
        method: POST
        path: /jobs/poll
        request: JobPoll
        response: JobStatus
schemas:
  NewThing:
    type: object
    properties:
      "@type": {type: string, x-py-name: at_type}
      if-version: {type: integer, x-py-name: if_version}
      class: {type: string, x-py-name: klass}
      name: {type: string}
    required: ["@type", name]
  Thing:
    type: object
    properties:
      "@type": {type: string, x-py-name: kind}
      name: {type: string}
    required: ["@type"]
  Upload:
    type: object
    properties:
      file: {type: string, format: binary}
      "@type": {type: string, x-py-name: at_type}
    required: [file]
  Meta:
    type: object
    properties:
      "@next": {anyOf: [{type: string}, {type: "null"}], x-py-name: next_cursor}
  ThingPage:
    type: object
    properties:
      "@items": {type: array, items: {$ref: '#/schemas/Thing'}, x-py-name: items}
      meta: {$ref: '#/schemas/Meta'}
    required: ["@items"]
  JobHandle:
    type: object
    properties:
      "@id": {type: string, x-py-name: job_id}
    required: ["@id"]
  JobPoll:
    type: object
    properties:
      "@id": {type: string, x-py-name: job_id}
    required: ["@id"]
  JobStatus:
    type: object
    properties:
      "@state": {type: string, x-py-name: state}
      error: {type: string}
"""


@pytest.fixture(scope="module")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tagged")
    manifest = root / "tagged.yaml"
    manifest.write_text(MANIFEST)
    generate(manifest, root / "tagged_sdk")
    return root / "tagged_sdk"


@pytest.fixture
def sdk(sdk_dir: Path) -> Iterator[ModuleType]:
    importer = import_from(sdk_dir)
    try:
        yield next(importer)
    finally:
        importer.close()


# -- what is generated -------------------------------------------------------------------------


def _class_source(models: str, name: str) -> str:
    return models.split(f"\nclass {name}(")[1].split("\nclass ")[0]


def test_the_model_has_the_python_name_and_the_wire_name_as_its_alias(sdk_dir: Path) -> None:
    models = (sdk_dir / "models.py").read_text()
    new = _class_source(models, "NewThing")
    assert 'at_type: Annotated[str, Field(alias="@type")]' in new
    assert 'if_version: Annotated[int | None, Field(alias="if-version")] = None' in new
    assert 'klass: Annotated[str | None, Field(alias="class")] = None' in new
    assert "    name: str\n" in new
    assert 'kind: Annotated[str, Field(alias="@type")]' in _class_source(models, "Thing")
    # validated by either name, written by the wire's (the base every model has)
    for setting in ("validate_by_alias=True", "validate_by_name=True", "serialize_by_alias=True"):
        assert setting in models
    tree = ast.parse((sdk_dir / "things.py").read_text())
    create = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "create_thing"
    )
    assert [a.arg for a in create.args.kwonlyargs][:4] == ["at_type", "name", "if_version", "klass"]
    source = (sdk_dir / "things.py").read_text()
    assert 'wire={"at_type": "@type", "if_version": "if-version", "klass": "class"}' in source


def test_models_validate_by_either_name_and_dump_the_wire_name(sdk: ModuleType) -> None:
    by_alias = sdk.models.NewThing.model_validate({"@type": "t", "name": "n", "class": "c"})
    by_name = sdk.models.NewThing(at_type="t", name="n", klass="c")
    assert by_alias == by_name
    assert by_name.at_type == "t"
    assert by_name.model_dump(exclude_none=True) == {"@type": "t", "class": "c", "name": "n"}
    assert json.loads(by_name.model_dump_json(exclude_none=True))["@type"] == "t"
    with pytest.raises(ValidationError):  # a request model still refuses unknown keys
        sdk.models.NewThing.model_validate({"@type": "t", "name": "n", "typo": 1})


def test_suggested_names() -> None:
    assert suggest_python_name("@type") == "at_type"
    assert suggest_python_name("if-version") == "if_version"
    assert suggest_python_name("2fa") == "field_2fa"
    assert suggest_python_name("class") == "class_"
    assert suggest_python_name("model_config") == "model_config_"
    assert suggest_python_name("model_dump_x") == "field_model_dump_x"
    assert suggest_python_name("model_id") == "model_id"
    assert suggest_python_name("x-Request-ID") == "x_request_id"
    assert suggest_python_name("@type", {"at_type"}) == "at_type_2"


# -- on the wire -------------------------------------------------------------------------------


def test_json_and_form_bodies_and_replies_use_the_wire_names(
    sdk: ModuleType, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"@type": "thing", "name": "a"})
    httpx_mock.add_response(json={"@type": "thing", "name": "c"})
    httpx_mock.add_response(json={"@type": "thing", "name": "b"})
    with sdk.TaggedAPI(api_key="k") as client:
        thing = client.things.create_thing(at_type="thing", name="a", if_version=3)
        assert (thing.kind, thing.name) == ("thing", "a")
        prebuilt = sdk.models.NewThing(at_type="pre", name="c", klass="k")
        assert client.things.create_thing(request=prebuilt).name == "c"
        form = client.things.create_thing_form(
            at_type="thing", name="b", klass="x", extra_body={"@extra": "1"}
        )
        assert form.kind == "thing"
        with pytest.raises(ValidationError):
            client.things.create_thing(at_type=1, name="c")  # type: ignore[arg-type]
    json_request, prebuilt_request, form_request = httpx_mock.get_requests()
    assert json.loads(json_request.content) == {"@type": "thing", "if-version": 3, "name": "a"}
    assert json.loads(prebuilt_request.content) == {"@type": "pre", "class": "k", "name": "c"}
    assert parse_qs(form_request.content.decode()) == {
        "@type": ["thing"],
        "class": ["x"],
        "name": ["b"],
        "@extra": ["1"],
    }


async def test_the_async_client_sends_the_wire_names(
    sdk: ModuleType, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"@type": "thing"})
    async with sdk.AsyncTaggedAPI(api_key="k") as client:
        thing = await client.things.create_thing(at_type="thing", name="a")
    assert thing.kind == "thing"
    assert json.loads(httpx_mock.get_requests()[0].content) == {"@type": "thing", "name": "a"}


def test_a_multipart_body_names_its_parts_by_wire_name(
    sdk: ModuleType, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"@type": "upload"})
    with sdk.TaggedAPI(api_key="k") as client:
        assert client.things.upload_thing(file=b"data", at_type="csv").kind == "upload"
    (request,) = httpx_mock.get_requests()
    parts = split_parts(request.headers["Content-Type"], request.read())
    assert [(p.name, p.data) for p in parts] == [("file", b"data"), ("@type", b"csv")]


def test_pages_follow_a_cursor_at_a_wire_name_path(sdk: ModuleType, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="https://tagged.example.test/things",
        json={"@items": [{"@type": "a"}], "meta": {"@next": "c2"}},
    )
    httpx_mock.add_response(
        url="https://tagged.example.test/things?after=c2",
        json={"@items": [{"@type": "b"}], "meta": {"@next": None}},
    )
    with sdk.TaggedAPI(api_key="k") as client:
        assert [t.kind for t in client.things.iter_list_things()] == ["a", "b"]


def test_stream_events_are_read_by_wire_name(sdk: ModuleType, httpx_mock: HTTPXMock) -> None:
    frames = [b'data: {"@type": "a", "name": "x"}\n\n', b'data: {"@type": "b"}\n\n']
    httpx_mock.add_response(
        headers={"content-type": "text/event-stream"}, stream=IteratorStream(frames)
    )
    with sdk.TaggedAPI(api_key="k") as client, client.things.watch_things() as stream:
        assert [(e.kind, e.name) for e in stream] == [("a", "x"), ("b", None)]


def test_a_future_polls_with_the_wire_id_and_reads_its_result(
    sdk: ModuleType, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url="https://tagged.example.test/jobs", json={"@id": "j1"})
    httpx_mock.add_response(url="https://tagged.example.test/jobs/poll", json={"@state": "running"})
    httpx_mock.add_response(
        url="https://tagged.example.test/jobs/poll", json={"@type": "done", "name": "r"}
    )
    with sdk.TaggedAPI(api_key="k") as client:
        handle = client.things.start_job(at_type="job", name="n")
        assert handle.request_id == "j1"
        result = handle.result(timeout=30)
    assert (result.kind, result.name) == ("done", "r")
    submit, *polls = httpx_mock.get_requests()
    assert json.loads(submit.content) == {"@type": "job", "name": "n"}
    assert [json.loads(p.content) for p in polls] == [{"@id": "j1"}, {"@id": "j1"}]


# -- refused, with file:line -------------------------------------------------------------------


def _refused(tmp_path: Path, text: str) -> str:
    manifest = tmp_path / "tagged.yaml"
    manifest.write_text(textwrap.dedent(text))
    with pytest.raises(ManifestError) as caught:
        generate(manifest, tmp_path / "out")
    return str(caught.value)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "where", "message"),
    [
        (
            '"@type": {type: string, x-py-name: at_type}',
            '"@type": {type: string}',
            '"@type": {type: string}',
            r"schemas\.NewThing\.properties\.@type",
            "property name `@type` is not a Python identifier: keep it as the wire name and "
            "add `x-py-name: at_type` to its schema",
        ),
        (
            "class: {type: string, x-py-name: klass}",
            "class: {type: string, x-py-name: class}",
            "x-py-name: class}",
            r"schemas\.NewThing\.properties\.class\.x-py-name",
            "`x-py-name: class` is a Python keyword: pick another",
        ),
        (
            "class: {type: string, x-py-name: klass}",
            "class: {type: string, x-py-name: model_dump}",
            "x-py-name: model_dump}",
            r"schemas\.NewThing\.properties\.class\.x-py-name",
            "`x-py-name: model_dump` is reserved by pydantic or the generated models module",
        ),
        (
            "class: {type: string, x-py-name: klass}",
            "class: {type: string, x-py-name: Field}",
            "x-py-name: Field}",
            r"schemas\.NewThing\.properties\.class\.x-py-name",
            "`x-py-name: Field` is reserved",
        ),
        (
            "class: {type: string, x-py-name: klass}",
            "class: {type: string, x-py-name: 'a-b'}",
            "x-py-name: 'a-b'}",
            r"schemas\.NewThing\.properties\.class\.x-py-name",
            "`x-py-name: a-b` is not a Python identifier starting with a letter",
        ),
        (
            "class: {type: string, x-py-name: klass}",
            "class: {type: string, x-py-name: name}",
            "x-py-name: name}",
            r"schemas\.NewThing\.properties\.class\.x-py-name",
            "Python name `name` is also property `name`'s in schema `NewThing`",
        ),
        (
            "if-version: {type: integer, x-py-name: if_version}",
            "if-version: {type: integer, x-py-name: at_type}",
            "if-version: {type: integer, x-py-name: at_type}",
            r"schemas\.NewThing\.properties\.if-version\.x-py-name",
            "Python name `at_type` is also property `@type`'s",
        ),
        (
            '      "@id": {type: string, x-py-name: job_id}\n    required: ["@id"]\n  JobPoll',
            '      "@id": {type: string, x-py-name: job_id}\n      inner: {type: object, '
            'properties: {"@x": {type: string}}}\n    required: ["@id"]\n  JobPoll',
            'properties: {"@x"',
            r"schemas\.JobHandle\.properties\.inner\.properties\.@x",
            "and move this object into a named schema",
        ),
        (
            '      "@id": {type: string, x-py-name: job_id}\n    required: ["@id"]\n  JobPoll',
            '      "@id": {type: string, x-py-name: job_id}\n      inner: {type: object, '
            'properties: {"@x": {type: string, x-py-name: x}}}\n    required: ["@id"]\n  JobPoll',
            'properties: {"@x"',
            r"schemas\.JobHandle\.properties\.inner\.properties\.@x\.x-py-name",
            "`x-py-name` names a property of a named object schema",
        ),
        (
            "  Thing:\n    type: object\n",
            "  Thing:\n    type: object\n    x-py-name: thing\n",
            "    x-py-name: thing",
            r"schemas\.Thing\.x-py-name",
            "`x-py-name` names a property of a named object schema",
        ),
        (
            "        path: /things\n        request: NewThing\n",
            "        path: /things\n        request: NewThing\n"
            "        query: {klass: {schema: {type: string}}}\n",
            "request: NewThing",
            r"create_thing\.request",
            "body field `klass` clashes with a parameter of the same name",
        ),
        (
            "  JobStatus:\n",
            "  Tagged:\n    oneOf: [{$ref: '#/schemas/TagA'}]\n    discriminator: {propertyName: tag}\n"
            "  TagA:\n    type: object\n    properties:\n      tag: {const: a, x-py-name: kind}\n"
            "  JobStatus:\n",
            "discriminator: {propertyName: tag}",
            r"schemas\.Tagged\.discriminator",
            "the discriminator property `tag` has an `x-py-name` in a member",
        ),
    ],
    ids=[
        "missing",
        "keyword",
        "pydantic",
        "module-name",
        "not-identifier",
        "clash-wire",
        "clash-explicit",
        "nested-missing",
        "nested-explicit",
        "schema-level",
        "clash-parameter",
        "discriminator-tag",
    ],
)
def test_unusable_names_are_refused_with_file_and_line(
    tmp_path: Path, old: str, new: str, needle: str, where: str, message: str
) -> None:
    assert old in MANIFEST
    text = MANIFEST.replace(old, new, 1)
    found = _refused(tmp_path, text)
    assert message in found, found
    line = _line(text, needle)
    assert re.search(rf"tagged\.yaml:{line}:\d+: [\w.\-@]*{where}", found), found
