"""Position library of Uniswap v3-core: liquidity and fees owed per (owner, lower, upper).

Position state is a ``dict`` (owner, tick_lower, tick_upper) -> list ``[liquidity,
fee_growth_inside0_last_x128, fee_growth_inside1_last_x128, tokens_owed0, tokens_owed1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.venues.base import Revert
from keel.venues.uniswap_v3.liquidity_math import add_delta

__all__ = ["PositionInfo", "PositionKey", "info", "update"]

PositionKey = tuple[str, int, int]
_Q128 = 1 << 128
_MOD128 = (1 << 128) - 1
_MOD256 = (1 << 256) - 1


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """Public view of one position (the contract's ``positions(bytes32)`` getter)."""

    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int
    tokens_owed1: int


def info(positions: dict[PositionKey, list[int]], key: PositionKey) -> PositionInfo:
    """The :class:`PositionInfo` for ``key`` (all zero when absent)."""
    r = positions.get(key) or [0, 0, 0, 0, 0]
    return PositionInfo(r[0], r[1], r[2], r[3], r[4])


def update(
    positions: dict[PositionKey, list[int]],
    key: PositionKey,
    liquidity_delta: int,
    fee_growth_inside0_x128: int,
    fee_growth_inside1_x128: int,
) -> list[int]:
    """Credit fees accrued since the last touch, apply ``liquidity_delta``; reverts 'NP' on an empty poke."""
    old = positions.get(key)
    r = list(old) if old is not None else [0, 0, 0, 0, 0]
    if liquidity_delta == 0:
        if r[0] <= 0:
            raise Revert("NP", "poke of a position with no liquidity")
        liquidity_next = r[0]
    else:
        liquidity_next = add_delta(r[0], liquidity_delta)
    owed0 = (((fee_growth_inside0_x128 - r[1]) & _MOD256) * r[0] // _Q128) & _MOD128
    owed1 = (((fee_growth_inside1_x128 - r[2]) & _MOD256) * r[0] // _Q128) & _MOD128
    r[0] = liquidity_next
    r[1] = fee_growth_inside0_x128
    r[2] = fee_growth_inside1_x128
    if owed0 > 0 or owed1 > 0:
        r[3] = (r[3] + owed0) & _MOD128
        r[4] = (r[4] + owed1) & _MOD128
    positions[key] = r
    return r
