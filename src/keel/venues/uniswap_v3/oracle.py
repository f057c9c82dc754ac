"""Oracle library of Uniswap v3-core: the ring buffer of tick / liquidity accumulators.

Observations are a ``list`` of records ``[block_timestamp, tick_cumulative,
seconds_per_liquidity_cumulative_x128, initialized]``; the list only grows to the
cardinality asked for (the contract preallocates 65535 slots; an unallocated slot
reads as all zero, as in storage).  Timestamps are uint32 seconds and comparisons
are overflow-safe exactly as the contract's ``lte``; ``tick_cumulative`` wraps at
int56, ``seconds_per_liquidity`` at uint160, and interpolation truncates toward
zero like Solidity's signed division.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.venues.base import Revert

__all__ = [
    "Observation",
    "binary_search",
    "get_surrounding_observations",
    "grow",
    "initialize",
    "observe",
    "observe_single",
    "transform",
    "write",
]

_MOD32 = (1 << 32) - 1
_MOD160 = (1 << 160) - 1
_MAX_CARDINALITY = 65535


@dataclass(frozen=True, slots=True)
class Observation:
    """Public view of one observation (the contract's ``observations(uint256)`` getter)."""

    block_timestamp: int
    tick_cumulative: int
    seconds_per_liquidity_cumulative_x128: int
    initialized: bool


def _wrap56(x: int) -> int:
    x &= (1 << 56) - 1
    return x - (1 << 56) if x >= 1 << 55 else x


def _get(obs: list[list[int]], i: int) -> list[int]:
    return obs[i] if i < len(obs) else [0, 0, 0, 0]


def transform(last: list[int], block_timestamp: int, tick: int, liquidity: int) -> list[int]:
    """The observation ``last`` carried forward to ``block_timestamp`` at ``tick`` and ``liquidity``."""
    delta = (block_timestamp - last[0]) & _MOD32
    return [
        block_timestamp,
        _wrap56(last[1] + tick * delta),
        (last[2] + (delta << 128) // (liquidity if liquidity > 0 else 1)) & _MOD160,
        1,
    ]


def initialize(obs: list[list[int]], time: int) -> tuple[int, int]:
    """Write the first observation; returns (cardinality, cardinality_next) = (1, 1)."""
    if obs:
        obs[0] = [time, 0, 0, 1]
    else:
        obs.append([time, 0, 0, 1])
    return 1, 1


def write(
    obs: list[list[int]],
    index: int,
    block_timestamp: int,
    tick: int,
    liquidity: int,
    cardinality: int,
    cardinality_next: int,
) -> tuple[int, int]:
    """Write an observation (at most one per block); returns (index, cardinality) updated."""
    last = obs[index]
    if last[0] == block_timestamp:
        return index, cardinality
    if cardinality_next > cardinality and index == cardinality - 1:
        cardinality_updated = cardinality_next
    else:
        cardinality_updated = cardinality
    index_updated = (index + 1) % cardinality_updated
    while len(obs) <= index_updated:
        obs.append([0, 0, 0, 0])
    obs[index_updated] = transform(last, block_timestamp, tick, liquidity)
    return index_updated, cardinality_updated


def grow(obs: list[list[int]], current: int, next_: int) -> int:
    """Prepare slots up to ``next_`` (stamped with timestamp 1, as the contract does); reverts 'I' if uninitialized."""
    if current <= 0:
        raise Revert("I", "oracle not initialized")
    if next_ <= current:
        return current
    if next_ > _MAX_CARDINALITY:
        raise Revert("", f"cardinality {next_} exceeds uint16")
    while len(obs) < next_:
        obs.append([0, 0, 0, 0])
    for i in range(current, next_):
        obs[i] = [1, obs[i][1], obs[i][2], obs[i][3]]
    return next_


def _lte(time: int, a: int, b: int) -> bool:
    if a <= time and b <= time:
        return a <= b
    a_adj = a if a > time else a + (1 << 32)
    b_adj = b if b > time else b + (1 << 32)
    return a_adj <= b_adj


def binary_search(
    obs: list[list[int]], time: int, target: int, index: int, cardinality: int
) -> tuple[list[int], list[int]]:
    """The observations at or before and at or after ``target`` (which must lie inside the buffer)."""
    left = (index + 1) % cardinality
    right = left + cardinality - 1
    while True:
        i = (left + right) // 2
        before = _get(obs, i % cardinality)
        if not before[3]:
            left = i + 1
            continue
        after = _get(obs, (i + 1) % cardinality)
        target_at_or_after = _lte(time, before[0], target)
        if target_at_or_after and _lte(time, target, after[0]):
            return before, after
        if not target_at_or_after:
            right = i - 1
        else:
            left = i + 1


def get_surrounding_observations(
    obs: list[list[int]], time: int, target: int, tick: int, index: int, liquidity: int, cardinality: int
) -> tuple[list[int], list[int]]:
    """Observations bracketing ``target``; reverts 'OLD' when it predates the oldest one."""
    before = obs[index]
    if _lte(time, before[0], target):
        if before[0] == target:
            return before, [0, 0, 0, 0]
        return before, transform(before, target, tick, liquidity)
    before = _get(obs, (index + 1) % cardinality)
    if not before[3]:
        before = obs[0]
    if not _lte(time, before[0], target):
        raise Revert("OLD", f"target {target} older than the oldest observation {before[0]}")
    return binary_search(obs, time, target, index, cardinality)


def observe_single(
    obs: list[list[int]], time: int, seconds_ago: int, tick: int, index: int, liquidity: int, cardinality: int
) -> tuple[int, int]:
    """(tick_cumulative, seconds_per_liquidity_cumulative_x128) as of ``seconds_ago`` before ``time``."""
    if seconds_ago == 0:
        last = obs[index]
        if last[0] != time:
            last = transform(last, time, tick, liquidity)
        return last[1], last[2]
    target = (time - seconds_ago) & _MOD32
    before, after = get_surrounding_observations(obs, time, target, tick, index, liquidity, cardinality)
    if target == before[0]:
        return before[1], before[2]
    if target == after[0]:
        return after[1], after[2]
    time_delta = (after[0] - before[0]) & _MOD32
    target_delta = (target - before[0]) & _MOD32
    tick_diff = _wrap56(after[1] - before[1])
    per_second = abs(tick_diff) // time_delta * (1 if tick_diff >= 0 else -1)  # truncate toward zero
    tick_cumulative = _wrap56(before[1] + per_second * target_delta)
    spl_diff = (after[2] - before[2]) & _MOD160
    spl = (before[2] + spl_diff * target_delta // time_delta) & _MOD160
    return tick_cumulative, spl


def observe(
    obs: list[list[int]],
    time: int,
    seconds_agos: list[int] | tuple[int, ...],
    tick: int,
    index: int,
    liquidity: int,
    cardinality: int,
) -> tuple[list[int], list[int]]:
    """Accumulators for each of ``seconds_agos``; reverts 'I' when the oracle is uninitialized."""
    if cardinality <= 0:
        raise Revert("I", "oracle not initialized")
    tick_cumulatives: list[int] = []
    spls: list[int] = []
    for seconds_ago in seconds_agos:
        tc, spl = observe_single(obs, time, seconds_ago, tick, index, liquidity, cardinality)
        tick_cumulatives.append(tc)
        spls.append(spl)
    return tick_cumulatives, spls
