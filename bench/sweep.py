"""Sweep throughput on Ray with 1 and 2 workers (goal: 2 workers >= 1.7x of 1, #18), the per-task
overhead against running the same configs in one process, and ``multiprocessing.Pool`` as the peer.

Every contender runs the same sweep (one grid key x seeds: SWEEP_RUNS simulations of the same
config, identical summaries) in a fresh process of its own, so each starts cold the way a user's
command does; the contenders take turns for ROUNDS rounds so background load hits them alike.
Inside each child three phases are timed:

- start: ``ray.init`` (or creating the Pool; nothing for the in-process loop);
- warm-up: one run per worker (numba loads its on-disk cache, imports happen) -- not counted
  in throughput;
- sweep: the timed runs, from submitting the first to holding the last summary (for Ray, through
  ``keel.runtime.sweep`` itself, polars frame included; for the Pool, ``starmap`` of the same
  task function ``keel.runtime.sweeps.run_one``; in-process, a plain loop over it).

Every contender runs numba on one thread per run (``NUMBA_NUM_THREADS=1``, what ``RayBackend`` gives
its workers), so the in-process loop is the same work as one worker.  Throughput = runs / sweep
seconds.  Per-task overhead = (Ray-1-worker sweep - in-process loop) / runs: what shipping a config
to a worker and a summary back costs per run.  Every contender's per-run ``pnl.total`` is checked
against the in-process loop's (same config and seed).

Run: .venv/bin/python bench/sweep.py [--rounds 3] [--runs 16] [--hours 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import header, load_average

GOAL_SPEEDUP = 1.7
ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
name = "bench_sweep"
seed = 0
[market]
kind = "gbm"
asset = "ETH"
s0 = 2000
sigma = 0.6
start = "2024-01-05T00:00:00Z"
hours = {hours}
[chain]
block_time_s = 12
base_fee_gwei = 20
[pool]
fee = 500
liquidity = 12453647101533358277
range_pct = 25
[options]
half_spread_vol = 0.01
[[options.svi]]
expiry = "2024-01-12T08:00:00Z"
a = 0.004
b = 0.02
rho = -0.2
m = 0.0
sigma = 0.05
[desk]
strategy = "short_call_strip"
strikes_pct = [105.0, 110.0]
contracts = 100
initial_usd = 2000000
[hedge]
policy = "fixed"
"""

MODES = ("in-process", "ray-1", "ray-2", "pool-1", "pool-2")


def _plan(hours: float, runs: int) -> tuple[list[tuple[dict, str, int]], dict, list[int]]:
    from keel.runtime.sweeps import plan_sweep

    text = CONFIG.format(hours=hours)
    import tomllib

    grid = {"hedge.policy": ["fixed", "leland"]}
    seeds = list(range(max(1, runs // 2)))
    plan = plan_sweep(tomllib.loads(text), grid, seeds)
    calls = [(plan.configs[ci], str(ROOT), seed) for ci, _, seed in plan.runs]
    return calls, grid, seeds


def child(mode: str, hours: float, runs: int) -> dict[str, object]:
    """One contender in this (fresh) process; prints its phase times and summaries as JSON."""
    import tomllib

    from keel.runtime.sweeps import run_one

    calls, grid, seeds = _plan(hours, runs)
    workers = int(mode.split("-")[1]) if "-" in mode and mode != "in-process" else 1
    t0 = time.perf_counter()
    summaries: list[dict]
    if mode == "in-process":
        t1 = time.perf_counter()
        run_one(*calls[0])
        t2 = time.perf_counter()
        summaries = [run_one(*c) for c in calls]
        t3 = time.perf_counter()
    elif mode.startswith("ray"):
        from keel.runtime import sweep
        from keel.runtime.distributed import RayBackend

        backend = RayBackend(workers=workers, max_retries=3).start()
        try:
            t1 = time.perf_counter()
            backend.map(run_one, [calls[i % len(calls)] for i in range(workers)])
            t2 = time.perf_counter()
            frame = sweep(tomllib.loads(CONFIG.format(hours=hours)), grid, seeds, backend=backend, root=ROOT)
            t3 = time.perf_counter()
        finally:
            backend.shutdown()
        summaries = [{"pnl_total": v} for v in frame["pnl.total"].to_list()]
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers) as pool:
            t1 = time.perf_counter()
            pool.starmap(run_one, [calls[i % len(calls)] for i in range(workers)], chunksize=1)
            t2 = time.perf_counter()
            summaries = pool.starmap(run_one, calls, chunksize=1)
            t3 = time.perf_counter()
    if not mode.startswith("ray"):
        summaries = [{"pnl_total": s["pnl"]["total"]} for s in summaries]
    return {
        "mode": mode,
        "runs": len(calls),
        "start_s": t1 - t0,
        "warmup_s": t2 - t1,
        "sweep_s": t3 - t2,
        "pnl": [s["pnl_total"] for s in summaries],
    }


def _run_child(mode: str, hours: float, runs: int) -> dict[str, object]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--hours", str(hours), "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NUMBA_NUM_THREADS": "1"},  # as Ray's workers: one thread per run, for every contender
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def _fmt(xs: list[float], unit: str = "s") -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--child", choices=MODES)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.hours, args.runs)))
        return
    header("keel sweep: Ray 1 vs 2 workers, per-task overhead, multiprocessing.Pool peer", "ray", "numba", "polars")
    print(
        f"# sweep: {args.runs} runs (hedge.policy x {args.runs // 2} seeds) of a {args.hours} h GBM desk "
        f"({int(args.hours * 300)} blocks each); {args.rounds} interleaved rounds, each contender in a fresh process"
    )
    results: dict[str, list[dict[str, object]]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in MODES:
            res = _run_child(mode, args.hours, args.runs)
            results[mode].append(res)
            print(
                f"round {r + 1} {mode:10s} start {res['start_s']:.2f} s  warm-up {res['warmup_s']:.2f} s  "
                f"sweep {res['sweep_s']:.2f} s  process {res['process_s']:.2f} s  load {load_average()}",
                flush=True,
            )
    reference = results["in-process"][0]["pnl"]
    same = all(res["pnl"] == reference for rs in results.values() for res in rs)
    print(f"\nevery contender's per-run pnl.total equals the in-process loop's: {same}")
    print(f"\n{'contender':12s} {'sweep (min / median / max)':>30s} {'runs/s (median)':>16s} {'whole process':>26s}")
    med: dict[str, float] = {}
    for mode, rs in results.items():
        sweeps = [float(x["sweep_s"]) for x in rs]
        procs = [float(x["process_s"]) for x in rs]
        med[mode] = statistics.median(sweeps)
        print(f"{mode:12s} {_fmt(sweeps):>30s} {args.runs / med[mode]:>16.2f} {_fmt(procs):>26s}")
    speed = med["ray-1"] / med["ray-2"]
    best = min(float(x["sweep_s"]) for x in results["ray-1"]) / min(float(x["sweep_s"]) for x in results["ray-2"])
    verdict = "met" if speed >= GOAL_SPEEDUP else "MISSED"
    print(
        f"\nRay speedup 2 workers vs 1 (median sweep): {speed:.2f}x (min-to-min {best:.2f}x); "
        f"goal >= {GOAL_SPEEDUP}x: {verdict}"
    )
    pool = med["pool-1"] / med["pool-2"]
    print(
        f"multiprocessing.Pool speedup 2 vs 1: {pool:.2f}x; "
        f"Ray-2 vs Pool-2 sweep time: {med['ray-2'] / med['pool-2']:.2f}x"
    )
    over = (med["ray-1"] - med["in-process"]) / args.runs
    pover = (med["pool-1"] - med["in-process"]) / args.runs
    print(
        f"per-task overhead vs the in-process loop: Ray {over * 1e3:+.1f} ms/run, Pool {pover * 1e3:+.1f} ms/run "
        f"(one run takes {med['in-process'] / args.runs * 1e3:.0f} ms in-process)"
    )
    ray_start = _fmt([float(x["start_s"]) for x in results["ray-2"]])
    pool_start = _fmt([float(x["start_s"]) for x in results["pool-2"]])
    print(f"Ray local start (ray.init, 2 CPUs): {ray_start}; Pool(2) spawn start: {pool_start}")
    print(f"# load average (1/5/15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
