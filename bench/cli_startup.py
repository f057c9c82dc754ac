"""CLI start time: `keel --help` and `keel --version` (goal < 0.5 s, #20), beside bare Python.

Each command runs in a fresh process (the console script's interpreter); the three take turns
for ROUNDS rounds so load on the shared machine hits them alike.  Reports wall time and the
child's CPU time (user + sys): on a machine shared with busy jobs the wall time mostly measures
waiting for a core, the CPU time what the start-up itself costs.  Also lists which heavy
modules a `--help` loads (none expected; tests/cli/test_cli_imports.py checks it).

Run: .venv/bin/python bench/cli_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import Stats, header, load_average

GOAL_S = 0.5


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall, child CPU) seconds of one run."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    header("keel CLI start time", "typer")
    bindir = os.path.dirname(sys.executable)
    keel = os.path.join(bindir, "keel")
    base = [keel] if os.path.exists(keel) else [sys.executable, "-m", "keel"]
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "keel --version": [*base, "--version"],
        "keel --help": [*base, "--help"],
    }
    for cmd in cmds.values():  # warm the OS file cache and the bytecode caches
        _time(cmd)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.rounds):
        for name, cmd in cmds.items():
            wall, cpu = _time(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"{args.rounds} rounds, fresh process each, min / median / max")
    for name in cmds:
        w, c = Stats(walls[name]), Stats(cpus[name])
        verdict = ""
        if not name.startswith("python"):
            verdict = f"  goal < {GOAL_S} s: wall {'MET' if w.median < GOAL_S else 'MISSED'}, CPU "
            verdict += "MET" if c.median < GOAL_S else "MISSED"
        print(f"  {name:16s} wall {w.fmt(1.0, 's')}   CPU {c.fmt(1.0, 's')}{verdict}")
    probe = (
        "import sys; from keel.cli import main; main(['--help']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numba','web3','scipy','sqlalchemy','fastapi','ray','matplotlib','plotly','polars','numpy'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    print(f"heavy modules loaded by --help: {out.strip().splitlines()[-1]}")
    print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
