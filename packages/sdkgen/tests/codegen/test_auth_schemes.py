"""Issue 11, point 3: `api.auth` as header key, bearer, basic, query key, or several at once.
What the manifest accepts, what it refuses (file:line), and what is generated; a manifest with
the one-header form generates exactly what it did."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError

BASE = """\
manifest_version: 1
api:
  name: farm
  title: Farm
  client_class: FarmAPI
  version: "1"
  base_url: https://farm.example.test
  auth: AUTH
  retry_policies:
    default: {max_retries: 1}
  pools:
    default: {max_connections: 4}
resources:
  barns:
    endpoints:
      get:
        method: GET
        path: /barns/{barn_id}
        path_params: {barn_id: {schema: {type: string}}}
        response: Barn
schemas:
  Barn:
    type: object
    properties:
      name: {type: string}
    required: [name]
"""

SEVERAL = """
    - {header: X-Farm-Key, env: FARM_KEY}
    - {scheme: bearer, header: Authorization, env: FARM_TOKEN}
    - {scheme: query, query: api_key, env: FARM_QUERY_KEY}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Callable[[str], Path]:
    def write(auth: str) -> Path:
        path = tmp_path / "farm.yaml"
        path.write_text(BASE.replace("AUTH", auth))
        return path

    return write


def _api(out: Path) -> str:
    # The generated file is formatted (line breaks vary with length): compared without spaces.
    return re.sub(r"\s+", "", (out / "api.py").read_text()).replace('"', "'")


def _problems(path: Path, out: Path) -> str:
    with pytest.raises(ManifestError) as info:
        generate(path, out)
    return str(info.value)


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_one_header_form_generates_as_before(
    manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    generate(manifest("{header: X-Farm-Key, env: FARM_KEY}"), tmp_path / "sdk")
    api = _api(tmp_path / "sdk")
    assert "auth=AuthSpec(header='X-Farm-Key',env='FARM_KEY',scheme='raw')," in api
    assert "extra_auth" not in api
    client = (tmp_path / "sdk" / "client.py").read_text()
    assert "credentials" not in client  # one credential: api_key, as always
    assert "request_hooks: Iterable[Callable[[httpx.Request], None]] = ()," in client


def test_basic_and_query_schemes(manifest: Callable[[str], Path], tmp_path: Path) -> None:
    generate(
        manifest("{scheme: basic, env: FARM_USER, password_env: FARM_PASSWORD}"), tmp_path / "a"
    )
    api = _api(tmp_path / "a")
    assert (
        "auth=AuthSpec(header=None,env='FARM_USER',scheme='basic',password_env='FARM_PASSWORD')"
        in api
    )
    client = (tmp_path / "a" / "client.py").read_text()
    assert "credentials: Mapping[str, str] | None = None," in client
    assert "credentials=credentials," in client
    generate(manifest("{scheme: query, query: api_key, env: FARM_KEY}"), tmp_path / "b")
    assert "AuthSpec(header=None,env='FARM_KEY',scheme='query',query='api_key')" in _api(
        tmp_path / "b"
    )


def test_several_credentials_at_once(manifest: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "sdk"
    generate(manifest(SEVERAL), out)
    api = _api(out)
    ast.parse((out / "api.py").read_text())
    assert "auth=AuthSpec(header='X-Farm-Key',env='FARM_KEY',scheme='raw')," in api
    assert (
        "extra_auth=(AuthSpec(header='Authorization',env='FARM_TOKEN',scheme='bearer'),"
        "AuthSpec(header=None,env='FARM_QUERY_KEY',scheme='query',query='api_key'),),"
    ) in api
    client = (out / "client.py").read_text()
    assert "name: FARM_TOKEN, FARM_QUERY_KEY." in client


@pytest.mark.parametrize(
    ("auth", "needle", "message"),
    [
        ("{scheme: raw, env: FARM_KEY}", "auth:", "scheme `raw` needs `header`"),
        (
            "{scheme: basic, header: X-A, env: U, password_env: P}",
            "auth:",
            "scheme `basic` takes no `header`",
        ),
        ("{scheme: basic, env: U}", "auth:", "basic needs it"),
        ("{scheme: query, env: K}", "auth:", "`query` (the parameter name)"),
        ("{scheme: digest, header: A, env: K}", "auth:", "scheme"),
        ("{header: 'X Key', env: K}", "auth:", "header name `X Key` is not an HTTP token"),
        (
            "\n    - {header: X-Key, env: A}\n    - {header: x-key, env: B, scheme: bearer}",
            "x-key",
            "header `x-key` is already used by credential 0",
        ),
        (
            "\n    - {header: X-Key, env: A}\n    - {scheme: bearer, header: Authorization, env: A}",
            "Authorization",
            "environment variable `A` is read by another credential too",
        ),
        ("[]", "auth:", "an empty list"),
    ],
)
def test_bad_auth_is_refused_with_its_line(
    manifest: Callable[[str], Path], tmp_path: Path, auth: str, needle: str, message: str
) -> None:
    path = manifest(auth)
    problems = _problems(path, tmp_path / "sdk")
    assert message in problems
    assert f"farm.yaml:{_line_of(path, needle)}" in problems


@pytest.mark.parametrize(("given", "emitted"), [("remote", "'remote'"), ("true", "True")])
def test_required_is_emitted_when_set(
    manifest: Callable[[str], Path], tmp_path: Path, given: str, emitted: str
) -> None:
    generate(manifest(f"{{header: X-Farm-Key, env: FARM_KEY, required: {given}}}"), tmp_path)
    assert f"scheme='raw',required={emitted})" in _api(tmp_path)


def test_an_unknown_required_value_is_refused(
    manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    problems = _problems(manifest("{header: X-Farm-Key, env: FARM_KEY, required: local}"), tmp_path)
    assert "required" in problems
