"""``python -m codegen MANIFEST --out DIR [--check] [--templates DIR] [--runtime MODULE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ManifestError
from .generate import DEFAULT_RUNTIME, check, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
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
