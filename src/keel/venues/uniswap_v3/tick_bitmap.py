"""TickBitmap of Uniswap v3-core: one bit per initializable tick, 256 per word.

The bitmap is a ``dict`` word position -> uint256 word.  The swap loop walks it with
:func:`next_initialized_tick_within_one_word`, which (as in the contract) stops at
the edge of a word even when no tick there is initialized -- the extra swap step
this causes changes rounding, so it is reproduced exactly.
"""

from __future__ import annotations

from keel.venues.base import Revert

__all__ = ["flip_tick", "is_initialized", "next_initialized_tick_within_one_word", "position"]

_MAX_UINT256 = (1 << 256) - 1


def position(compressed: int) -> tuple[int, int]:
    """(word position, bit position) of a compressed tick (tick // tick_spacing)."""
    return compressed >> 8, compressed & 0xFF


def flip_tick(bitmap: dict[int, int], tick: int, tick_spacing: int) -> None:
    """Flip the initialized bit of ``tick`` (must be a multiple of ``tick_spacing``)."""
    if tick % tick_spacing != 0:
        raise Revert("", f"TickBitmap.flipTick: tick {tick} not a multiple of spacing {tick_spacing}")
    word, bit = position(tick // tick_spacing)
    value = bitmap.get(word, 0) ^ (1 << bit)
    if value:
        bitmap[word] = value
    else:
        bitmap.pop(word, None)


def is_initialized(bitmap: dict[int, int], tick: int, tick_spacing: int) -> bool:
    """Whether ``tick`` has its bit set."""
    word, bit = position(tick // tick_spacing)
    return bool(bitmap.get(word, 0) >> bit & 1)


def next_initialized_tick_within_one_word(
    bitmap: dict[int, int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """Next initialized tick at or left of ``tick`` (``lte``) or strictly right of it, within one word.

    Returns ``(next_tick, initialized)``; when nothing is initialized in the word the
    word's last tick in that direction is returned with ``initialized`` False.
    """
    compressed = tick // tick_spacing  # floor: the contract rounds toward negative infinity
    if lte:
        word, bit = compressed >> 8, compressed & 0xFF
        masked = bitmap.get(word, 0) & ((2 << bit) - 1)
        if masked:
            return (compressed - (bit - (masked.bit_length() - 1))) * tick_spacing, True
        return (compressed - bit) * tick_spacing, False
    compressed += 1
    word, bit = compressed >> 8, compressed & 0xFF
    masked = bitmap.get(word, 0) & (_MAX_UINT256 ^ ((1 << bit) - 1))
    if masked:
        return (compressed + ((masked & -masked).bit_length() - 1 - bit)) * tick_spacing, True
    return (compressed + (255 - bit)) * tick_spacing, False
