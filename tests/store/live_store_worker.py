"""Zygote for the store soak: ``python live_store_worker.py URL ADDRESSES CONFIG KEYSTORE DB PASSWORD TMP``.

As tests/chain/live_soak_worker.py, but every session keeps its journal in the store at DB (``LiveOptions.db``):
imports keel once, then for each stdin line ``STEP NTH BLOCKS`` forks a child that runs one live session and
SIGKILLs itself at the NTH time the transaction manager reaches STEP; answers ``EXIT <code>`` per line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _session(url: str, addresses: str, config: str, keystore: str, db: str, password: str, tmp: str, step: str,
             nth: int, blocks: int) -> int:  # fmt: skip
    from keel.chain import TestbedAddresses
    from keel.chain.environment import LivePool
    from keel.runtime.live import LiveOptions, run_live
    from keel.sim.config import load_config

    tb = TestbedAddresses.load(addresses)
    seen = [0]

    def hook(at: str, intent: str) -> None:
        if at == step:
            seen[0] += 1
            if seen[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    pools = [LivePool("uniswap_v3_usdc_weth", "uniswap_v3", tb.pool("uniswap_v3", 500).address, 500)]
    opts = LiveOptions(
        rpc=url, keystore=Path(keystore), journal=Path(tmp) / "unused.jsonl", blocks=blocks, pools=pools,
        v3_router=tb.swap_router, v2_router=tb.v2_router, vault=tb.vault, position_manager=tb.position_manager,
        tick_lens=tb.tick_lens, expected_chain_id=31337, mine=True, anchor_to_chain=True, password=password,
        echo=lambda _line: None, on_step=hook, handle_signals=False, db=db,
    )  # fmt: skip
    summary = asyncio.run(run_live(load_config(Path(config)), opts))
    return summary.exit_code


def main(argv: list[str]) -> None:
    url, addresses, config, keystore, db, password, tmp = argv[:7]
    import keel.runtime.live
    import keel.sim.config
    import keel.store.journal  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        step, nth, blocks = line.split()
        pid = os.fork()
        if pid == 0:
            code = 4
            try:
                code = _session(url, addresses, config, keystore, db, password, tmp, step, int(nth), int(blocks))
            except BaseException as exc:
                Path(tmp, "child-error.txt").write_text(f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code: Any = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"EXIT {code}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
