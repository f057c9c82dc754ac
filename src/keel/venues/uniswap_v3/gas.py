"""Gas of one Uniswap v3 swap, as a function of the initialized ticks it crosses.

Measured for SwapRouter.exactInputSingle (v3-periphery 1.4.4) on the v3-core 1.0.1 pool on
py-evm (eth-tester, mainnet cold/warm accounting per transaction; tests/venues/test_v3_evm.py):
107.4k inside one range, +30.6k for the first initialized tick crossed (it also reads the
oracle once), +23.95k for every further one; 21000 intrinsic gas included.
"""

from __future__ import annotations

__all__ = ["SWAP_GAS_BASE", "SWAP_GAS_FIRST_CROSSING", "SWAP_GAS_PER_TICK", "swap_gas"]

SWAP_GAS_BASE = 107_000
SWAP_GAS_PER_TICK = 24_000
SWAP_GAS_FIRST_CROSSING = 7_000  # extra on top of SWAP_GAS_PER_TICK for the first crossing


def swap_gas(ticks_crossed: int) -> int:
    """Gas units of one v3 swap crossing ``ticks_crossed`` initialized ticks."""
    if ticks_crossed <= 0:
        return SWAP_GAS_BASE
    return SWAP_GAS_BASE + SWAP_GAS_FIRST_CROSSING + SWAP_GAS_PER_TICK * ticks_crossed
