"""Zygote for the live soak test: ``python live_soak_worker.py URL ADDRESSES CONFIG KEYSTORE JOURNAL PASSWORD``.

Imports keel once, then for each stdin line ``STEP NTH BLOCKS`` forks a child that runs one live session on the
journal and SIGKILLs itself at the NTH time the transaction manager reaches STEP ("signed": journaled, not yet
sent; "sent": broadcast, receipt not yet read; "mined": receipt read, fill not yet booked).  The zygote itself
never runs a session (so it never starts compiled-kernel thread pools, and forking it stays safe); it answers
``EXIT <code>`` (negative: killed by that signal) per line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _session(url: str, addresses: str, config: str, keystore: str, journal: str, password: str, step: str,
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
        rpc=url, keystore=Path(keystore), journal=Path(journal), blocks=blocks, pools=pools,
        v3_router=tb.swap_router, v2_router=tb.v2_router, vault=tb.vault, position_manager=tb.position_manager,
        tick_lens=tb.tick_lens, expected_chain_id=31337, mine=True, anchor_to_chain=True, password=password,
        echo=lambda _line: None, on_step=hook, handle_signals=False, report=Path(journal).with_name("last.json"),
    )  # fmt: skip
    summary = asyncio.run(run_live(load_config(Path(config)), opts))
    return summary.exit_code


def main(argv: list[str]) -> None:
    url, addresses, config, keystore, journal, password = argv[:6]
    import keel.runtime.live
    import keel.sim.config  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        step, nth, blocks = line.split()
        pid = os.fork()
        if pid == 0:
            code = 4
            try:
                code = _session(url, addresses, config, keystore, journal, password, step, int(nth), int(blocks))
            except BaseException as exc:
                Path(journal).with_name("child-error.txt").write_text(f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code: Any = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"EXIT {code}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
