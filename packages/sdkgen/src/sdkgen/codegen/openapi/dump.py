"""A manifest written out as YAML that the manifest loader reads back: plain data only (no
anchors, no tags), multi-line text as literal blocks, the import's notes as comments."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["manifest_yaml"]


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # the loader refuses anchors: a repeated value is written out again


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def manifest_yaml(data: dict[str, Any], *, source: str, notes: list[str]) -> str:
    """``data`` as manifest YAML, headed by where it came from and what was left out."""
    lines = [
        f"# Imported from {source} by `import`: edit it as any manifest, or keep the document",
        "# as the source and put what OpenAPI cannot say in an overlay (docs/manifest-format.md).",
    ]
    if notes:
        lines.append(f"# {len(notes)} note(s) from the import:")
        lines += [f"#   {' '.join(n.split())}" for n in notes]
    body = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True,
        width=100,
    )  # fmt: skip
    return "\n".join(lines) + "\n" + body
