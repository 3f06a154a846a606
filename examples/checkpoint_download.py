"""Checkpoint download: fetch a checkpoint's archive to a local directory.

tinkex does not have a download helper yet (issue 5 adds one, streamed to disk with progress),
so this example skips with that reason. What it will show: save sampler weights, download their
archive with a progress callback, and list the extracted files.

    python examples/checkpoint_download.py
"""

from __future__ import annotations

from _common import Example, run, skip

import tinkex as tinker


def main(ex: Example) -> None:
    helpers = sorted(n for n in dir(tinker.RestClient) if "download" in n and not n.startswith("_"))
    if not helpers:
        skip(
            "tinkex has no checkpoint download helper yet (RestClient has no download method; "
            "issue 5 adds one)"
        )
    skip(
        f"tinkex now has RestClient.{', RestClient.'.join(helpers)}, but this example has not "
        "been written for it yet"
    )


if __name__ == "__main__":
    run(main)
