"""tinkex's generated package (``src/tinkex/_generated``) as the sdkgen kit makes it from
``manifest/tinker.yaml``: current, and carrying the manifest's Tinker-specific choices.

The kit's own tests (``packages/sdkgen/tests``) never import tinkex; what only holds for tinkex's
manifest is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from sdkgen.codegen import check
from sdkgen.codegen.enums import is_enum_schema, literal
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import CLIENT_MEMBERS, validate
from sdkgen.runtime import DEFAULT_MAX_RESPONSE_BYTES, AsyncAPIClient, ConfigError, SDKError

import tinkex

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest" / "tinker.yaml"
MIB = 1024 * 1024


def test_the_committed_package_is_current() -> None:
    assert check(MANIFEST, ROOT / "src" / "tinkex" / "_generated") == ""


def test_the_manifest_loads() -> None:
    assert validate(load_yaml(MANIFEST)).resources


def test_the_runtime_logs_to_the_tinkex_logger() -> None:
    from tinkex._generated.api import API_SPEC

    assert API_SPEC.logger == "tinkex"


def test_the_long_poll_is_polled_again_at_once() -> None:
    # retrieve_future answers when the result is ready: no wait between its "not yet" replies.
    from tinkex._generated.api import API_SPEC

    assert API_SPEC.futures is not None
    assert API_SPEC.futures.poll_interval == 0.0
    assert "poll_interval: 0\n" in MANIFEST.read_text()


def test_the_response_limit_is_the_default() -> None:
    from tinkex._generated.api import API_SPEC

    assert API_SPEC.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 256 * MIB


def test_response_enums_are_open_and_request_enums_closed() -> None:
    from tinkex._generated import models

    seq = models.SampledSequence.model_validate({"tokens": [1], "stop_reason": "tool_call"})
    assert seq.stop_reason == "tool_call"
    assert models.SampledSequence.model_validate({"tokens": [1], "stop_reason": "stop"}) == (
        models.SampledSequence(tokens=[1], stop_reason="stop")
    )
    with pytest.raises(ValidationError, match="loss_fn"):
        models.ForwardBackwardInput.model_validate({"data": [], "loss_fn": "cross_entropi"})


def test_the_validators_client_member_list_matches_the_runtime() -> None:
    # The validator keeps its own list (the generator never imports an SDK): it must not fall
    # behind the members a generated client really has.
    from tinkex._generated.client import TinkerAPI

    client = TinkerAPI(api_key="tml-" + "a" * 30, base_url="http://127.0.0.1:9")
    try:
        resources = set(TinkerAPI.__init__.__code__.co_names)
        members = {n for n in dir(client) if not n.startswith("_")}
        members |= {n for n in dir(AsyncAPIClient) if not n.startswith("_")}
    finally:
        client.close()
    assert members - resources - CLIENT_MEMBERS == set()


def test_tinkex_runtime_is_the_kit_runtime() -> None:
    import sdkgen.runtime

    assert tinkex.runtime.APIError is sdkgen.runtime.APIError
    assert tinkex.APIError is sdkgen.runtime.APIError
    assert set(tinkex.runtime.__all__) == set(sdkgen.runtime.__all__)


def test_a_non_ascii_key_is_refused_without_a_unicode_error() -> None:
    # It used to be a raw UnicodeEncodeError (holding the key) from the first request.
    canary = "cnry-Q7w9Zx3LmKp2Vb8Tn4Rd"
    with pytest.raises(ConfigError) as info:
        tinkex.ServiceClient(base_url="http://127.0.0.1:9", api_key=f"tml-{canary}\u00e9")
    assert isinstance(info.value, SDKError)
    assert isinstance(info.value, ValueError)
    for text in (repr(info.value), str(info.value)):
        assert canary[:8].lower() not in text.lower()


def test_named_enums_are_referred_to_by_name_never_copied_inline() -> None:
    # Issue 11, point 4: hand-written code imports `models.AccessScope`, say, and the generated
    # signatures and models use that name; its values appear once, in its alias.
    schemas = yaml.safe_load(MANIFEST.read_text())["schemas"]
    enums = {name: s for name, s in schemas.items() if is_enum_schema(s)}
    assert len(enums) > 5
    copies = []
    for path in sorted((ROOT / "src" / "tinkex" / "_generated").glob("*.py")):
        # One line per statement, so that a Literal wrapped over lines is found too.
        flat = re.sub(r"\s+", " ", path.read_text()).replace("[ ", "[").replace(", ]", "]")
        for name, schema in enums.items():
            text = literal(list(schema["enum"]))
            extra = flat.count(text) - flat.count(f"{name}: TypeAlias = {text}")
            if extra:
                copies.append(f"{path.name}: {name} x{extra}")
    assert copies == []
    runs = (ROOT / "src" / "tinkex" / "_generated" / "training_runs.py").read_text()
    assert "access_scope: models.AccessScope" in runs
    assert (
        "loss_fn: LossFnType" in (ROOT / "src" / "tinkex" / "_generated" / "models.py").read_text()
    )
