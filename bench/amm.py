"""AMM speed, like with like: Keel's exact Uniswap quotes and swaps against the real contracts in
pyrevm (and degenbot, the Python peer), single-threaded, interleaved rounds, min/median/max.

Pairs that do the same work:

* **read-only quote**: Keel ``Pool.quote`` vs v3-periphery 1.4.4 ``QuoterV2.quoteExactInputSingle``
  (it runs the pool's swap and reverts it; returns amount out, price after, ticks crossed) vs
  degenbot 0.3.0 ``UniswapV3Pool.calculate_tokens_out_from_tokens_in`` on the same pool state;
  v4: Keel ``PoolManager.quote`` vs v4-periphery 1.0.3 ``V4Quoter.quoteExactInputSingle`` over
  v4-core 1.0.2's PoolManager (it runs the swap inside ``unlock`` and reverts it);
* **state-changing swap**: Keel ``Pool.swap`` vs ``SwapRouter.exactInputSingle`` (pool swap + two
  ERC-20 transfers); v4: Keel ``PoolManager.swap`` vs v4-core's ``PoolSwapTest.swap`` (unlock, swap,
  settle, take).

Cases: v3 0.3% (spacing 60) inside one initialized range and crossing 10 initialized ticks; v4
0.3% inside one range.  Before timing, each side's result is checked against the contract's (Keel:
amounts, price and ticks crossed equal on every checked amount; degenbot: amount out, counted).
Every contender runs in this one thread (degenbot in a child process with its own virtualenv,
``bench/.venv-degenbot``, because degenbot 0.3.0 -- the newest release for Python 3.11 -- pins
web3<8 and scipy<1.15, which conflict with requirements.lock; the child is timed with the same
loop and the same rounds).  Rounds interleave the contenders; figures are microseconds per call,
min/median/max over the rounds; ratios use medians.  Raw output goes to ``bench/results/``.

Run: .venv/bin/python bench/amm.py [--rounds R] [--batch N]
Set up the degenbot venv once: python -m venv bench/.venv-degenbot &&
    bench/.venv-degenbot/bin/pip install -r bench/requirements-degenbot.txt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.evm_support / tests.v4_evm_support (the EVM harnesses)
DEGENBOT_PY = ROOT / "bench" / ".venv-degenbot" / "bin" / "python"
MIN_SQRT = 4295128739
MAX_SQRT = 1461446703485210103287273052203988822378723970342


def timed(fn: Callable[[], object], batch: int) -> tuple[float, float]:
    """(wall, CPU of this thread) microseconds per call of one batch."""
    c0 = time.thread_time_ns()
    t0 = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - t0) / batch * 1e6, (time.thread_time_ns() - c0) / batch / 1e3


def spread(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


# ----------------------------------------------------------------------------------- degenbot child
def degenbot_worker() -> None:
    """Runs in bench/.venv-degenbot: reads pool states + amounts, answers quotes and per-round timings."""
    import threading

    from degenbot.uniswap.types import UniswapV3BitmapAtWord, UniswapV3LiquidityAtTick, UniswapV3PoolState
    from degenbot.uniswap.v3_liquidity_pool import UniswapV3Pool

    job = json.loads(sys.stdin.readline())
    quotes: dict[str, Callable[[], None]] = {}
    out: dict[str, Any] = {"version": __import__("importlib.metadata").metadata.version("degenbot"), "cases": {}}
    for case in job["cases"]:
        pool = object.__new__(UniswapV3Pool)
        pool.fee, pool.tick_spacing = case["fee"], case["tick_spacing"]
        pool.token0, pool.token1 = "T0", "T1"
        pool.sparse_liquidity_map = False
        pool._state_lock = threading.Lock()
        bitmap = {int(w): UniswapV3BitmapAtWord(bitmap=int(b)) for w, b in case["bitmap"].items()}
        ticks = {
            int(t): UniswapV3LiquidityAtTick(liquidity_net=int(n), liquidity_gross=int(g))
            for t, (g, n) in case["ticks"].items()
        }
        pool._state = UniswapV3PoolState(
            pool="0x" + "00" * 20,
            liquidity=int(case["liquidity"]),
            sqrt_price_x96=int(case["sqrt_price_x96"]),
            tick=int(case["tick"]),
            tick_bitmap=bitmap,
            tick_data=ticks,
        )
        answers = []
        for zfo, amount in case["check"]:
            try:
                answers.append(pool.calculate_tokens_out_from_tokens_in("T0" if zfo else "T1", int(amount)))
            except Exception as exc:  # degenbot's own errors, reported as such
                answers.append(f"error: {type(exc).__name__}")
        zfo, amount = case["timed"]
        token = "T0" if zfo else "T1"

        def quote(pool: Any = pool, token: str = token, amount: int = int(amount)) -> None:
            pool.calculate_tokens_out_from_tokens_in(token, amount)

        quotes[case["name"]] = quote
        out["cases"][case["name"]] = {"answers": answers}
    print(json.dumps(out), flush=True)
    for line in sys.stdin:  # one line per interleaved round: time every case once
        if not line.strip():
            break
        print(json.dumps({name: timed(fn, job["batch"]) for name, fn in quotes.items()}), flush=True)


class DegenbotChild:
    """degenbot in its own virtualenv, kept running: ``round()`` times every case once (interleaved)."""

    def __init__(self, cases: list[dict[str, Any]], batch: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [str(DEGENBOT_PY), __file__, "--degenbot-worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env, cwd=ROOT / "bench",
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cases": cases, "batch": batch}) + "\n")
        self.proc.stdin.flush()
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.rounds: dict[str, list[tuple[float, float]]] = {}

    def round(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        for name, us in json.loads(self.proc.stdout.readline()).items():
            self.rounds.setdefault(name, []).append(tuple(us))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def start_degenbot(cases: list[dict[str, Any]], batch: int) -> DegenbotChild | None:
    if not DEGENBOT_PY.exists():
        print(f"degenbot: {DEGENBOT_PY} missing (see the docstring); running without it", file=sys.stderr)
        return None
    return DegenbotChild(cases, batch)


# ----------------------------------------------------------------------------------------- main side
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--degenbot-worker", action="store_true")
    args = parser.parse_args()
    if args.degenbot_worker:
        degenbot_worker()
        return
    from eth_abi import decode, encode
    from eth_utils import keccak

    from keel.venues.uniswap_v3 import Pool, get_sqrt_ratio_at_tick
    from keel.venues.uniswap_v4 import PoolKey, PoolManager
    from tests.evm_support import DEADLINE, NODE_MODULES, UniswapV3World
    from tests.v4_evm_support import KEY_T, V4World

    rng = random.Random(7)
    lines: list[str] = []

    def emit(s: str = "") -> None:
        print(s)
        lines.append(s)

    fee, spacing = 3000, 60
    base = 128 * spacing  # mid-word in the bitmap: no word edge inside the one-range case

    # ---------------------------------------------------------------- v3 worlds (+ QuoterV2)
    def v3_world(positions: list[tuple[int, int, int, int]]) -> tuple[UniswapV3World, Pool, str, str]:
        world = UniswapV3World()
        start = get_sqrt_ratio_at_tick(base + spacing // 2)
        address = world.create_pool(fee, start)
        pool = Pool(fee, spacing, start, block_timestamp=world.evm.timestamp)
        for lower, upper, a0, a1 in positions:
            _, liquidity, amount0, amount1 = world.mint(fee, lower, upper, a0, a1).values
            assert pool.mint(world.npm.lower(), lower, upper, liquidity) == (amount0, amount1)
        art = json.loads(
            (NODE_MODULES / "v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json").read_text()
        )
        code = bytes.fromhex(art["bytecode"][2:]) + encode(["address", "address"], [world.factory, world.token0])
        quoter = str(world.evm.raw.deploy(world.evm.me, code, gas=30_000_000))
        return world, pool, address, quoter

    q_sig = keccak(text="quoteExactInputSingle((address,address,uint256,uint24,uint160))")[:4]
    s_sig = keccak(text="exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))")[:4]

    def quoter_call(world: UniswapV3World, zfo: bool, amount: int) -> bytes:
        t_in, t_out = (world.token0, world.token1) if zfo else (world.token1, world.token0)
        return q_sig + encode(["(address,address,uint256,uint24,uint160)"], [(t_in, t_out, amount, fee, 0)])

    def router_call(world: UniswapV3World, zfo: bool, amount: int) -> bytes:
        t_in, t_out = (world.token0, world.token1) if zfo else (world.token1, world.token0)
        args = (t_in, t_out, fee, world.evm.me, DEADLINE, amount, 0, 0)
        return s_sig + encode(["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], [args])

    def v3_state(pool: Pool) -> dict[str, Any]:
        return {
            "fee": fee,
            "tick_spacing": spacing,
            "liquidity": str(pool.liquidity),
            "sqrt_price_x96": str(pool.sqrt_price_x96),
            "tick": pool.tick,
            "bitmap": {str(w): str(b) for w, b in pool._bitmap.items()},
            "ticks": {str(t): (str(pool.ticks(t).liquidity_gross), str(pool.ticks(t).liquidity_net))
                      for t in pool.initialized_ticks()},
        }  # fmt: skip

    big = 10**22
    one_range = v3_world([(base - 6_000, base + 6_000, big, big)])
    ten = [(base + k * spacing, base + (k + 1) * spacing, 10**21, 10**21) for k in range(-12, 12)]
    crossing = v3_world(ten)
    probe = crossing[1].copy()
    down = probe.amounts_to_price(get_sqrt_ratio_at_tick(base - 9 * spacing - spacing // 2))[0]
    cases = {
        "v3 inside one range": (one_range, (True, 10**18)),
        "v3 crossing 10 initialized ticks": (crossing, (True, down)),
    }

    # exactness: Keel and degenbot against QuoterV2 on random amounts, both directions
    checks: dict[str, list[tuple[bool, int]]] = {}
    exact: dict[str, dict[str, Any]] = {}
    degen_jobs = []
    for name, ((world, pool, _addr, quoter), timed_args) in cases.items():
        pts = [(rng.random() < 0.5, int(10 ** rng.uniform(6, 21))) for _ in range(200)] + [timed_args]
        checks[name] = pts
        ok = ticks_same = 0
        tick_examples: list[tuple[int, int]] = []
        contract_out = []
        for zfo, amount in pts:
            out = world.evm.raw.message_call(world.evm.me, quoter, quoter_call(world, zfo, amount), gas=30_000_000)
            amount_out, price_after, crossed, _gas = decode(["uint256", "uint160", "uint32", "uint256"], bytes(out))
            r = pool.quote_detailed(zfo, amount)
            keel_out = -(r.amount1 if zfo else r.amount0)
            partial = (r.amount0 if zfo else r.amount1) != amount
            same = keel_out == amount_out and r.sqrt_price_x96 == price_after
            ok += same or partial
            ticks_same += r.ticks_crossed == crossed
            if r.ticks_crossed != crossed and len(tick_examples) < 3:
                tick_examples.append((r.ticks_crossed, crossed))
            contract_out.append(None if partial else amount_out)
        exact[name] = {
            "keel_equal": ok,
            "checked": len(pts),
            "contract_out": contract_out,
            "ticks_same": ticks_same,
            "tick_examples": tick_examples,
        }
        degen_jobs.append({"name": name, **v3_state(pool), "check": [[z, str(a)] for z, a in pts],
                           "timed": [timed_args[0], str(timed_args[1])]})  # fmt: skip

    degen_child = start_degenbot(degen_jobs, args.batch)
    degen = degen_child.info if degen_child else None

    # ---------------------------------------------------------------- v4 world (+ Vyper quoter)
    w4 = V4World()
    qart = json.loads((ROOT / "node_modules/@uniswap/v4-periphery/foundry-out/V4Quoter.sol/V4Quoter.json").read_text())
    qcode = bytes.fromhex(qart["bytecode"]["object"].removeprefix("0x")) + encode(["address"], [w4.manager])
    v4_quoter = str(w4.evm.raw.deploy(w4.evm.me, qcode, gas=30_000_000))
    key = PoolKey(w4.tokens[0], w4.tokens[1], fee, spacing)
    start = get_sqrt_ratio_at_tick(base + spacing // 2)
    pm = PoolManager()
    for target in (w4, pm):
        target.initialize(key, start)
    w4.modify_liquidity(key, base - 6_000, base + 6_000, 10**24)
    pm.modify_liquidity(key, w4.liquidity_router, base - 6_000, base + 6_000, 10**24)
    v4q_sig = keccak(text=f"quoteExactInputSingle(({KEY_T},bool,uint128,bytes))")[:4]

    def v4_quote_call(zfo: bool, amount: int) -> bytes:
        return v4q_sig + encode([f"({KEY_T},bool,uint128,bytes)"], [(key.as_tuple(), zfo, amount, b"")])

    v4_ok = 0
    for _ in range(100):
        zfo, amount = rng.random() < 0.5, int(10 ** rng.uniform(6, 21))
        out = w4.evm.raw.message_call(w4.evm.me, v4_quoter, v4_quote_call(zfo, amount), gas=30_000_000)
        amount_out, _gas_estimate = decode(["uint256", "uint256"], bytes(out))
        q = pm.quote(key, zfo, -amount, MIN_SQRT + 1 if zfo else MAX_SQRT - 1)
        v4_ok += (q.amount1 if zfo else q.amount0) == amount_out and (q.amount0 if zfo else q.amount1) == -amount
    exact["v4 inside one range"] = {"keel_equal": v4_ok, "checked": 100}
    v4_quote_data = v4_quote_call(True, 10**18)
    swap_sig = keccak(text=f"swap({KEY_T},(bool,int256,uint160),(bool,bool),bytes)")[:4]
    v4_swaps = [
        swap_sig + encode([KEY_T, "(bool,int256,uint160)", "(bool,bool)", "bytes"],
                          [key.as_tuple(), (z, -(10**18), MIN_SQRT + 1 if z else MAX_SQRT - 1), (False, False), b""])
        for z in (True, False)
    ]  # fmt: skip

    # ---------------------------------------------------------------- timing, interleaved rounds
    contenders: dict[str, dict[str, Callable[[], object]]] = {}
    for name, ((world, pool, _addr, quoter), (zfo, amount)) in cases.items():
        raw, me = world.evm.raw, world.evm.me
        qdata = quoter_call(world, zfo, amount)
        back = -pool.quote(True, amount)[1]  # swap there and (about) back, so both sides keep one state
        swaps = (router_call(world, True, amount), router_call(world, False, back))
        snapshot = pool.copy()
        state = {"i": 0, "k": 0}

        def evm_quote(raw: Any = raw, me: str = me, q: str = quoter, d: bytes = qdata) -> None:
            raw.message_call(me, q, d, gas=30_000_000)

        def keel_quote(p: Pool = snapshot, z: bool = zfo, a: int = amount) -> None:
            p.quote(z, a)

        def evm_swap(raw: Any = raw, me: str = me, r: str = world.router, s: tuple[bytes, bytes] = swaps,
                     st: dict[str, int] = state) -> None:  # fmt: skip
            i = st["i"] = st["i"] ^ 1
            raw.message_call(me, r, s[i], gas=30_000_000)

        def keel_swap(p: Pool = pool, a: int = amount, b: int = back, st: dict[str, int] = state) -> None:
            i = st["k"] = st["k"] ^ 1
            if i:
                p.swap(True, a)
            else:
                p.swap(False, b)

        contenders[name] = {"quote: contract (pyrevm)": evm_quote, "quote: Keel": keel_quote}
        if name == "v3 inside one range":
            contenders["v3 swap inside one range"] = {"swap: SwapRouter (pyrevm)": evm_swap, "swap: Keel": keel_swap}
    v4state = {"i": 0, "k": 0}
    pm_snapshot = pm.copy()

    def v4_evm_quote() -> None:
        w4.evm.raw.message_call(w4.evm.me, v4_quoter, v4_quote_data, gas=30_000_000)

    def v4_keel_quote() -> None:
        pm_snapshot.quote(key, True, -(10**18), MIN_SQRT + 1)

    def v4_evm_swap() -> None:
        i = v4state["i"] = v4state["i"] ^ 1
        w4.evm.raw.message_call(w4.evm.me, w4.swap_router, v4_swaps[i], gas=30_000_000)

    def v4_keel_swap() -> None:
        i = v4state["k"] = v4state["k"] ^ 1
        pm.swap(key, bool(i), -(10**18), MIN_SQRT + 1 if i else MAX_SQRT - 1)

    contenders["v4 inside one range"] = {"quote: contract (pyrevm)": v4_evm_quote, "quote: Keel": v4_keel_quote}
    contenders["v4 swap inside one range"] = {"swap: PoolSwapTest (pyrevm)": v4_evm_swap, "swap: Keel": v4_keel_swap}

    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for case, fns in contenders.items():
            for label, fn in fns.items():
                batch = args.batch if "pyrevm" in label else args.batch * 5
                times.setdefault((case, label), []).append(timed(fn, batch))
        if degen_child is not None:
            degen_child.round()
    if degen_child is not None:
        degen_child.close()

    # float64 fast path over the crossing pool's curve (vectorized; no peer does this)
    import numpy as np

    curve = crossing[1].curve(True)
    sizes = np.random.default_rng(1).uniform(0.0, curve.max_amount_in, 1_000_000)
    float_s = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        curve.amount_out(sizes)
        float_s.append(time.perf_counter() - t0)

    # ---------------------------------------------------------------- report
    load = os.getloadavg()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    emit(f"# bench/amm.py {stamp}")
    cpus = os.cpu_count()
    emit(f"machine: {platform.machine()} {platform.processor() or ''} cpus={cpus}  python {platform.python_version()}")
    peer = degen["version"] if degen else "not run"
    emit(f"pyrevm {version('pyrevm')}; npm v3-periphery 1.4.4, v4-core 1.0.2, v4-periphery 1.0.3; degenbot {peer}")
    loads = " ".join(f"{x:.2f}" for x in load_before)
    emit(f"load average (1/5/15 min) before timing: {loads}; after: {' '.join(f'{x:.2f}' for x in load)}")
    emit(f"single thread (degenbot: its own process, one thread); {args.rounds} interleaved rounds")
    emit("")
    emit(
        "| case | contender | wall us/call min | median | max | CPU us/call median "
        "| contract / contender (wall) | (CPU) |"
    )
    emit("|---|---|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, float] = {}
    for case, fns in contenders.items():
        labels = list(fns)
        ref_wall = statistics.median(w for w, _ in times[(case, labels[0])])
        ref_cpu = statistics.median(c for _, c in times[(case, labels[0])])
        rows = [(label, times[(case, label)]) for label in labels]
        if case.startswith("v3 ") and "swap" not in case and degen:
            assert degen_child is not None
            rows.append((f"quote: degenbot {degen['version']}", degen_child.rounds[case]))
        for label, xs in rows:
            s = spread([w for w, _ in xs])
            cpu = statistics.median(c for _, c in xs)
            ratio, cpu_ratio = ref_wall / s["median"], ref_cpu / cpu
            emit(
                f"| {case} | {label} | {s['min']:.2f} | {s['median']:.2f} | {s['max']:.2f} | {cpu:.2f} | "
                f"{ratio:.1f}x | {cpu_ratio:.1f}x |"
            )
            summary[f"{case} | {label}"] = ratio
            summary[f"{case} | {label} | cpu"] = cpu_ratio
    emit("")
    emit("exactness against the contract (QuoterV2 / V4Quoter):")
    for case, e in exact.items():
        what = "amount out" if case.startswith("v4") else "amount out and price after"
        line = f"- {case}: Keel {e['keel_equal']}/{e['checked']} identical ({what})"
        if "ticks_same" in e:
            line += f", ticks crossed equal to QuoterV2's count in {e['ticks_same']}/{e['checked']}"
            if e["tick_examples"]:
                line += f" (Keel, QuoterV2: {e['tick_examples']})"
        if degen and case in degen["cases"]:
            answers = degen["cases"][case]["answers"]
            good = sum(1 for a, c in zip(answers, e["contract_out"], strict=True) if c is not None and str(a) == str(c))
            n = sum(1 for c in e["contract_out"] if c is not None)
            errs = sum(1 for a in answers if isinstance(a, str) and a.startswith("error"))
            line += f"; degenbot {good}/{n} identical ({errs} raised)"
        emit(line)
    keel_q = summary.get("v4 inside one range | quote: Keel", 0.0)
    v3_q = summary.get("v3 inside one range | quote: Keel", 0.0)
    keel_qc = summary.get("v4 inside one range | quote: Keel | cpu", 0.0)
    v3_qc = summary.get("v3 inside one range | quote: Keel | cpu", 0.0)
    emit("")
    emit("")
    rates = spread([1.0 / x for x in float_s])
    emit(
        f"float64 fast path (SwapCurve.amount_out, 1,000,000 sizes at once, {len(curve.liquidity)} segments): "
        f"{rates['median']:.1f} M quotes/s median (min {rates['min']:.1f}, max {rates['max']:.1f})"
    )
    verdict = {True: "met", False: "MISSED"}
    emit(
        "goal (#19/#20): Keel quote >= 30x the contract's read-only quote inside one range (CPU medians; "
        "wall in brackets): "
        f"v3 {v3_qc:.1f}x CPU {verdict[v3_qc >= 30]} ({v3_q:.1f}x wall {verdict[v3_q >= 30]}), "
        f"v4 {keel_qc:.1f}x CPU {verdict[keel_qc >= 30]} ({keel_q:.1f}x wall {verdict[keel_q >= 30]})"
    )
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".amm-{stamp}.txt.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out_dir / f"amm-{stamp}.txt")


if __name__ == "__main__":
    main()
