"""Which numba threading layer Keel's kernels should default to (keel.pricing.threads).

1,000,000 options: ``greeks`` and ``implied_vol`` under OpenMP (spin-waiting, the libgomp
default), OpenMP with ``OMP_WAIT_POLICY=PASSIVE`` and workqueue, each in its own process, the
three processes taking turns for ROUNDS rounds (load on the shared machine hits them alike);
min / median of 7 timings per process.

Run: .venv/bin/python bench/threading_layer.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import header, load_average

CHILD = """
import statistics, time, numpy as np, numba
import keel.pricing as kp
rng = np.random.default_rng(1); n = 1_000_000
S = np.full(n, 100.0); T = rng.uniform(.02, 2, n); sig = rng.uniform(.1, 1, n)
K = S * np.exp(rng.normal(0, 1, n) * sig * np.sqrt(T)); r = rng.uniform(0, .05, n); q = rng.uniform(0, .02, n)
w = np.where(rng.random(n) < .5, 1.0, -1.0)
p = np.asarray(kp.price(w, S, K, T, r, sig, q))
fns = {"greeks": lambda: kp.greeks(w, S, K, T, r, sig, q), "implied_vol": lambda: kp.implied_vol(w, p, S, K, T, r, q)}
for f in fns.values(): f()
res = {k: [] for k in fns}
for _ in range(7):
    for k, f in fns.items():
        t = time.perf_counter(); f(); res[k].append(time.perf_counter() - t)
fmt = [f"{k} {min(v) * 1e3:.1f} / {statistics.median(v) * 1e3:.1f} ms" for k, v in res.items()]
print(numba.threading_layer(), "  ".join(fmt))
"""

VARIANTS = {
    "omp (spin)": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "ACTIVE"},
    "omp (passive)": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "PASSIVE"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "keel default": {},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    header("numba threading layer for keel.pricing kernels (1M options)", "numba", "numpy")
    print("min / median of 7 per process")
    for rnd in range(args.rounds):
        for name, extra in VARIANTS.items():
            env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY")}
            env.update(extra)
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
            print(f"  round {rnd + 1} {name:14s} {out.stdout.strip()}   load {load_average()}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
