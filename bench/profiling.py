"""cProfile of one contender on one workload, every thread of it (the SDKs' loop threads too).

    .venv-bench/bin/python bench/profiling.py tinkex-pb train      # or: sampling, small
    .venv-bench/bin/python bench/profiling.py official sampling --top 40

It starts its own stub (stopped at the end), runs a few untimed calls, then profiles the timed
ones: the caller's thread and each thread the contender started (a profiler per thread), and
prints each thread's functions by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SMALL_SHAPE, TRAIN_SHAPE, control, drive, token_lists
from contenders import make
from run import StubServer, run_worker

PROFILES: dict[str, cProfile.Profile] = {}
ACTIVE = threading.Event()


def _thread_hook(frame: Any, event: str, arg: Any) -> None:
    """Installed in every new thread: swaps itself for a profiler of that thread."""
    if not ACTIVE.is_set():
        return
    prof = cProfile.Profile()
    PROFILES[threading.current_thread().name] = prof
    prof.enable()


def service_kwargs(name: str) -> dict[str, Any]:
    if not name.startswith("tinkex"):
        return {}
    from contenders.tinkex_modes import options

    kwargs, why = options(name, run_worker("tinkex", "probe", "-", {}))
    if kwargs is None:
        raise SystemExit(f"{name}: {why[0]}")
    return kwargs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("contender", choices=("official", "tinkex-pb", "tinkex-json", "floor"))
    parser.add_argument("workload", choices=("sampling", "train", "small"))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    contender = make(args.contender, service_kwargs(args.contender))
    threading.setprofile(_thread_hook)
    with StubServer(0, {}) as stub:
        contender.load()
        contender.connect(stub.url)
        main_prof = cProfile.Profile()
        try:
            if args.workload == "sampling":

                async def sample() -> None:
                    async with contender.sampler(32) as one:
                        await drive(one, 32, 200)
                        ACTIVE.set()
                        main_prof.enable()
                        await drive(one, 32, 2000)
                        main_prof.disable()

                asyncio.run(sample())
            else:
                shape, n = (TRAIN_SHAPE, 10) if args.workload == "train" else (SMALL_SHAPE, 500)
                control(stub.url, "/_config", {"fb_datums": shape[0], "fb_tokens": shape[1]})
                rows = token_lists(*shape)
                for _ in range(3):
                    contender.train_step(rows)
                ACTIVE.set()
                main_prof.enable()
                for _ in range(n):
                    contender.train_step(rows)
                main_prof.disable()
        finally:
            ACTIVE.clear()
            contender.close()
    profiles = {"caller's thread": main_prof, **PROFILES}
    for title, prof in profiles.items():
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(order).print_stats(args.top)
            print(f"\n===== {args.contender} {args.workload}: {title}, by {order} =====")
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
