"""Run `servidor` with cProfile in every thread, to see where a request's time goes.

`python bench/profiled_server.py SAIDA.prof [--cpu] -- <servidor options>` serves as usual and,
once stopped (SIGTERM), writes the merged per-thread statistics to SAIDA.prof (pstats).

cProfile.enable() only profiles the calling thread, so a `threading.setprofile` hook gives each
new thread (selector, workers, compactor) its own profiler on its first event. The default
clock is wall time: a worker's time blocked in fdatasync or on a lock shows as that call's
tottime. `--cpu` uses each thread's CPU clock instead, which shows only what burns the core.
The profiler slows Python code by 1.5-3×; use the proportions, never the throughput.
"""
from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []
_guard = threading.Lock()
_timer = None


def _new_profile() -> cProfile.Profile:
    profile = cProfile.Profile(_timer, 1e-9) if _timer is not None else cProfile.Profile()
    with _guard:
        _profiles.append(profile)
    return profile


def _start_in_thread(frame: object, event: str, arg: object) -> None:
    # First profiling event in a new thread: hand the thread over to its own cProfile.
    sys.setprofile(None)
    _new_profile().enable()


def main() -> int:
    global _timer
    args = sys.argv[1:]
    out = args.pop(0)
    if args and args[0] == "--cpu":
        args.pop(0)
        _timer = time.thread_time_ns
    if args and args[0] == "--":
        args.pop(0)
    # The main thread is left out on purpose: it only opens the stores (replaying the journal,
    # which a per-request table must not include) and then waits for SIGTERM. Every request is
    # handled in threads started after this line.
    threading.setprofile(_start_in_thread)
    from servidor.cli import main as serve
    try:
        code = serve(args)
    finally:
        threading.setprofile(None)
        with _guard:
            if not _profiles:
                _new_profile()
            stats = pstats.Stats(_profiles[0])
            for other in _profiles[1:]:
                stats.add(other)
        stats.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(main())
