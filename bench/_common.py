"""Shared bench helpers: the machine/versions/load header every bench prints, and interleaved timing.

Not a bench itself (the Makefile runs ``bench/[a-z]*.py``).  Every figure a bench prints carries
min / median / max over rounds in which the contenders take turns, so background load on the
shared machine falls on all of them alike; the load average is printed before and after.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata

__all__ = ["Stats", "header", "interleaved", "load_average", "one_thread", "versions"]


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(*names: str) -> str:
    out = [f"python {platform.python_version()}"]
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def header(title: str, *packages: str) -> None:
    """Print what was run where: title, UTC time, machine, versions, numba threads/layer, load."""
    print(f"# {title}")
    print(f"# date {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; command: {' '.join(sys.argv)}")
    print(f"# machine: {_cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}")
    print(f"# {versions(*packages)}")
    if "numba" in sys.modules or "numba" in packages:
        import numba

        print(
            f"# numba threads {numba.get_num_threads()} of {numba.config.NUMBA_NUM_THREADS}, threading layer "
            f"{numba.config.THREADING_LAYER!r}, priority {numba.config.THREADING_LAYER_PRIORITY} "
            f"(keel.pricing.threads), OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
        )
    print(f"# load average (1/5/15 min) at start: {load_average()}  (machine shared with other jobs)")
    sys.stdout.flush()


class Stats:
    """Wall times of one contender (seconds)."""

    def __init__(self, times: list[float]) -> None:
        self.times = times

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    def fmt(self, scale: float = 1e3, unit: str = "ms") -> str:
        return f"{self.min * scale:.2f} / {self.median * scale:.2f} / {self.max * scale:.2f} {unit}"


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, Stats]:
    """Time each contender ``repeats`` times, round-robin (one call each per round)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: Stats(v) for k, v in times.items()}


def one_thread(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with numba limited to one thread (restored afterwards)."""
    import numba

    def run() -> object:
        prev = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return fn()
        finally:
            numba.set_num_threads(prev)

    return run
