"""``python -m sdkgen generate MANIFEST --out DIR [--check] [--templates DIR] [--runtime MODULE]``."""

from __future__ import annotations

import sys

from .codegen.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
