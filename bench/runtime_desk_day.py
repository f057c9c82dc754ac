"""The 7,200-block ETH desk day (examples/eth_options_desk.toml), one run per process, for whole-process
timing beside an older checkout: ``PYTHONPATH=CHECKOUT/src python bench/runtime_desk_day.py CHECKOUT``.

Works with this tree (``keel.runtime.run_scenario``) and with commits before the runtime existed
(``keel.sim.scenario.run_scenario``).  Prints the in-process wall and CPU seconds of the run (imports
and the numba cache load excluded) and the summary's block count and total PnL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    from keel.sim.config import load_config

    try:
        from keel.runtime import run_scenario
    except ImportError:
        from keel.sim.scenario import run_scenario  # type: ignore[attr-defined,no-redef]
    config = load_config(root / "examples" / "eth_options_desk.toml")
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_scenario(config, root)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = result.summary
    blocks, pnl = s["blocks"], s["pnl"]["total"]
    print(f"desk day: {blocks} blocks in {elapsed:.3f} s in-process ({cpu:.3f} s CPU); pnl total {pnl}")


if __name__ == "__main__":
    main()
