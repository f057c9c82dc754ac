"""UniswapV3Pool in exact Python integers: mint, burn, collect, swap, oracle, protocol fees.

Semantics follow ``UniswapV3Pool.sol`` of v3-core 1.0.1 line by line where it
matters for results: the swap loop walks the tick bitmap one word at a time,
rounds every step like SwapMath, accrues fee growth per step, crosses initialized
ticks (flipping their outside accumulators) and writes one oracle observation per
block.  A call the contract would revert raises :class:`keel.venues.Revert` with
the contract's reason string and leaves the pool unchanged.

Amounts are ints in base units.  ``swap`` and ``mint``/``burn`` return deltas
from the pool's side: positive = paid into the pool.  The block time the oracle
sees is ``pool.block_timestamp`` (uint32 seconds, set by the caller).

Money never leaves the pool without an explicit call; there is no token
accounting beyond what the contract itself keeps (``protocol_fees0/1`` and
positions' ``tokens_owed``).  An optional ``pay`` callback on ``swap``/``mint``
plays the role of the contract's callback: it receives what is owed and returns
what was paid; paying less reverts 'IIA' (swap) or 'M0'/'M1' (mint).

Gas: :func:`swap_gas` -- :data:`SWAP_GAS_BASE` plus :data:`SWAP_GAS_PER_TICK` per
initialized tick crossed (plus :data:`SWAP_GAS_FIRST_CROSSING` once), measured on the
real contracts through SwapRouter.exactInputSingle (see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import floor, log

from keel.domain import PoolState, TickState, Token
from keel.errors import ValidationError
from keel.venues.base import Revert, SwapQuote, default_venue_name
from keel.venues.state_version import next_state_version
from keel.venues.uniswap_v3 import oracle as _oracle
from keel.venues.uniswap_v3 import position as _position
from keel.venues.uniswap_v3 import tick as _tick
from keel.venues.uniswap_v3.fast_path import SwapCurve, build_curve
from keel.venues.uniswap_v3.gas import SWAP_GAS_BASE, SWAP_GAS_FIRST_CROSSING, SWAP_GAS_PER_TICK, swap_gas
from keel.venues.uniswap_v3.liquidity_math import add_delta
from keel.venues.uniswap_v3.sqrt_price_math import (
    get_amount0_delta_signed,
    get_amount1_delta_signed,
    get_next_sqrt_price_from_input,
)
from keel.venues.uniswap_v3.swap_math import compute_swap_step
from keel.venues.uniswap_v3.tick_bitmap import flip_tick
from keel.venues.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    SQRT_RATIO_CACHE,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from keel.venues.uniswap_v3.tick_table import TickTable, build_tick_table

__all__ = [
    "SWAP_GAS_BASE",
    "SWAP_GAS_FIRST_CROSSING",
    "SWAP_GAS_PER_TICK",
    "Pool",
    "Slot0",
    "SwapResult",
    "swap_gas",
]

_Q128 = 1 << 128
_MOD256 = (1 << 256) - 1
_MOD128 = (1 << 128) - 1
_MOD32 = (1 << 32) - 1
_MOD160 = (1 << 160) - 1
_INT128_MAX = (1 << 127) - 1
_MAX_UINT256 = (1 << 256) - 1
_PIPS = 1_000_000
_LOG_SQRT_10001 = log(1.0001) / 2.0
_LN_Q96 = 96 * log(2.0)

_PayCallback = Callable[[int, int], tuple[int, int]]


_INT255 = 1 << 255
_UINT160 = 1 << 160


def _uint(field: str, value: object, bits: int) -> int:
    """``value`` as the contract's ``uint<bits>`` argument; anything the ABI cannot encode is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, f"must be an int (uint{bits})")
    if not 0 <= value < 1 << bits:
        raise ValidationError(field, value, f"out of the uint{bits} range")
    return value


def _sint(field: str, value: object, bits: int) -> int:
    """``value`` as the contract's ``int<bits>`` argument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, f"must be an int (int{bits})")
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValidationError(field, value, f"out of the int{bits} range")
    return value


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, value, "must be a bool")
    return value


def _owner(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("owner", value, "must be a non-empty address or name")
    return value


@dataclass(frozen=True, slots=True)
class Slot0:
    """The contract's ``slot0``."""

    sqrt_price_x96: int
    tick: int
    observation_index: int
    observation_cardinality: int
    observation_cardinality_next: int
    fee_protocol: int
    unlocked: bool


@dataclass(frozen=True, slots=True)
class SwapResult:
    """Everything one swap did: pool-side deltas (positive = into the pool) and the end state."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int
    fee_growth_global_x128: int  # of the input token, after the swap
    protocol_fee: int


class Pool:
    """A Uniswap v3 pool.  ``fee`` in pips (500 = 0.05%); ``tick_spacing`` as the factory sets it.

    ``state_version`` takes a fresh value on every state change (swap, mint, burn, collect,
    flash, protocol-fee calls, oracle growth; :mod:`keel.venues.state_version`), so caches key
    on it; ``updated_ns`` is the timestamp of the state (staleness), set by whoever feeds it.
    :meth:`tick_table` is the cached sorted table of initialized ticks.

    ``sqrt_price_x96`` > 0 initializes the pool at that price (like ``initialize``);
    0 leaves it uninitialized (every call reverts 'LOK' until :meth:`initialize`).
    """

    def __init__(
        self,
        fee: int,
        tick_spacing: int,
        sqrt_price_x96: int,
        *,
        token0: Token | None = None,
        token1: Token | None = None,
        block_timestamp: int = 0,
        name: str | None = None,
        updated_ns: int = 0,
    ) -> None:
        if isinstance(fee, bool) or not isinstance(fee, int) or not 0 <= fee < _PIPS:
            raise ValidationError("fee", fee, "must be an int in [0, 1_000_000) pips")
        if isinstance(tick_spacing, bool) or not isinstance(tick_spacing, int) or not 0 < tick_spacing < 16384:
            raise ValidationError("tick_spacing", tick_spacing, "must be an int in (0, 16384)")
        if isinstance(sqrt_price_x96, bool) or not isinstance(sqrt_price_x96, int) or sqrt_price_x96 < 0:
            raise ValidationError("sqrt_price_x96", sqrt_price_x96, "must be a non-negative int (Q64.96)")
        self.fee = fee
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = _tick.tick_spacing_to_max_liquidity_per_tick(tick_spacing)
        self.token0 = token0 if token0 is not None else Token("TOKEN0", 18)
        self.token1 = token1 if token1 is not None else Token("TOKEN1", 18)
        if self.token0 == self.token1:
            raise ValidationError("token1", self.token1, "must differ from token0")
        self.name = name if name is not None else default_venue_name(f"uniswap_v3:{self.token0}/{self.token1}:{fee}")
        self.updated_ns = updated_ns
        self.block_timestamp = block_timestamp
        self.sqrt_price_x96 = 0
        self.tick = 0
        self.observation_index = 0
        self.observation_cardinality = 0
        self.observation_cardinality_next = 0
        self.fee_protocol = 0
        self.unlocked = False
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.protocol_fees0 = 0
        self.protocol_fees1 = 0
        self.liquidity = 0
        self._ticks: dict[int, list[int]] = {}
        self._bitmap: dict[int, int] = {}
        self._positions: dict[_position.PositionKey, list[int]] = {}
        self._obs: list[list[int]] = []
        self._shared = False
        self._tick_table: TickTable | None = None
        self.state_version = next_state_version()
        if sqrt_price_x96:
            self.initialize(sqrt_price_x96)

    # ------------------------------------------------------------------ state views
    @property
    def slot0(self) -> Slot0:
        """The contract's ``slot0()``."""
        return Slot0(
            self.sqrt_price_x96,
            self.tick,
            self.observation_index,
            self.observation_cardinality,
            self.observation_cardinality_next,
            self.fee_protocol,
            self.unlocked,
        )

    def ticks(self, tick: int) -> _tick.TickInfo:
        """The contract's ``ticks(tick)``."""
        return _tick.info(self._ticks, tick)

    def positions(self, owner: str, tick_lower: int, tick_upper: int) -> _position.PositionInfo:
        """The contract's ``positions(keccak(owner, lower, upper))``."""
        return _position.info(self._positions, (owner, tick_lower, tick_upper))

    def observations(self, index: int) -> _oracle.Observation:
        """The contract's ``observations(index)``."""
        r = self._obs[index] if 0 <= index < len(self._obs) else [0, 0, 0, 0]
        return _oracle.Observation(r[0], r[1], r[2], bool(r[3]))

    def tick_bitmap(self, word_position: int) -> int:
        """The contract's ``tickBitmap(wordPosition)``."""
        return self._bitmap.get(word_position, 0)

    def initialized_ticks(self) -> list[int]:
        """Every initialized tick, ascending."""
        return list(self.tick_table().ticks)

    def tick_table(self) -> TickTable:
        """Initialized ticks and their ``liquidity_net``, ascending (:class:`TickTable`).

        Cached: rebuilt only after a mint or burn changed liquidity (swaps keep it); immutable
        and shared with copies until either side changes its liquidity.
        """
        table = self._tick_table
        if table is None:
            table = self._tick_table = build_tick_table(self._ticks)
        return table

    @property
    def gas_per_swap(self) -> int:
        """Gas units of a swap that crosses no initialized tick."""
        return SWAP_GAS_BASE

    @property
    def gas_per_tick_crossed(self) -> int:
        """Extra gas units per initialized tick a swap crosses."""
        return SWAP_GAS_PER_TICK

    def swap_gas(self, ticks_crossed: int) -> int:
        """Gas units of a swap crossing ``ticks_crossed`` initialized ticks (see :func:`swap_gas`)."""
        return swap_gas(ticks_crossed)

    # ------------------------------------------------------------------ copy-on-write
    def copy(self) -> Pool:
        """An independent copy in O(1): tick, position and oracle tables are shared until either side writes."""
        new = object.__new__(Pool)
        new.__dict__.update(self.__dict__)
        self._shared = True
        new._shared = True
        return new

    def _own(self) -> None:
        if self._shared:
            # records are replaced (never mutated) by the libraries, so shallow copies suffice
            self._ticks = dict(self._ticks)
            self._bitmap = dict(self._bitmap)
            self._positions = dict(self._positions)
            self._obs = list(self._obs)
            self._shared = False

    @property
    def _time(self) -> int:
        return self.block_timestamp & _MOD32

    def _lock(self) -> None:
        if not self.unlocked:
            raise Revert("LOK", "pool locked or not initialized")

    # ------------------------------------------------------------------ initialize / oracle
    def initialize(self, sqrt_price_x96: int) -> None:
        """Set the first price; reverts 'AI' when already initialized, 'R' outside the price range."""
        _uint("sqrt_price_x96", sqrt_price_x96, 160)
        if self.sqrt_price_x96 != 0:
            raise Revert("AI", "pool already initialized")
        tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
        self._own()
        cardinality, cardinality_next = _oracle.initialize(self._obs, self._time)
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = tick
        self.observation_index = 0
        self.observation_cardinality = cardinality
        self.observation_cardinality_next = cardinality_next
        self.fee_protocol = 0
        self.unlocked = True
        self.state_version = next_state_version()

    def increase_observation_cardinality_next(self, observation_cardinality_next: int) -> None:
        """Grow the oracle ring buffer to at least ``observation_cardinality_next`` slots."""
        _uint("observation_cardinality_next", observation_cardinality_next, 16)
        self._lock()
        self._own()
        old = self.observation_cardinality_next
        self.observation_cardinality_next = _oracle.grow(self._obs, old, observation_cardinality_next)
        self.state_version = next_state_version()

    def observe(self, seconds_agos: Sequence[int]) -> tuple[list[int], list[int]]:
        """(tick_cumulatives, seconds_per_liquidity_cumulative_x128s) for each of ``seconds_agos`` before now.

        Reverts 'OLD' when a target predates the oldest observation, 'I' before initialization.
        """
        if isinstance(seconds_agos, str | bytes):
            raise ValidationError("seconds_agos", seconds_agos, "must be a sequence of uint32 ints")
        seconds_agos = [_uint("seconds_agos", a, 32) for a in seconds_agos]
        return _oracle.observe(
            self._obs,
            self._time,
            list(seconds_agos),
            self.tick,
            self.observation_index,
            self.liquidity,
            self.observation_cardinality,
        )

    def snapshot_cumulatives_inside(self, tick_lower: int, tick_upper: int) -> tuple[int, int, int]:
        """(tick_cumulative_inside, seconds_per_liquidity_inside_x128, seconds_inside) of a range."""
        _sint("tick_lower", tick_lower, 24)
        _sint("tick_upper", tick_upper, 24)
        _check_ticks(tick_lower, tick_upper)
        lower = self._ticks.get(tick_lower)
        upper = self._ticks.get(tick_upper)
        if lower is None or not lower[7]:
            raise Revert("", f"tick {tick_lower} not initialized")
        if upper is None or not upper[7]:
            raise Revert("", f"tick {tick_upper} not initialized")
        wrap56 = _tick.wrap_int56
        mod160 = (1 << 160) - 1
        if self.tick < tick_lower:
            return (
                wrap56(lower[4] - upper[4]),
                (lower[5] - upper[5]) & mod160,
                (lower[6] - upper[6]) & _MOD32,
            )
        if self.tick < tick_upper:
            time = self._time
            tc, spl = _oracle.observe_single(
                self._obs, time, 0, self.tick, self.observation_index, self.liquidity, self.observation_cardinality
            )
            return (
                wrap56(tc - lower[4] - upper[4]),
                (spl - lower[5] - upper[5]) & mod160,
                (time - lower[6] - upper[6]) & _MOD32,
            )
        return (
            wrap56(upper[4] - lower[4]),
            (upper[5] - lower[5]) & mod160,
            (upper[6] - lower[6]) & _MOD32,
        )

    # ------------------------------------------------------------------ liquidity
    def _modify_position(self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int) -> tuple[int, int]:
        _check_ticks(tick_lower, tick_upper)
        self._own()
        self.state_version = next_state_version()
        if liquidity_delta != 0:
            self._tick_table = None  # liquidity_net of the range's ticks changes
        ticks, bitmap, positions = self._ticks, self._bitmap, self._positions
        key = (owner, tick_lower, tick_upper)
        spacing = self.tick_spacing
        journal = (
            ticks.get(tick_lower),
            ticks.get(tick_upper),
            bitmap.get(tick_lower // spacing >> 8),
            bitmap.get(tick_upper // spacing >> 8),
            positions.get(key),
        )
        tick_now = self.tick
        fg0, fg1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        try:
            flipped_lower = flipped_upper = False
            if liquidity_delta != 0:
                time = self._time
                tc, spl = _oracle.observe_single(
                    self._obs, time, 0, tick_now, self.observation_index, self.liquidity, self.observation_cardinality
                )
                max_liq = self.max_liquidity_per_tick
                flipped_lower = _tick.update(
                    ticks, tick_lower, tick_now, liquidity_delta, fg0, fg1, spl, tc, time, False, max_liq
                )
                flipped_upper = _tick.update(
                    ticks, tick_upper, tick_now, liquidity_delta, fg0, fg1, spl, tc, time, True, max_liq
                )
                if flipped_lower:
                    flip_tick(bitmap, tick_lower, spacing)
                if flipped_upper:
                    flip_tick(bitmap, tick_upper, spacing)
            fgi0, fgi1 = _tick.get_fee_growth_inside(ticks, tick_lower, tick_upper, tick_now, fg0, fg1)
            _position.update(positions, key, liquidity_delta, fgi0, fgi1)
            if liquidity_delta < 0:
                if flipped_lower:
                    _tick.clear(ticks, tick_lower)
                if flipped_upper:
                    _tick.clear(ticks, tick_upper)
            amount0 = amount1 = 0
            new_liquidity = self.liquidity
            if liquidity_delta != 0:
                sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
                sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
                if tick_now < tick_lower:
                    amount0 = get_amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
                elif tick_now < tick_upper:
                    amount0 = get_amount0_delta_signed(self.sqrt_price_x96, sqrt_upper, liquidity_delta)
                    amount1 = get_amount1_delta_signed(sqrt_lower, self.sqrt_price_x96, liquidity_delta)
                    new_liquidity = add_delta(self.liquidity, liquidity_delta)
                else:
                    amount1 = get_amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
        except Revert:
            for t, rec in ((tick_lower, journal[0]), (tick_upper, journal[1])):
                if rec is None:
                    ticks.pop(t, None)
                else:
                    ticks[t] = rec
            for t, word in ((tick_lower, journal[2]), (tick_upper, journal[3])):
                if word is None:
                    bitmap.pop(t // spacing >> 8, None)
                else:
                    bitmap[t // spacing >> 8] = word
            if journal[4] is None:
                positions.pop(key, None)
            else:
                positions[key] = journal[4]
            raise
        if tick_lower <= tick_now < tick_upper and liquidity_delta != 0:
            self.observation_index, self.observation_cardinality = _oracle.write(
                self._obs,
                self.observation_index,
                self._time,
                tick_now,
                self.liquidity,
                self.observation_cardinality,
                self.observation_cardinality_next,
            )
            self.liquidity = new_liquidity
        return amount0, amount1

    def mint(
        self, owner: str, tick_lower: int, tick_upper: int, amount: int, *, pay: _PayCallback | None = None
    ) -> tuple[int, int]:
        """Add ``amount`` liquidity to owner's range; returns the (amount0, amount1) owed to the pool.

        Reverts 'TLU'/'TLM'/'TUM' on bad ticks, 'LO' above the per-tick maximum, 'M0'/'M1'
        when ``pay`` pays less than owed.
        """
        _owner(owner)
        _sint("tick_lower", tick_lower, 24)
        _sint("tick_upper", tick_upper, 24)
        _uint("amount", amount, 128)
        self._lock()
        if amount <= 0:
            raise Revert("", f"mint amount {amount} must be positive")
        if amount > _INT128_MAX:
            raise Revert("", f"SafeCast: mint amount {amount} overflows int128")
        if pay is not None:
            backup = self.copy()
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, amount)
        if pay is not None:
            paid0, paid1 = pay(amount0, amount1)
            reason = "M0" if amount0 > 0 and paid0 < amount0 else "M1" if amount1 > 0 and paid1 < amount1 else ""
            if reason:
                self.__dict__.update(backup.__dict__)
                self.state_version = next_state_version()
                raise Revert(reason, f"paid ({paid0}, {paid1}) < owed ({amount0}, {amount1})")
        return amount0, amount1

    def burn(self, owner: str, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int]:
        """Remove ``amount`` liquidity; the (amount0, amount1) it frees are credited to tokens_owed.

        ``amount`` 0 "pokes" the position (credits fees; reverts 'NP' if it has no liquidity).
        """
        _owner(owner)
        _sint("tick_lower", tick_lower, 24)
        _sint("tick_upper", tick_upper, 24)
        _uint("amount", amount, 128)
        self._lock()
        if not 0 <= amount <= _INT128_MAX:
            raise Revert("", f"SafeCast: burn amount {amount} out of int128 range")
        amount0_int, amount1_int = self._modify_position(owner, tick_lower, tick_upper, -amount)
        amount0, amount1 = -amount0_int, -amount1_int
        if amount0 > 0 or amount1 > 0:
            key = (owner, tick_lower, tick_upper)
            r = list(self._positions[key])
            r[3] = (r[3] + amount0) & _MOD128
            r[4] = (r[4] + amount1) & _MOD128
            self._positions[key] = r
        return amount0, amount1

    def collect(
        self, owner: str, tick_lower: int, tick_upper: int, amount0_requested: int, amount1_requested: int
    ) -> tuple[int, int]:
        """Withdraw up to the requested tokens owed to a position; returns what was withdrawn."""
        _owner(owner)
        _sint("tick_lower", tick_lower, 24)
        _sint("tick_upper", tick_upper, 24)
        _uint("amount0_requested", amount0_requested, 128)
        _uint("amount1_requested", amount1_requested, 128)
        self._lock()
        key = (owner, tick_lower, tick_upper)
        rec = self._positions.get(key)
        owed0, owed1 = (rec[3], rec[4]) if rec is not None else (0, 0)
        amount0 = min(amount0_requested, owed0)
        amount1 = min(amount1_requested, owed1)
        if rec is not None and (amount0 > 0 or amount1 > 0):
            self._own()
            r = list(rec)
            r[3] -= amount0
            r[4] -= amount1
            self._positions[key] = r
            self.state_version = next_state_version()
        return amount0, amount1

    # ------------------------------------------------------------------ protocol fees / flash
    def set_fee_protocol(self, fee_protocol0: int, fee_protocol1: int) -> None:
        """Owner call: protocol takes 1/N of swap fees (N in {0, 4..10}); reverts '' otherwise."""
        _uint("fee_protocol0", fee_protocol0, 8)
        _uint("fee_protocol1", fee_protocol1, 8)
        self._lock()
        for n in (fee_protocol0, fee_protocol1):
            if not (n == 0 or 4 <= n <= 10):
                raise Revert("", f"fee protocol {n} not in {{0, 4..10}}")
        self.fee_protocol = fee_protocol0 + (fee_protocol1 << 4)
        self.state_version = next_state_version()

    def collect_protocol(self, amount0_requested: int, amount1_requested: int) -> tuple[int, int]:
        """Owner call: withdraw protocol fees (the contract leaves 1 wei in each slot)."""
        _uint("amount0_requested", amount0_requested, 128)
        _uint("amount1_requested", amount1_requested, 128)
        self._lock()
        amount0 = min(amount0_requested, self.protocol_fees0)
        amount1 = min(amount1_requested, self.protocol_fees1)
        if amount0 > 0:
            if amount0 == self.protocol_fees0:
                amount0 -= 1
            self.protocol_fees0 -= amount0
        if amount1 > 0:
            if amount1 == self.protocol_fees1:
                amount1 -= 1
            self.protocol_fees1 -= amount1
        self.state_version = next_state_version()
        return amount0, amount1

    def flash(self, amount0: int, amount1: int, paid0: int, paid1: int) -> tuple[int, int]:
        """Flash loan repaid with ``paid0/paid1`` on top of the loan; returns the fees (fee0, fee1).

        Reverts 'L' without liquidity, 'F0'/'F1' when the payment is below the fee.
        """
        _uint("amount0", amount0, 256)
        _uint("amount1", amount1, 256)
        _uint("paid0", paid0, 256)
        _uint("paid1", paid1, 256)
        self._lock()
        liquidity = self.liquidity
        if liquidity <= 0:
            raise Revert("L", "flash needs in-range liquidity")
        fee0 = -(-(amount0 * self.fee) // _PIPS)
        fee1 = -(-(amount1 * self.fee) // _PIPS)
        if paid0 < fee0:
            raise Revert("F0", f"paid {paid0} < fee {fee0}")
        if paid1 < fee1:
            raise Revert("F1", f"paid {paid1} < fee {fee1}")
        self.state_version = next_state_version()
        if paid0 > 0:
            p0 = self.fee_protocol % 16
            fees = paid0 // p0 if p0 else 0
            self.protocol_fees0 += fees
            self.fee_growth_global0_x128 = (
                self.fee_growth_global0_x128 + (paid0 - fees) * _Q128 // liquidity
            ) & _MOD256
        if paid1 > 0:
            p1 = self.fee_protocol >> 4
            fees = paid1 // p1 if p1 else 0
            self.protocol_fees1 += fees
            self.fee_growth_global1_x128 = (
                self.fee_growth_global1_x128 + (paid1 - fees) * _Q128 // liquidity
            ) & _MOD256
        return fee0, fee1

    # ------------------------------------------------------------------ swap
    def _swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None, commit: bool
    ) -> tuple[SwapResult, list[tuple[int, int, int]]]:
        r = self._swap_core(zero_for_one, amount_specified, sqrt_price_limit_x96)
        crossings = r[7]
        return SwapResult(r[0], r[1], r[2], r[3], r[4], len(crossings), r[5], r[6]), crossings

    def _swap_core(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None, with_growth: bool = True
    ) -> tuple[int, int, int, int, int, int, int, list[tuple[int, int, int]]]:
        """The swap loop of UniswapV3Pool.swap, without writing anything.

        Returns (amount0, amount1, sqrt_price, tick, liquidity, fee_growth_in, protocol_fee,
        crossings).  Exact-input steps are SwapMath.computeSwapStep inlined (same integer
        operations, same overflow branches); exact-output steps call it.
        """
        if type(zero_for_one) is not bool:
            _flag("zero_for_one", zero_for_one)
        if type(amount_specified) is not int or not -_INT255 <= amount_specified < _INT255:
            _sint("amount_specified", amount_specified, 256)
        if sqrt_price_limit_x96 is not None and (
            type(sqrt_price_limit_x96) is not int or not 0 <= sqrt_price_limit_x96 < _UINT160
        ):
            _uint("sqrt_price_limit_x96", sqrt_price_limit_x96, 160)
        if amount_specified == 0:
            raise Revert("AS", "amount specified is zero")
        if not self.unlocked:
            raise Revert("LOK", "pool locked or not initialized")
        sp = self.sqrt_price_x96
        if sqrt_price_limit_x96 is None:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        else:
            limit = sqrt_price_limit_x96
        if zero_for_one:
            if not (limit < sp and limit > MIN_SQRT_RATIO):
                raise Revert("SPL", f"limit {limit} not in (MIN_SQRT_RATIO, {sp})")
        elif not (limit > sp and limit < MAX_SQRT_RATIO):
            raise Revert("SPL", f"limit {limit} not in ({sp}, MAX_SQRT_RATIO)")
        fee = self.fee
        complement = _PIPS - fee
        fee_protocol = self.fee_protocol % 16 if zero_for_one else self.fee_protocol >> 4
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        tick = self.tick
        liquidity = self.liquidity
        fee_growth = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        other_growth = self.fee_growth_global1_x128 if zero_for_one else self.fee_growth_global0_x128
        protocol_fee = 0
        spacing = self.tick_spacing
        bitmap_get = self._bitmap.get
        ticks = self._ticks
        sqrt_cache = SQRT_RATIO_CACHE
        crossings: list[tuple[int, int, int]] = []  # (tick, fee_growth0, fee_growth1) at each crossing
        first = True
        while remaining != 0 and sp != limit:
            start = sp
            # TickBitmap.nextInitializedTickWithinOneWord
            compressed = tick // spacing
            if zero_for_one:
                bit = compressed & 0xFF
                masked = bitmap_get(compressed >> 8, 0) & ((2 << bit) - 1)
                if masked:
                    tick_next = (compressed - bit + masked.bit_length() - 1) * spacing
                    initialized = True
                else:
                    tick_next = (compressed - bit) * spacing
                    initialized = False
                if tick_next < MIN_TICK:
                    tick_next = MIN_TICK
            else:
                compressed += 1
                bit = compressed & 0xFF
                masked = bitmap_get(compressed >> 8, 0) >> bit
                if masked:
                    tick_next = (compressed + (masked & -masked).bit_length() - 1) * spacing
                    initialized = True
                else:
                    tick_next = (compressed + 255 - bit) * spacing
                    initialized = False
                if tick_next > MAX_TICK:
                    tick_next = MAX_TICK
            sp_next = sqrt_cache.get(tick_next) or get_sqrt_ratio_at_tick(tick_next)
            if zero_for_one:
                target = limit if sp_next < limit else sp_next
            else:
                target = limit if sp_next > limit else sp_next
            # SwapMath.computeSwapStep
            if liquidity == 0:
                sp, amount_in, amount_out, fee_amount = target, 0, 0, 0
            elif exact_input:
                rest = remaining * complement // _PIPS
                if zero_for_one:
                    num1 = liquidity << 96
                    nxt = 0
                    if first and rest > 0:
                        # Most swaps end in their first step: try the end price first.  If it lies
                        # above the target, rest < amountIn(target) is certain (ceil of the exact price
                        # would be <= target otherwise), so this is the contract's "not reached" branch.
                        denominator = num1 + rest * sp
                        if denominator <= _MAX_UINT256:
                            candidate = -(-num1 * sp // denominator)
                            if candidate > target:
                                nxt = candidate
                    if nxt:
                        amount_in = -(-num1 * (sp - nxt) // (sp * nxt))
                    # getAmount0Delta rounding up; ceil(ceil(p/b)/a) == ceil(p/(a*b))
                    elif rest >= (amount_in := -(-num1 * (sp - target) // (sp * target))):
                        nxt = target
                    elif rest == 0:
                        nxt = sp
                        amount_in = 0
                    else:
                        product = rest * sp
                        denominator = num1 + product
                        if denominator <= _MAX_UINT256:
                            nxt = -(-num1 * sp // denominator)
                        else:
                            nxt = get_next_sqrt_price_from_input(sp, liquidity, rest, True)
                        amount_in = -(-num1 * (sp - nxt) // (sp * nxt))
                    amount_out = liquidity * (sp - nxt) >> 96
                else:
                    amount_in = -(-liquidity * (target - sp) >> 96)
                    if rest >= amount_in:
                        nxt = target
                    else:
                        nxt = get_next_sqrt_price_from_input(sp, liquidity, rest, False)
                        amount_in = -(-liquidity * (nxt - sp) >> 96)
                    amount_out = (liquidity << 96) * (nxt - sp) // (nxt * sp)
                if nxt != target:
                    fee_amount = remaining - amount_in
                else:
                    fee_amount = -(-amount_in * fee // complement)
                sp = nxt
            else:
                sp, amount_in, amount_out, fee_amount = compute_swap_step(sp, target, liquidity, remaining, fee)
            if exact_input:
                remaining -= amount_in + fee_amount
                calculated -= amount_out
            else:
                remaining += amount_out
                calculated += amount_in + fee_amount
            if fee_protocol > 0:
                delta = fee_amount // fee_protocol
                fee_amount -= delta
                protocol_fee = (protocol_fee + delta) & _MOD128
            if liquidity > 0 and with_growth:
                fee_growth = (fee_growth + (fee_amount << 128) // liquidity) & _MOD256
            first = False
            if sp == sp_next:
                if initialized:
                    if zero_for_one:
                        crossings.append((tick_next, fee_growth, other_growth))
                        liquidity = add_delta(liquidity, -ticks[tick_next][1])
                    else:
                        crossings.append((tick_next, other_growth, fee_growth))
                        liquidity = add_delta(liquidity, ticks[tick_next][1])
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sp != start:
                # TickMath.getTickAtSqrtRatio: still in the same tick, or a float estimate
                # confirmed with the exact forward map
                low = sqrt_cache.get(tick)
                if low is not None and low <= sp and (sqrt_cache.get(tick + 1) or 0) > sp:
                    continue
                t = floor((log(sp) - _LN_Q96) / _LOG_SQRT_10001)
                if (
                    MIN_TICK <= t < MAX_TICK
                    and (sqrt_cache.get(t) or get_sqrt_ratio_at_tick(t)) <= sp
                    and (sqrt_cache.get(t + 1) or get_sqrt_ratio_at_tick(t + 1)) > sp
                ):
                    tick = t
                else:
                    tick = get_tick_at_sqrt_ratio(sp)
        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        return amount0, amount1, sp, tick, liquidity, fee_growth, protocol_fee, crossings

    def _commit_swap(self, zero_for_one: bool, result: SwapResult, crossings: list[tuple[int, int, int]]) -> None:
        self._commit_core(
            zero_for_one,
            result.sqrt_price_x96,
            result.tick,
            result.liquidity,
            result.fee_growth_global_x128,
            result.protocol_fee,
            crossings,
        )

    def _commit_core(
        self,
        zero_for_one: bool,
        sqrt_price_x96: int,
        tick: int,
        liquidity: int,
        fee_growth: int,
        protocol_fee: int,
        crossings: list[tuple[int, int, int]],
    ) -> None:
        """Write a computed swap: cross ticks (Tick.cross), one oracle write per block, slot0, growth.

        Crossing replaces tick records but never changes ``liquidity_net``: the tick table stays."""
        if self._shared:
            self._own()
        self.state_version = next_state_version()
        time = self.block_timestamp & _MOD32
        tick_start = self.tick
        if crossings:
            tc, spl = _oracle.observe_single(
                self._obs, time, 0, tick_start, self.observation_index, self.liquidity, self.observation_cardinality
            )
            ticks = self._ticks
            for t, g0, g1 in crossings:  # Tick.cross, inlined; the record is replaced (copy-on-write)
                r = list(ticks[t])
                r[2] = (g0 - r[2]) & _MOD256
                r[3] = (g1 - r[3]) & _MOD256
                r[5] = (spl - r[5]) & _MOD160
                r[4] = _tick.wrap_int56(tc - r[4])
                r[6] = (time - r[6]) & _MOD32
                ticks[t] = r
        if tick != tick_start:
            self.observation_index, self.observation_cardinality = _oracle.write(
                self._obs,
                self.observation_index,
                time,
                tick_start,
                self.liquidity,
                self.observation_cardinality,
                self.observation_cardinality_next,
            )
            self.tick = tick
        self.sqrt_price_x96 = sqrt_price_x96
        self.liquidity = liquidity
        if zero_for_one:
            self.fee_growth_global0_x128 = fee_growth
            if protocol_fee > 0:
                self.protocol_fees0 += protocol_fee
        else:
            self.fee_growth_global1_x128 = fee_growth
            if protocol_fee > 0:
                self.protocol_fees1 += protocol_fee

    def swap(
        self,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int | None = None,
        *,
        pay: _PayCallback | None = None,
    ) -> tuple[int, int]:
        """Swap; ``amount_specified`` > 0 exact input, < 0 exact output; returns pool-side (amount0, amount1).

        ``sqrt_price_limit_x96`` None means no limit (MIN_SQRT_RATIO+1 / MAX_SQRT_RATIO-1).
        Reverts 'AS' for a zero amount, 'SPL' for a limit on the wrong side, 'LOK' when locked,
        'IIA' when ``pay`` pays less input than owed.
        """
        a0, a1, sp, tick, liquidity, growth, protocol_fee, crossings = self._swap_core(
            zero_for_one, amount_specified, sqrt_price_limit_x96
        )
        if pay is not None:
            paid0, paid1 = pay(a0, a1)
            owed, paid = (a0, paid0) if zero_for_one else (a1, paid1)
            if paid < owed:
                raise Revert("IIA", f"paid {paid} < owed {owed}")
        self._commit_core(zero_for_one, sp, tick, liquidity, growth, protocol_fee, crossings)
        return a0, a1

    def swap_detailed(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> SwapResult:
        """:meth:`swap` returning the full :class:`SwapResult` (ticks crossed, end state)."""
        result, crossings = self._swap(zero_for_one, amount_specified, sqrt_price_limit_x96, True)
        self._commit_swap(zero_for_one, result, crossings)
        return result

    def quote(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, int]:
        """What :meth:`swap` would return, without changing the pool."""
        r = self._swap_core(zero_for_one, amount_specified, sqrt_price_limit_x96, False)
        return r[0], r[1]

    def quote_detailed(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> SwapResult:
        """:meth:`quote` returning the full :class:`SwapResult`."""
        return self._swap(zero_for_one, amount_specified, sqrt_price_limit_x96, False)[0]

    def amounts_to_price(self, sqrt_price_x96: int) -> tuple[int, int]:
        """Exact pool-side (amount0, amount1) of the swap that moves the price to ``sqrt_price_x96``.

        The input includes the fee.  Returns (0, 0) when the price is already there.
        """
        if sqrt_price_x96 == self.sqrt_price_x96:
            return 0, 0
        zero_for_one = sqrt_price_x96 < self.sqrt_price_x96
        return self.quote(zero_for_one, (1 << 255) - 1, sqrt_price_x96)

    def curve(self, zero_for_one: bool, *, max_ticks: int | None = None) -> SwapCurve:
        """The float64 :class:`~keel.venues.uniswap_v3.fast_path.SwapCurve` of one direction (vectorized quotes)."""
        return build_curve(self, zero_for_one, max_ticks=max_ticks)

    # ------------------------------------------------------------------ Venue protocol
    def _direction(self, token_in: Token) -> bool:
        if token_in == self.token0:
            return True
        if token_in == self.token1:
            return False
        raise ValidationError("token_in", token_in, f"not a token of pool {self.name}")

    def _venue_quote(self, token_in: Token, amount: int, exact_in: bool, commit: bool) -> SwapQuote:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValidationError("amount", amount, "must be a positive int in base units")
        zero_for_one = self._direction(token_in)
        result, crossings = self._swap(zero_for_one, amount if exact_in else -amount, None, commit)
        if commit and not exact_in:
            received = -result.amount1 if zero_for_one else -result.amount0
            if received != amount:  # SwapRouter.exactOutputSingle: require(amountOutReceived == amountOut)
                raise Revert("", f"exact output: the pool can deliver {received} of {amount} base units")
        if commit:
            self._commit_swap(zero_for_one, result, crossings)
        paid, received = (result.amount0, -result.amount1) if zero_for_one else (result.amount1, -result.amount0)
        return SwapQuote(paid, received, self.swap_gas(result.ticks_crossed), result.ticks_crossed)

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Output for ``amount_in`` of ``token_in`` (less input is used if the pool runs out of liquidity)."""
        return self._venue_quote(token_in, amount_in, True, False)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Input of ``token_in`` for ``amount_out`` of the other token (less output if liquidity runs out)."""
        return self._venue_quote(token_in, amount_out, False, False)

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Execute an exact-input swap."""
        return self._venue_quote(token_in, amount_in, True, True)

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Execute an exact-output swap."""
        return self._venue_quote(token_in, amount_out, False, True)

    # ------------------------------------------------------------------ snapshots
    def to_state(self, *, block_number: int = 0, ts_ns: int | None = None, address: str = "") -> PoolState:
        """Snapshot of price, liquidity, fee growth and every initialized tick (not positions or the oracle)."""
        return PoolState(
            kind="uniswap_v3",
            token0=self.token0.symbol,
            token1=self.token1.symbol,
            fee=self.fee,
            block_number=block_number,
            ts_ns=self.updated_ns if ts_ns is None else ts_ns,
            address=address,
            tick_spacing=self.tick_spacing,
            sqrt_price_x96=self.sqrt_price_x96,
            tick=self.tick,
            liquidity=self.liquidity,
            fee_growth_global0_x128=self.fee_growth_global0_x128,
            fee_growth_global1_x128=self.fee_growth_global1_x128,
            ticks=tuple(TickState(t, r[0], r[1], r[2], r[3]) for t, r in sorted(self._ticks.items()) if r[7] or r[0]),
        )

    @classmethod
    def from_state(
        cls,
        state: PoolState,
        *,
        token0: Token | None = None,
        token1: Token | None = None,
        block_timestamp: int = 0,
    ) -> Pool:
        """A pool holding ``state`` (tokens default to 18-decimal tokens named as in the snapshot).

        The oracle restarts with one observation at ``block_timestamp``; positions are not
        part of a snapshot.
        """
        if state.kind != "uniswap_v3":
            raise ValidationError("kind", state.kind, "Pool.from_state needs a 'uniswap_v3' snapshot")
        if state.sqrt_price_x96 <= 0:
            raise ValidationError("sqrt_price_x96", state.sqrt_price_x96, "must be positive")
        pool = cls(
            state.fee,
            state.tick_spacing,
            0,
            token0=token0 if token0 is not None else Token(state.token0, 18),
            token1=token1 if token1 is not None else Token(state.token1, 18),
            block_timestamp=block_timestamp,
            updated_ns=state.ts_ns,
        )
        pool.initialize(state.sqrt_price_x96)
        if not MIN_TICK <= state.tick <= MAX_TICK:
            raise ValidationError("tick", state.tick, "outside the tick range")
        pool.tick = state.tick
        pool.liquidity = state.liquidity
        pool.fee_growth_global0_x128 = state.fee_growth_global0_x128
        pool.fee_growth_global1_x128 = state.fee_growth_global1_x128
        for t in state.ticks:
            if t.index % state.tick_spacing != 0 or not MIN_TICK <= t.index <= MAX_TICK:
                raise ValidationError("ticks.index", t.index, f"not a usable tick for spacing {state.tick_spacing}")
            pool._ticks[t.index] = [
                t.liquidity_gross,
                t.liquidity_net,
                t.fee_growth_outside0_x128,
                t.fee_growth_outside1_x128,
                0,
                0,
                0,
                1,
            ]
            flip_tick(pool._bitmap, t.index, state.tick_spacing)
        pool._tick_table = None
        pool.state_version = next_state_version()
        return pool

    def __repr__(self) -> str:
        return (
            f"Pool({self.name}, fee={self.fee}, sqrt_price_x96={self.sqrt_price_x96}, "
            f"tick={self.tick}, liquidity={self.liquidity})"
        )


def _check_ticks(tick_lower: int, tick_upper: int) -> None:
    if tick_lower >= tick_upper:
        raise Revert("TLU", f"tick_lower {tick_lower} >= tick_upper {tick_upper}")
    if tick_lower < MIN_TICK:
        raise Revert("TLM", f"tick_lower {tick_lower} < MIN_TICK")
    if tick_upper > MAX_TICK:
        raise Revert("TUM", f"tick_upper {tick_upper} > MAX_TICK")
