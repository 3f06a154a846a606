"""``python -m sdkgen generate MANIFEST --out DIR [--check] [--templates DIR] [--runtime MODULE]``,
``python -m sdkgen import OPENAPI --out MANIFEST`` and ``python -m sdkgen exports FILE... [--check]``.

``generate`` writes (or with ``--check`` only verifies) a typed package from a manifest (which
may be an overlay on an OpenAPI document, or the document itself); ``import`` writes a manifest
from an OpenAPI 3.0 / 3.1 document; ``exports`` writes the ``TYPE_CHECKING`` imports of a
package's lazily loaded names from its ``_EXPORTS`` map (``sdkgen.codegen.lazy_exports``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ManifestError
from .generate import DEFAULT_RUNTIME, check, generate
from .openapi.bootstrap import import_main

_USAGE = (
    "usage: python -m sdkgen generate MANIFEST --out DIR [--check] [--reference FILE]\n"
    "       python -m sdkgen import OPENAPI --out MANIFEST\n"
    "       python -m sdkgen exports FILE... [--check]"
)


def main(argv: list[str] | None = None) -> int:
    """Run a command of the generator; the exit status (0 ok, 1 failed or stale, 2 misuse).

    Args:
        argv: the arguments after ``python -m sdkgen`` (default: ``sys.argv[1:]``).

    Example::

        main(["generate", "notes.yaml", "--out", "notes_sdk/_generated"])
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(f"{_USAGE}\n\n{__doc__}", file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    command, rest = args[0], args[1:]
    if command == "generate":
        return _generate(rest)
    if command == "import":
        return import_main(rest)
    if command == "exports":
        from .lazy_exports import main as exports_main

        return exports_main(rest)
    print(f"error: unknown command {command!r}\n{_USAGE}", file=sys.stderr)
    return 2


def _generate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdkgen generate", description=__doc__)
    parser.add_argument("manifest", type=Path, help="the manifest YAML file")
    parser.add_argument("--out", type=Path, required=True, help="package directory to write")
    parser.add_argument("--check", action="store_true", help="only report whether --out is current")
    parser.add_argument(
        "--templates", type=Path, help="directory of templates overriding the defaults"
    )
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, help="import path of the runtime")
    parser.add_argument("--reference", type=Path, help="also write a Markdown API reference here")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"error: no manifest at {args.manifest}", file=sys.stderr)
        return 2
    try:
        if args.check:
            diff = check(
                args.manifest,
                args.out,
                runtime=args.runtime,
                template_dir=args.templates,
                reference=args.reference,
            )
            if diff:
                sys.stdout.write(diff)
                print(
                    f"\n{args.out} is stale: run `make codegen` and commit the result.",
                    file=sys.stderr,
                )
                return 1
            print(f"{args.out} is up to date with {args.manifest}")
            return 0
        names = generate(
            args.manifest,
            args.out,
            runtime=args.runtime,
            template_dir=args.templates,
            reference=args.reference,
        )
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"wrote {len(names)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
