"""A stream endpoint's named events (issue 11, point 3): what `stream.events`, `end`, `ignore`
and `unknown` accept and refuse, and what the generated stream method does with them."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.codegen import ManifestError, generate

from .test_validation import line_of, problems_of

Write = Callable[[str], Path]

MANIFEST = """\
manifest_version: 1
api:
  name: chat
  title: Chat
  client_class: ChatAPI
  version: "1"
  base_url: https://chat.example.test
  retry_policies:
    default: {max_retries: 0}
resources:
  chat:
    endpoints:
      complete:
        method: POST
        path: /complete
        request: Prompt
        stream:
          format: sse
          event: Delta
          events: {usage: Usage}
          end: [done]
          ignore: [ping]
      follow:
        method: GET
        path: /follow
        stream: {format: sse, event: Delta}
schemas:
  Prompt:
    type: object
    properties: {text: {type: string}}
    required: [text]
  Delta:
    type: object
    properties: {text: {type: string}}
    required: [text]
  Usage:
    type: object
    properties: {tokens: {type: integer}}
    required: [tokens]
"""
STREAM = """\
        stream:
          format: sse
          event: Delta
          events: {usage: Usage}
          end: [done]
          ignore: [ping]
"""


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("stream_events")
    manifest = root / "chat.yaml"
    manifest.write_text(MANIFEST)
    generate(manifest, root / "chat_sdk")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("chat_sdk")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("chat_sdk")]:
            del sys.modules[name]


def test_the_routes_are_generated(sdk: ModuleType) -> None:
    source = (Path(sdk.__file__).parent / "chat.py").read_text()
    assert (
        "_COMPLETE_EVENTS = EventRoutes(models.Delta, events={'usage': models.Usage}, "
        "end=('done',), ignore=('ping',), unknown='data')"
    ) in source.replace('"', "'").replace("\n", "").replace("    ", "")
    assert "-> Stream[models.Delta | models.Usage]:" in source
    assert "cast(Any, _COMPLETE_EVENTS)" in source
    # A stream without named events passes its type, as before.
    assert "cast(Any, models.Delta)," in source
    assert source.count("EventRoutes(") == 1


def test_the_generated_stream_routes_events(sdk: ModuleType, httpx_mock: HTTPXMock) -> None:
    frames = [
        b'id: 1\ndata: {"text": "Hel"}\n\n',
        b"event: ping\ndata: {}\n\n",
        b'id: 2\ndata: {"text": "lo"}\n\n',
        b'event: usage\ndata: {"tokens": 2}\n\n',
        b"event: done\ndata: [DONE]\n\n",
        b'data: {"text": "after the end"}\n\n',
    ]
    httpx_mock.add_response(
        headers={"content-type": "text/event-stream"}, stream=IteratorStream(frames)
    )
    with sdk.ChatAPI(api_key="k") as client:
        stream = client.chat.complete(text="hi")
        events = [(e.name, e.id, e.data) for e in stream.events()]
    assert events == [
        ("message", "1", sdk.models.Delta(text="Hel")),
        ("message", "2", sdk.models.Delta(text="lo")),
        ("usage", "2", sdk.models.Usage(tokens=2)),
    ]
    assert stream.last_event_id == "2"
    assert json.loads(httpx_mock.get_requests()[0].content) == {"text": "hi"}


def _bad(write_manifest: Write, stream: str) -> tuple[list[str], str, Path]:
    text = MANIFEST.replace(STREAM, stream)
    assert text != MANIFEST
    path = write_manifest(text)
    return problems_of(path), text, path


@pytest.mark.parametrize(
    ("stream", "needle", "message"),
    [
        (
            "        stream: {format: sse, events: {usage: Usge}}\n",
            "events: {usage: Usge}",
            "complete.stream.events.usage: unknown schema reference `Usge`",
        ),
        (
            "        stream: {format: sse, event: Delta, end: [error]}\n",
            "end: [error]",
            "complete.stream.end[0]: `error` events always raise",
        ),
        (
            "        stream: {format: sse, event: Delta, events: {message: Usage}}\n",
            "events: {message",
            "complete.stream.events.message: `message` is the name of unnamed events",
        ),
        (
            "        stream: {format: sse, events: {done: Usage}, end: [done]}\n",
            "end: [done]",
            "complete.stream.end[0]: event `done` is already listed under `events`",
        ),
        (
            "        stream: {format: sse, event: Delta, ignore: ['a b']}\n",
            "ignore: ['a b']",
            "complete.stream.ignore[0]: event name 'a b' must be printable ASCII",
        ),
        (
            "        stream: {format: sse, events: {usage: Usage}, unknown: data}\n",
            "unknown: data",
            "complete.stream.unknown: `unknown: data` validates unlisted events against `event`",
        ),
        (
            "        stream: {format: sse}\n",
            "stream: {format: sse}",
            "complete.stream: a stream endpoint must name its event schema",
        ),
        (
            "        stream: {format: sse, event: Delta, unknown: maybe}\n",
            "unknown: maybe",
            "complete.stream.unknown:",
        ),
    ],
)
def test_bad_stream_entries_are_refused_with_their_position(
    write_manifest: Write, stream: str, needle: str, message: str
) -> None:
    found, text, path = _bad(write_manifest, stream)
    line = line_of(text, needle)
    assert any(p.startswith(f"{path}:{line}:") and message in p for p in found), found
    with pytest.raises(ManifestError):
        generate(path, path.parent / "out")
