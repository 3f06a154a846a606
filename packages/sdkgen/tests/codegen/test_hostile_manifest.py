"""A hostile or broken manifest ends in a located ManifestError, quickly, never a traceback or hang.

Each case here failed before the loader refused it: billion laughs expanded aliases for minutes,
a recursive alias, a Python tag, a non-UTF-8 byte, a control character or a 10,000-digit integer
ended in tracebacks, and two endpoints with the same method and path were accepted.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import ManifestError, loader
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE
from .test_validation import line_of

Write = Callable[[str], Path]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_bytes(data)
    return path


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_is_refused_fast_and_small(write_manifest: Write) -> None:
    path = write_manifest(BILLION_LAUGHS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    found = problems_of(path)
    elapsed = time.monotonic() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    # Generous bounds for a loaded 2-core machine: expanding it would take minutes and gigabytes.
    assert elapsed < 5, elapsed
    assert grown_kib < 100 * 1024, grown_kib
    assert len(found) == 8 * 9, found  # every alias, each with its own position
    assert found[0] == (
        f"{path}:2:8: b[0]: YAML alias `*a` (anchor at line 1): anchors and aliases are not "
        "allowed in a manifest; write the value out, or define a schema once under `schemas:` "
        "and refer to it with `$ref: '#/schemas/Name'`"
    )


def test_recursive_alias_is_a_located_error(write_manifest: Write) -> None:
    path = write_manifest("manifest_version: 1\nloop: &x [1, *x]\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:2:14: loop[1]: YAML alias `*x`"), found


def test_recursive_mapping_alias_is_a_located_error(write_manifest: Write) -> None:
    found = problems_of(write_manifest("a: &x\n  b: *x\n"))
    assert len(found) == 1, found
    assert ":2:6: a.b: YAML alias `*x`" in found[0], found


def test_merge_key_is_refused(write_manifest: Write) -> None:
    found = problems_of(write_manifest("a: {x: 1}\nb:\n  <<: {x: 2}\n"))
    assert any(":3:3: b.<<: YAML merge keys (`<<`) are not allowed" in p for p in found), found


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!custom 1", "!custom"),
    ],
)
def test_non_standard_tags_are_located_errors(
    write_manifest: Write, value: str, shown: str
) -> None:
    path = write_manifest(f"manifest_version: 1\napi:\n  title: {value}\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:3:10: api.title: YAML tag `{shown}` is not allowed"), found


def test_unquoted_timestamp_asks_for_quotes(write_manifest: Write) -> None:
    found = problems_of(write_manifest("manifest_version: 1\napi:\n  version: 2024-01-02\n"))
    assert len(found) == 1, found
    assert ":3:12: api.version: " in found[0], found
    assert "quote the value" in found[0], found


def test_non_utf8_file_is_a_located_error(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"manifest_version: 1\napi:\n  title: caf\xe9 bar\n")
    found = problems_of(path)
    assert found == [
        f"{path}:3:13: the file is not UTF-8 (byte 0xe9 at offset 37); save it as UTF-8"
    ], found


def test_control_character_is_a_located_error(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"manifest_version: 1\napi:\n  title: a\x00b\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:3:11: "), found
    assert "#x0000" in found[0], found


def test_tab_indentation_is_a_located_error(write_manifest: Write) -> None:
    path = write_manifest("manifest_version: 1\napi:\n\ttitle: x\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:3:1: YAML syntax error"), found


def test_top_level_must_be_a_mapping(write_manifest: Write) -> None:
    path = write_manifest("- manifest_version: 1\n- api: {}\n")
    assert problems_of(path) == [
        f"{path}:1:1: the manifest must be a mapping at the top level "
        "(manifest_version, api, resources, schemas), not a list"
    ]
    path = write_manifest("just a string\n")
    assert problems_of(path)[0].endswith("not a string")


def test_two_documents_are_a_located_error(write_manifest: Write) -> None:
    found = problems_of(write_manifest("a: 1\n---\nb: 2\n"))
    assert len(found) == 1, found
    assert ":2:1: " in found[0], found


def test_huge_integer_is_a_located_error(write_manifest: Write) -> None:
    path = write_manifest(f"manifest_version: 1\napi:\n  timeout: {'9' * 10_000}\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:3:12: api.timeout: integer out of range"), found


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".inf", "number is not finite (.inf)"),
        ("-.inf", "number is not finite (-.inf)"),
        (".nan", "number is not finite (.nan)"),
        ("1.0e+999", "number is not finite (1.0e+999)"),
        # Not a YAML float (no dot) but a string the typed model would read as infinity.
        ("1e999", "Input should be a finite number"),
    ],
)
def test_non_finite_number_is_a_located_error(
    write_manifest: Write, value: str, message: str
) -> None:
    # An infinite delay or timeout would be emitted as `inf`, a NameError in the generated code.
    text = BASE.replace(
        "default: {max_retries: 1}", f"default: {{max_retries: 1, max_delay: {value}}}"
    )
    found = problems_of(write_manifest(text))
    assert len(found) == 1, found
    assert f"api.retry_policies.default.max_delay: {message}" in found[0], found


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}", "1", "null", "true"])
def test_mapping_keys_must_be_strings(write_manifest: Write, key: str) -> None:
    path = write_manifest(
        f"manifest_version: 1\nschemas:\n  X:\n    properties:\n      ? {key}\n      : {{type: string}}\n"
    )
    found = problems_of(path)
    assert any(f"{path}:5:9: " in p and "mapping key" in p for p in found), found


def test_deep_nesting_is_refused_fast(tmp_path: Path) -> None:
    depth = 100_000
    path = write_bytes(tmp_path, b"a: " + b"[" * depth + b"]" * depth + b"\n")
    started = time.monotonic()
    found = problems_of(path)
    assert time.monotonic() - started < 10
    assert len(found) == 1, found
    assert f"nested deeper than {loader.MAX_DEPTH} levels" in found[0], found


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b"a: " + b"x" * loader.MAX_MANIFEST_BYTES + b"\n")
    found = problems_of(path)
    assert len(found) == 1, found
    assert "larger than" in found[0], found


# -- rules on the loaded manifest ------------------------------------------------------------


def test_same_method_and_path_twice_is_refused_with_both_places(write_manifest: Write) -> None:
    text = BASE.replace(
        "schemas:\n",
        "  more:\n    endpoints:\n      fetch_item:\n        method: GET\n"
        "        path: /items/{id}\n        path_params: {id: {schema: {type: string}}}\n"
        "schemas:\n",
    )
    path = write_manifest(text)
    found = problems_of(path)
    first = f"{path}:{line_of(text, 'get_item:')}:7"
    second = f"{path}:{line_of(text, 'fetch_item:')}:7"
    assert found == [
        f"{first}: resources.items.endpoints.get_item: GET /items/{{item_id}} with a "
        f"application/json body is also endpoint `fetch_item` ({second}); two endpoints cannot "
        "share a method, path and body type: change one's path or remove it",
        f"{second}: resources.more.endpoints.fetch_item: GET /items/{{id}} with a "
        f"application/json body is also endpoint `get_item` ({first}); two endpoints cannot "
        "share a method, path and body type: change one's path or remove it",
    ], found


def test_same_path_with_another_method_is_fine(write_manifest: Write) -> None:
    text = BASE.replace(
        "schemas:\n",
        "  more:\n    endpoints:\n      delete_item:\n        method: DELETE\n"
        "        path: /items/{item_id}\n        path_params: {item_id: {schema: {type: string}}}\n"
        "schemas:\n",
    )
    validate(load_yaml(write_manifest(text)))


def test_same_route_with_another_body_type_is_fine(write_manifest: Write) -> None:
    # One route, two encodings (the real manifest has a protobuf and a JSON forward_backward).
    text = BASE.replace(
        "schemas:\n",
        "  more:\n    endpoints:\n      create_item_raw:\n        method: POST\n"
        "        path: /items\n        body: raw\n        content_type: application/cbor\n"
        "        response: Item\n"
        "schemas:\n",
    )
    validate(load_yaml(write_manifest(text)))


def test_too_many_nodes_is_refused_early(tmp_path: Path) -> None:
    # A dense file under the byte limit: 1.4 KB and 50 us per node in PyYAML (1 MiB of list
    # items was half a minute and 1.4 GB); refused as soon as the count is passed.
    path = write_bytes(tmp_path, b"a: [" + b"1," * (loader.MAX_NODES + 10) + b"]\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = problems_of(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300 * 1024
    assert len(found) == 1, found
    assert f"more than {loader.MAX_NODES} YAML nodes" in found[0], found


def test_problems_listed_are_capped_and_the_rest_counted(write_manifest: Write) -> None:
    path = write_manifest("a: &a 1\nb: [" + "*a," * 5000 + "]\n")
    with pytest.raises(ManifestError) as info:
        load_yaml(path)
    assert len(info.value.problems) == loader.MAX_PROBLEMS
    assert info.value.omitted == 5000 - loader.MAX_PROBLEMS
    assert str(info.value).splitlines()[0] == "5000 problems in the manifest:"
    assert (
        str(info.value).splitlines()[-1]
        == f"  ... and {5000 - loader.MAX_PROBLEMS} more like these"
    )


def test_unreadable_path_is_a_manifest_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}:1:1: cannot read: Is a directory"]
