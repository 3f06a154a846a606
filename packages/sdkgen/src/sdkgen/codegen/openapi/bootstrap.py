"""``python -m sdkgen import OPENAPI --out MANIFEST``: write a manifest from an OpenAPI 3.0 /
3.1 document (JSON or YAML), to edit by hand from then on. To keep the document as the source
instead, write an overlay that names it (docs/manifest-format.md, "OpenAPI documents")."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ManifestError
from ..loader import load_yaml
from ..validate import validate
from .dump import manifest_yaml
from .operations import translate_document
from .source import read_document

__all__ = ["bootstrap", "import_main"]


def bootstrap(document: Path, out: Path) -> list[str]:
    """Write the manifest of ``document`` to ``out`` and check that it loads and validates;
    return the import's notes (what the manifest left out or approximated).

    Raises:
        ManifestError: the document cannot be imported, or the manifest it gives is refused
            (the problems point into the written manifest).
    """
    translation = translate_document(read_document(document))
    text = manifest_yaml(translation.loaded.data, source=document.name, notes=translation.notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    validate(load_yaml(out))
    return translation.notes


def import_main(argv: list[str]) -> int:
    """The ``import`` subcommand; the process's exit status."""
    parser = argparse.ArgumentParser(prog="python -m sdkgen import", description=__doc__)
    parser.add_argument("document", type=Path, help="the OpenAPI document (.json, .yaml)")
    parser.add_argument("--out", type=Path, required=True, help="the manifest YAML to write")
    args = parser.parse_args(argv)
    if not args.document.is_file():
        print(f"error: no OpenAPI document at {args.document}", file=sys.stderr)
        return 2
    try:
        notes = bootstrap(args.document, args.out)
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out} ({len(notes)} note(s), also listed at its top)")
    return 0
