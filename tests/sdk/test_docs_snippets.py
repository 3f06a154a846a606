"""The code in the user guides (docs/guides/*.md) runs: every ```python block is executed, as
written, against the fake Tinker server, with the base model the guides name replaced by the
fake's. A block that cannot run here (it needs a real backend, a terminal or another process)
starts with a ``# not run: <why>`` line; it must still compile and every ``tinkex`` name it
uses must exist."""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_tinker.server import FakeTinker

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guides"
README = GUIDES.parents[1] / "README.md"
GUIDE_MODEL = "Qwen/Qwen3-8B"
LOCAL_MODEL = "tiny-qwen3"  # the local backend's (tinkex backend up)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> Iterator[tuple[str, str]]:
    for page in sorted(GUIDES.glob("*.md")):
        for n, match in enumerate(BLOCK.finditer(page.read_text()), 1):
            yield f"{page.stem}-{n}", match.group(1)


BLOCKS = dict(_blocks())


def _tinkex_names(tree: ast.AST) -> Iterator[str]:
    """Dotted names the code takes from tinkex: ``tinker.X.Y``, ``types.X``, ``from tinkex.m import X``."""
    aliases = {"tinker": "tinkex", "tinkex": "tinkex"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tinkex":
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tinkex":
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                yield f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts: list[str] = []
            inner: ast.expr = node
            while isinstance(inner, ast.Attribute):
                parts.insert(0, inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in aliases:
                yield ".".join([aliases[inner.id], *parts])


def _resolve(dotted: str) -> object:
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_the_guides_have_code() -> None:
    assert len(BLOCKS) >= 8, sorted(BLOCKS)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_every_tinkex_name_a_guide_uses_exists(name: str) -> None:
    tree = ast.parse(BLOCKS[name], filename=name)
    for dotted in _tinkex_names(tree):
        assert _resolve(dotted) is not None, dotted


@pytest.mark.parametrize(
    "name", sorted(n for n, code in BLOCKS.items() if not code.startswith("# not run"))
)
def test_every_guide_block_runs(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A guide may configure logging (basicConfig, levels): undone after the block.
    root, sdk = logging.getLogger(), logging.getLogger("tinkex")
    handlers, levels = list(root.handlers), (root.level, sdk.level)
    try:
        with FakeTinker() as server:
            monkeypatch.setenv("TINKER_BASE_URL", server.base_url)
            monkeypatch.setenv("TINKER_API_KEY", "tml-docs-test")
            monkeypatch.setenv("TINKER_TELEMETRY", "0")
            code = BLOCKS[name].replace(GUIDE_MODEL, server.base_models[0])
            code = code.replace(LOCAL_MODEL, server.base_models[0])
            exec(compile(code, f"docs/guides/{name}.py", "exec"), {"__name__": "__docs__"})
            assert server.errors == []
    finally:
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        sdk.setLevel(levels[1])
    assert capsys.readouterr().err == ""


def readme_first_snippet() -> str:
    """The first ```python block of the README's "Training and sampling" (tests/e2e runs it
    against the real local backend, verbatim)."""
    text = README.read_text()
    section = text[text.index("## Training and sampling\n") :]
    match = BLOCK.search(section)
    assert match is not None
    return match.group(1)


def test_the_readme_first_snippet_runs_against_the_fake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = readme_first_snippet()
    assert f'"{LOCAL_MODEL}", rank=8' in code  # what the local backend takes
    monkeypatch.chdir(tmp_path)  # its metrics log is written to the working directory
    with FakeTinker() as server:
        monkeypatch.setenv("TINKER_BASE_URL", server.base_url)
        monkeypatch.delenv("TINKER_API_KEY", raising=False)  # none needed on loopback
        monkeypatch.setenv("TINKER_TELEMETRY", "0")
        code = code.replace(LOCAL_MODEL, server.base_models[0])
        exec(compile(code, "README.md", "exec"), {"__name__": "__docs__"})
        assert server.errors == []
    lines = capsys.readouterr().out.splitlines()
    losses = [float(line.split()[1]) for line in lines[:4]]
    assert [line.split()[0] for line in lines[:4]] == ["0", "1", "2", "3"]
    assert losses[-1] < losses[0]
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["loss"]) for r in logged] == list(enumerate(losses))


def test_the_exceptions_page_shows_every_public_exception() -> None:
    """docs/api/exceptions.md renders each class with ``::: tinkex.<Name>``: a new exception
    must be added there (its two aliases excepted: they are the same classes)."""
    import tinkex

    page = (GUIDES.parent / "api" / "exceptions.md").read_text()
    shown = set(re.findall(r"^::: tinkex\.(\w+)$", page, re.MULTILINE))
    public = {
        name
        for name in tinkex.__all__
        if isinstance(obj := getattr(tinkex, name), type)
        and issubclass(obj, Exception)
        and not issubclass(obj, Warning)
    }
    assert public - {"TinkerError", "BillingError"} == shown - {"_exceptions"}  # the tree
