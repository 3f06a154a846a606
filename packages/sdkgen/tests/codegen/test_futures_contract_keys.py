"""The polling keys of `api.futures` (issue 11): what the manifest accepts, what it refuses
(with file:line), and the `FuturesSpec` it generates."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from sdkgen.codegen import ManifestError, generate
from sdkgen.runtime import FuturesSpec

ROOT = Path(__file__).parents[2]
MINI = Path(__file__).parent / "golden" / "mini.yaml"
CONTRACT = "    pending: {field: status, equals: running}\n    failed: {field: error}\n"


def _manifest(tmp_path: Path, futures: str) -> Path:
    text = MINI.read_text()
    assert CONTRACT in text
    path = tmp_path / "mini.yaml"
    path.write_text(text.replace(CONTRACT, futures, 1))
    return path


def _spec(tmp_path: Path, futures: str, monkeypatch: pytest.MonkeyPatch) -> FuturesSpec:
    """Generate the package and import its API spec's futures contract."""
    package = f"polling_sdk_{abs(hash(futures))}"
    generate(_manifest(tmp_path, futures), tmp_path / package)
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(f"{package}.api")
    spec = sys.modules[f"{package}.api"].API_SPEC.futures
    assert isinstance(spec, FuturesSpec)
    return spec


FULL = """\
    pending: {field: status.state, equals: [queued, running]}
    failed: {field: status.state, equals: [failed, cancelled]}
    message_field: status.detail.message
    category_field: status.detail.kind
    queue_state_field: status.state
    poll_interval: 0.25
    max_poll_interval: 2
    poll_hint: {header: false, field: hints.retry_after_ms, unit: ms, cap: 30}
"""


def test_the_polling_keys_reach_the_generated_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, FULL, monkeypatch)
    assert spec.pending_field == "status.state"
    assert spec.pending_value == ("queued", "running")
    assert spec.failed_field == "status.state"
    assert spec.failed_values == ("failed", "cancelled")
    assert spec.message_field == "status.detail.message"
    assert spec.category_field == "status.detail.kind"
    assert spec.queue_state_field == "status.state"
    assert (spec.poll_interval, spec.max_poll_interval) == (0.25, 2.0)
    assert spec.retry_after_header is False
    assert spec.poll_after_field == "hints.retry_after_ms"
    assert (spec.poll_after_unit, spec.poll_after_cap) == ("ms", 30.0)


def test_without_the_new_keys_the_defaults_apply_and_are_not_emitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, CONTRACT, monkeypatch)
    assert spec.pending_value == "running"
    assert spec.failed_values == ()  # the failed field's presence means failed
    assert (spec.poll_interval, spec.max_poll_interval) == (0.5, 5.0)  # the documented default
    assert (spec.retry_after_header, spec.poll_after_field) == (True, None)
    api = next(tmp_path.glob("polling_sdk_*/api.py")).read_text()
    for key in ("failed_values", "max_poll_interval", "retry_after_header", "poll_after"):
        assert key not in api


BAD = [
    # (futures block, the line's marker, what the error says)
    (
        "    pending: {field: status, equals: running, when: now}\n    failed: {field: error}\n",
        "when: now",
        "pending.when",
    ),
    (CONTRACT + "    poll_hint: {after: 3}\n", "after: 3", "poll_hint.after"),
    (
        "    pending: {field: status, equals: []}\n    failed: {field: error}\n",
        "equals: []",
        "empty list",
    ),
    (
        "    pending: {field: status, equals: [running, running]}\n    failed: {field: error}\n",
        "[running, running]",
        "listed twice",
    ),
    (
        "    pending: {field: status, equals: 5}\n    failed: {field: error}\n",
        "equals: 5",
        "a string or a list of strings",
    ),
    (
        "    pending: {field: status}\n    failed: {field: error}\n",
        "pending: {field: status}",
        "pending.equals",
    ),
    (
        "    pending: {field: status..state, equals: running}\n    failed: {field: error}\n",
        "status..state",
        "not a field path",
    ),
    (
        "    pending: {field: status, equals: running}\n    failed: {field: .error}\n",
        ".error}",
        "not a field path",
    ),
    (CONTRACT + "    message_field: 'error. text'\n", "message_field", "not a field path"),
    (CONTRACT + "    queue_state_field: queue.\n", "queue_state_field", "not a field path"),
    (CONTRACT + "    poll_hint: {field: 'a b'}\n", "poll_hint", "not a field path"),
    (CONTRACT + "    poll_hint: {unit: minutes}\n", "poll_hint", "poll_hint.unit"),
    (CONTRACT + "    poll_hint: {cap: -1}\n", "poll_hint", "poll_hint.cap"),
    (CONTRACT + "    poll_interval: -0.5\n", "poll_interval", "poll_interval"),
    (CONTRACT + "    poll_interval: 10\n", "poll_interval", "above max_poll_interval"),
    (
        "    pending: {field: status, equals: running}\n    failed: {field: status}\n",
        "failed: {field: status}",
        "also pending.field",
    ),
    (
        "    pending: {field: status, equals: [queued, running]}\n"
        "    failed: {field: status, equals: [running, failed]}\n",
        "failed: {field: status",
        "running is listed both as pending and as failed",
    ),
]


@pytest.mark.parametrize(("futures", "marker", "message"), BAD)
def test_bad_polling_keys_are_refused_with_their_position(
    tmp_path: Path, futures: str, marker: str, message: str
) -> None:
    manifest = _manifest(tmp_path, futures)
    lines = manifest.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if marker in text)
    with pytest.raises(ManifestError) as caught:
        generate(manifest, tmp_path / "out")
    text = str(caught.value)
    assert message in text
    assert re.search(rf"mini\.yaml:{line}:\d+: api\.futures", text), text
