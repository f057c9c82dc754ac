"""StateLibrary's storage layout of the v4 PoolManager: which slot holds what.

Anything that reads a PoolManager's storage directly -- ``extsload`` on a live chain
(:mod:`keel.chain.v4`), a storage dump, an in-process EVM -- computes slots here and decodes the
words with :func:`decode_slot0` / :func:`decode_tick_word`.  Layout (v4-core 1.0.2
``StateLibrary``): ``_pools`` at slot 6; a pool's state at ``keccak(poolId . 6)``: slot0, then
fee growth 0 and 1, liquidity, and the ``ticks``, ``tickBitmap`` and ``positions`` mappings.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

__all__ = [
    "decode_slot0",
    "decode_tick_word",
    "pool_state_slot",
    "position_key",
    "position_slot",
    "tick_bitmap_slot",
    "tick_slot",
]

POOLS_SLOT = 6
FEE_GROWTH_GLOBAL0_OFFSET = 1
FEE_GROWTH_GLOBAL1_OFFSET = 2
LIQUIDITY_OFFSET = 3
TICKS_OFFSET = 4
TICK_BITMAP_OFFSET = 5
POSITIONS_OFFSET = 6
_MOD256 = 1 << 256


def _word(value: int) -> bytes:
    return (value % _MOD256).to_bytes(32, "big")


def pool_state_slot(pool_id: bytes) -> int:
    """Slot of a pool's ``Pool.State`` (its slot0); the other fields follow at the offsets."""
    return int.from_bytes(keccak(pool_id + _word(POOLS_SLOT)), "big")


def tick_slot(state_slot: int, tick: int) -> int:
    """First slot of ``ticks[tick]`` (liquidityGross | liquidityNet << 128; then the two outsides)."""
    return int.from_bytes(keccak(_word(tick) + _word(state_slot + TICKS_OFFSET)), "big")


def tick_bitmap_slot(state_slot: int, word_position: int) -> int:
    return int.from_bytes(keccak(_word(word_position) + _word(state_slot + TICK_BITMAP_OFFSET)), "big")


def position_key(owner: str, tick_lower: int, tick_upper: int, salt: bytes) -> bytes:
    """``keccak256(abi.encodePacked(owner, int24 tickLower, int24 tickUpper, salt))``."""
    return keccak(
        bytes.fromhex(owner[2:])
        + (tick_lower % (1 << 24)).to_bytes(3, "big")
        + (tick_upper % (1 << 24)).to_bytes(3, "big")
        + salt
    )


def position_slot(state_slot: int, owner: str, tick_lower: int, tick_upper: int, salt: bytes) -> int:
    """First slot of a position (liquidity; then the two fee-growth-inside-last words)."""
    key = position_key(owner, tick_lower, tick_upper, salt)
    return int.from_bytes(keccak(key + _word(state_slot + POSITIONS_OFFSET)), "big")


def decode_slot0(word: int) -> tuple[int, int, int, int]:
    """``(sqrt_price_x96, tick, protocol_fee, lp_fee)`` of a packed slot0 word."""
    sqrt_price = word & ((1 << 160) - 1)
    tick = (word >> 160) & 0xFFFFFF
    if tick >= 1 << 23:
        tick -= 1 << 24
    return sqrt_price, tick, (word >> 184) & 0xFFFFFF, (word >> 208) & 0xFFFFFF


def decode_tick_word(word: int) -> tuple[int, int]:
    """``(liquidity_gross, liquidity_net)`` of a tick's first word."""
    gross = word & ((1 << 128) - 1)
    net = word >> 128
    if net >= 1 << 127:
        net -= 1 << 128
    return gross, net
