"""LPFeeLibrary and ProtocolFeeLibrary of Uniswap v4-core, in exact integers.

All fees are in pips (1_000_000 = 100%).  Where v4 differs from v3:

* the LP fee is a pool's own ``uint24`` (any value up to 100%, not a factory tier), or the
  dynamic-fee flag ``0x800000``: such a pool starts at an LP fee of 0 and its hooks address sets
  it with ``updateDynamicLPFee``; a ``beforeSwap`` hook of a dynamic pool may override it for one
  swap (value with ``0x400000`` set);
* the protocol fee is two 12-bit pips values (``zeroForOne`` in bits 0-11, ``oneForZero`` in
  bits 12-23), each at most 1000 (0.1%), taken from the input *before* the LP fee:
  ``swapFee = protocolFee + lpFee - protocolFee * lpFee / 1e6`` (rounded down), not v3's 1/N of
  the LP fee.
"""

from __future__ import annotations

__all__ = [
    "DYNAMIC_FEE_FLAG",
    "MAX_LP_FEE",
    "MAX_PROTOCOL_FEE",
    "OVERRIDE_FEE_FLAG",
    "PIPS_DENOMINATOR",
    "calculate_swap_fee",
    "initial_lp_fee",
    "is_dynamic_fee",
    "is_valid_protocol_fee",
    "one_for_zero_fee",
    "zero_for_one_fee",
]

DYNAMIC_FEE_FLAG = 0x800000
OVERRIDE_FEE_FLAG = 0x400000
REMOVE_OVERRIDE_MASK = 0xBFFFFF
MAX_LP_FEE = 1_000_000
MAX_PROTOCOL_FEE = 1000
PIPS_DENOMINATOR = 1_000_000


def is_dynamic_fee(fee: int) -> bool:
    """Whether a PoolKey ``fee`` is the dynamic-fee flag (exactly ``0x800000``)."""
    return fee == DYNAMIC_FEE_FLAG


def initial_lp_fee(fee: int) -> int:
    """LP fee a pool starts with: 0 for a dynamic-fee pool, else ``fee`` (must be <= 1_000_000)."""
    return 0 if is_dynamic_fee(fee) else fee


def zero_for_one_fee(protocol_fee: int) -> int:
    """Protocol fee (pips) on zeroForOne swaps: the low 12 bits."""
    return protocol_fee & 0xFFF


def one_for_zero_fee(protocol_fee: int) -> int:
    """Protocol fee (pips) on oneForZero swaps: bits 12-23."""
    return (protocol_fee >> 12) & 0xFFF


def is_valid_protocol_fee(protocol_fee: int) -> bool:
    """Both directions at most :data:`MAX_PROTOCOL_FEE` (as ``isValidProtocolFee``)."""
    return (protocol_fee & 0xFFF) <= MAX_PROTOCOL_FEE and (protocol_fee & 0xFFF000) < (1001 << 12)


def calculate_swap_fee(protocol_fee: int, lp_fee: int) -> int:
    """Total swap fee in pips: ``p + lp - p * lp // 1e6`` (the protocol takes its cut first)."""
    p = protocol_fee & 0xFFF
    return p + lp_fee - p * lp_fee // PIPS_DENOMINATOR
