"""Write ``official_cli.json``: the official ``tinker`` CLI's commands and their options, read
from the source of its wheel without importing it (run once per official release)::

    pip download --no-deps tinker==0.38.0 -d /tmp/tinker-wheel
    python tests/compat/extract_official_cli.py /tmp/tinker-wheel/tinker-0.38.0-py3-none-any.whl

Only facts are kept: command paths, option names, positional argument names.
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path
from typing import Any


def _decorator_call(node: ast.expr) -> tuple[str, ast.Call] | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr, node
    return None


def _strings(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _commands(source: str) -> dict[str, dict[str, Any]]:
    """The commands of one command module: ``@cli.command(...)`` functions."""
    found: dict[str, dict[str, Any]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        name: str | None = None
        options: list[str] = []
        arguments: list[str] = []
        is_command = False
        for decorator in node.decorator_list:
            call = _decorator_call(decorator)
            if call is None:
                continue
            kind, c = call
            if kind == "command":
                is_command = True
                given = [k.value for k in c.keywords if k.arg == "name"]
                name = given[0].value if given and isinstance(given[0], ast.Constant) else None
            elif kind == "option":
                options += [s for s in _strings(c) if s.startswith("-")]
            elif kind == "argument":
                arguments += [s.upper() for s in _strings(c)[:1]]
        if is_command:
            found[name or node.name.replace("_", "-")] = {
                "options": sorted(options),
                "arguments": arguments,
            }
    return found


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        main_source = z.read("tinker/cli/__main__.py").decode()
        groups: dict[str, str] = {}
        for node in ast.walk(ast.parse(main_source)):
            if isinstance(node, ast.keyword) and node.arg == "lazy_subcommands":
                mapping = ast.literal_eval(node.value)
                groups = {k: v.split(":")[0] for k, v in mapping.items()}
        commands: dict[str, Any] = {}
        for group, module in sorted(groups.items()):
            source = z.read(module.replace(".", "/") + ".py").decode()
            found = _commands(source)
            if list(found) == ["cli"]:  # a group that is itself one command (version)
                commands[group] = found["cli"]
                continue
            for name, spec in sorted(found.items()):
                commands[f"{group} {name}"] = spec
    document = {
        "source": Path(wheel).name,
        "global_options": ["--format", "-f"],
        "commands": commands,
    }
    out = Path(__file__).with_name("official_cli.json")
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}: {len(commands)} commands")


if __name__ == "__main__":
    main(sys.argv[1])
