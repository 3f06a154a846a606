"""Open enums (issue 11, point 3): in what the server sends, an enum value this SDK does not know
is kept, not fatal; requests stay strict; enum types are referenced by name."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .test_validation import line_of, problems_of

Write = Callable[[str], Path]

MANIFEST = """\
manifest_version: 1
api:
  name: enums
  title: Enums
  client_class: EnumsAPI
  version: "1"
  base_url: https://enums.example.test
  retry_policies:
    default: {max_retries: 0}
resources:
  things:
    endpoints:
      create_thing:
        method: POST
        path: /things
        request: NewThing
        response: Thing
      find_things:
        method: GET
        path: /things
        query: {level: {schema: {$ref: '#/schemas/Level'}}}
        response: Thing
schemas:
  Level: {enum: [info, warn], description: How loud.}
  Rank: {enum: [0, 1]}
  Kind: {enum: [a, b], open: false}
  Model: {enum: [small, large], open: true}
  NewThing:
    type: object
    properties:
      level: {$ref: '#/schemas/Level', default: info}
      mode: {enum: [fast, slow]}
      model: {$ref: '#/schemas/Model'}
    required: [mode]
  Thing:
    type: object
    properties:
      level: {$ref: '#/schemas/Level'}
      maybe: {anyOf: [{$ref: '#/schemas/Level'}, {type: "null"}], default: null}
      ranks: {type: array, items: {$ref: '#/schemas/Rank'}}
      kind: {$ref: '#/schemas/Kind'}
      model: {$ref: '#/schemas/Model'}
      state: {enum: ["on", "off"]}
      closed: {enum: [x, y], open: false}
      shape: {$ref: '#/schemas/Shape'}
    required: [level, ranks, kind, state]
  Shape:
    oneOf: [{$ref: '#/schemas/Circle'}, {$ref: '#/schemas/Square'}]
    discriminator: {propertyName: form}
  Circle:
    type: object
    properties: {form: {enum: [circle]}, radius: {type: number}}
    required: [form]
  Square:
    type: object
    properties: {form: {enum: [square]}, side: {type: number}}
    required: [form]
"""


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("open_enums")
    manifest = root / "enums.yaml"
    manifest.write_text(MANIFEST)
    generate(manifest, root / "enums_sdk")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("enums_sdk")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("enums_sdk")]:
            del sys.modules[name]


def _source(sdk: ModuleType, module: str) -> str:
    return (Path(sdk.__file__).parent / module).read_text()


def test_response_fields_are_open_and_reference_the_enum_by_name(sdk: ModuleType) -> None:
    models = _source(sdk, "models.py")
    thing = models[models.index("class Thing(") :]
    assert "level: Level | str\n" in thing
    assert "maybe: Level | str | None = None" in thing
    assert "ranks: list[Rank | int]" in thing
    assert 'state: Literal["on", "off"] | str' in thing
    # `open: false` stays closed; `open: true` is open in its alias already.
    assert "kind: Kind\n" in thing
    assert 'closed: Literal["x", "y"] | None' in thing
    assert "model: Model | None" in thing
    assert 'Model: TypeAlias = Literal["small", "large"] | str' in models
    # The alias of a default enum is the closed list of known values.
    assert 'Level: TypeAlias = Literal["info", "warn"]\n' in models


def test_request_fields_stay_closed(sdk: ModuleType) -> None:
    models = _source(sdk, "models.py")
    new_thing = models[models.index("class NewThing(") : models.index("class Thing(")]
    assert 'level: Level = "info"' in new_thing
    assert 'mode: Literal["fast", "slow"]\n' in new_thing
    resource = _source(sdk, "things.py")
    assert "level: models.Level | None" in resource


def test_discriminator_tags_stay_literal(sdk: ModuleType) -> None:
    models = _source(sdk, "models.py")
    assert 'form: Literal["circle"]' in models
    assert 'form: Literal["square"]' in models
    thing = sdk.models.Thing.model_validate(
        {"level": "info", "ranks": [], "kind": "a", "state": "on", "shape": {"form": "circle"}}
    )
    assert type(thing.shape).__name__ == "Circle"


def test_an_unknown_value_from_the_server_is_kept(sdk: ModuleType) -> None:
    thing = sdk.models.Thing.model_validate(
        {"level": "debug", "maybe": "trace", "ranks": [1, 7], "kind": "a", "state": "dimmed"}
    )
    assert (thing.level, thing.maybe, thing.ranks, thing.state) == (
        "debug",
        "trace",
        [1, 7],
        "dimmed",
    )
    known = sdk.models.Thing.model_validate(
        {"level": "warn", "ranks": [0], "kind": "b", "state": "off"}
    )
    assert known.level == "warn"
    assert known.model_dump()["level"] == "warn"
    with pytest.raises(ValidationError, match="level"):  # a value of another type still fails
        sdk.models.Thing.model_validate({"level": 3, "ranks": [], "kind": "a", "state": "on"})
    with pytest.raises(ValidationError, match="kind"):  # `open: false`
        sdk.models.Thing.model_validate({"level": "x", "ranks": [], "kind": "c", "state": "on"})


def test_a_typo_in_a_request_is_refused(sdk: ModuleType) -> None:
    with pytest.raises(ValidationError, match="level"):
        sdk.models.NewThing(level="wran", mode="fast")
    with pytest.raises(ValidationError, match="mode"):
        sdk.models.NewThing(mode="quick")
    assert sdk.models.NewThing(mode="fast", model="huge").model == "huge"  # `open: true`


@pytest.mark.parametrize(
    ("replace", "needle", "message"),
    [
        (
            "Kind: {enum: [a, b], open: false}",
            "Kind: {enum",
            "schemas.Kind.open: `open` must be true or false",
        ),
        ("Rank: {enum: [0, 1]}", "Rank: {type", "schemas.Rank.open: `open` applies to an `enum`"),
    ],
)
def test_open_is_checked_with_its_position(
    write_manifest: Write, replace: str, needle: str, message: str
) -> None:
    bad = {
        "Kind: {enum: [a, b], open: false}": "Kind: {enum: [a, b], open: sometimes}",
        "Rank: {enum: [0, 1]}": "Rank: {type: integer, open: true}",
    }[replace]
    text = MANIFEST.replace(replace, bad)
    path = write_manifest(text)
    found = problems_of(path)
    line = line_of(text, needle)
    assert any(p.startswith(f"{path}:{line}:") and message in p for p in found), found
    with pytest.raises(ManifestError):
        generate(path, path.parent / "out")


def test_the_manifest_is_valid(write_manifest: Write) -> None:
    assert validate(load_yaml(write_manifest(MANIFEST))).schemas["Model"]["open"] is True


def test_a_subclass_in_another_module_inherits_the_enum_fields(tmp_path: Path) -> None:
    """A hand-written layer subclasses generated models in its own module, where `Level` is
    not defined, before any of them is used: the enum aliases come first, so the inherited
    fields are already resolved."""
    manifest = tmp_path / "enums.yaml"
    manifest.write_text(MANIFEST)
    generate(manifest, tmp_path / "fresh_enums_sdk")
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("fresh_enums_sdk.models")

        class Mine(models.Thing):  # type: ignore[name-defined,misc]
            pass

        mine = Mine.model_validate({"level": "loud", "ranks": [], "kind": "a", "state": "on"})
        assert mine.level == "loud"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("fresh_enums_sdk")]:
            del sys.modules[name]
