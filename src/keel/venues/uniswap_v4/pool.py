"""The ``Pool`` library of Uniswap v4-core: one pool's state and its exact transitions.

v4 keeps every pool inside the singleton PoolManager; this is that per-pool state (``Pool.State``)
and the library's ``initialize``, ``modifyLiquidity``, ``swap`` and ``donate``.  Reused from
:mod:`keel.venues.uniswap_v3` unchanged, because v4 has the same math: ``TickMath``,
``SqrtPriceMath``, ``LiquidityMath``, ``TickBitmap`` (walk and flip), ``FullMath``.  Where v4
differs from the v3 pool:

* no oracle, no ``feeProtocol`` fraction: a 24-bit protocol fee (two directions) and an LP fee
  that dynamic-fee pools change (:mod:`keel.venues.uniswap_v4.fees`);
* ``SwapMath.computeSwapStep`` (:mod:`keel.venues.uniswap_v4.swap_math`): signs and the partial
  exact-input step;
* the protocol's cut is taken per step from ``amountIn + feeAmount`` (rounded down) before fee
  growth, and the whole fee if the LP fee is 0;
* positions are keyed ``(owner, tickLower, tickUpper, salt)`` and keep no ``tokensOwed``: a
  liquidity change returns the fees accrued since the last one (``feesAccrued``), added to the
  caller's delta;
* ``tickSpacingToMaxLiquidityPerTick`` counts ``floor(MIN_TICK / spacing)`` (one more tick than
  v3 when the spacing does not divide MIN_TICK);
* a swap whose price limit is already passed reverts ``PriceLimitAlreadyExceeded`` and one
  beyond ``MIN/MAX_SQRT_PRICE`` ``PriceLimitOutOfBounds`` (v3: 'SPL');
* errors are v4's custom errors (``Revert.reason`` is the error's name).

Every transition validates first and writes last: a refused call leaves the pool unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor, log
from typing import NamedTuple

from keel.venues.base import Revert
from keel.venues.state_version import next_state_version
from keel.venues.uniswap_v3.liquidity_math import add_delta
from keel.venues.uniswap_v3.sqrt_price_math import (
    get_amount0_delta_signed,
    get_amount1_delta_signed,
    get_next_sqrt_price_from_input,
)
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
from keel.venues.uniswap_v4 import fees as _fees
from keel.venues.uniswap_v4.swap_math import MAX_SWAP_FEE, compute_swap_step, get_sqrt_price_target

__all__ = ["PoolState", "SwapOutcome", "TickInfo", "tick_spacing_to_max_liquidity_per_tick"]

_Q128 = 1 << 128
_PIPS = 1_000_000
_MAX_UINT256 = (1 << 256) - 1
_MAX_UINT160 = (1 << 160) - 1
_LN_Q96 = 96 * log(2.0)
_LOG_SQRT_10001 = log(1.0001) / 2.0
_MOD256 = 1 << 256
_INT128_MAX = (1 << 127) - 1
_INT128_MIN = -(1 << 127)
_new_tuple = tuple.__new__  # builds a SwapOutcome without NamedTuple.__new__'s Python-level call


def _to_int128(value: int, what: str) -> int:
    if not _INT128_MIN <= value <= _INT128_MAX:
        raise Revert("SafeCastOverflow", f"{what}={value} does not fit int128")
    return value


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """``type(uint128).max / numTicks`` with v4's tick count (see the module docstring)."""
    min_tick = -((-MIN_TICK) // tick_spacing) - (1 if (-MIN_TICK) % tick_spacing else 0)
    max_tick = MAX_TICK // tick_spacing
    return ((1 << 128) - 1) // (max_tick - min_tick + 1)


@dataclass(frozen=True, slots=True)
class TickInfo:
    """``Pool.TickInfo`` (as StateLibrary's ``getTickInfo``)."""

    liquidity_gross: int
    liquidity_net: int
    fee_growth_outside0_x128: int
    fee_growth_outside1_x128: int


class SwapOutcome(NamedTuple):
    """A swap's result: the pool's ``(amount0, amount1)`` BalanceDelta (negative = owed by the
    caller), the protocol's cut (input currency), the fee charged (pips), the final price, tick
    and liquidity, and the number of initialized ticks crossed."""

    amount0: int
    amount1: int
    amount_to_protocol: int
    swap_fee: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int


class PoolState:
    """One v4 pool (``Pool.State``): slot0 (price, tick, protocol fee, LP fee), fee growth,
    active liquidity, ticks, bitmap and positions.  Copies are O(1) (tables shared copy-on-write).
    ``state_version`` takes a fresh value on every change."""

    # per-direction constants of :meth:`quote_in_one_step`, tagged with the state_version they belong to
    _q0: tuple[int, ...] | None = None
    _q1: tuple[int, ...] | None = None

    def __init__(self, tick_spacing: int) -> None:
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = tick_spacing_to_max_liquidity_per_tick(tick_spacing)
        self.sqrt_price_x96 = 0
        self.tick = 0
        self.protocol_fee = 0
        self.lp_fee = 0
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.liquidity = 0
        # tick -> [liquidity_gross, liquidity_net, fee_growth_outside0, fee_growth_outside1]
        self._ticks: dict[int, list[int]] = {}
        self._bitmap: dict[int, int] = {}
        # (owner, lower, upper, salt) -> [liquidity, fee_growth_inside0_last, fee_growth_inside1_last]
        self._positions: dict[tuple[str, int, int, bytes], list[int]] = {}
        self._shared = False
        self._tick_table: TickTable | None = None
        self.state_version = next_state_version()

    # ------------------------------------------------------------------ views
    @property
    def initialized(self) -> bool:
        return self.sqrt_price_x96 != 0

    def ticks(self, tick: int) -> TickInfo:
        r = self._ticks.get(tick)
        return TickInfo(0, 0, 0, 0) if r is None else TickInfo(r[0], r[1], r[2], r[3])

    def tick_bitmap(self, word_position: int) -> int:
        return self._bitmap.get(word_position, 0)

    def position(self, owner: str, tick_lower: int, tick_upper: int, salt: bytes) -> tuple[int, int, int]:
        """``(liquidity, feeGrowthInside0LastX128, feeGrowthInside1LastX128)``."""
        r = self._positions.get((owner.lower(), tick_lower, tick_upper, salt))
        return (0, 0, 0) if r is None else (r[0], r[1], r[2])

    def tick_table(self) -> TickTable:
        """Initialized ticks and ``liquidity_net``, ascending (cached until liquidity changes)."""
        table = self._tick_table
        if table is None:
            table = self._tick_table = build_tick_table(self._ticks)
        return table

    def copy(self) -> PoolState:
        new = object.__new__(PoolState)
        new.__dict__.update(self.__dict__)
        self._shared = True
        new._shared = True
        return new

    def _own(self) -> None:
        if self._shared:
            self._ticks = {t: list(r) for t, r in self._ticks.items()}
            self._bitmap = dict(self._bitmap)
            self._positions = {k: list(r) for k, r in self._positions.items()}
            self._shared = False

    def check_initialized(self) -> None:
        if self.sqrt_price_x96 == 0:
            raise Revert("PoolNotInitialized", "initialize the pool first")

    # ------------------------------------------------------------------ initialize / fees
    def initialize(self, sqrt_price_x96: int, lp_fee: int) -> int:
        """Set the starting price and LP fee; returns the tick."""
        if self.sqrt_price_x96 != 0:
            raise Revert("PoolAlreadyInitialized", "the pool already has a price")
        if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
            raise Revert(
                "InvalidSqrtPrice", f"sqrt_price_x96={sqrt_price_x96}: must be in [MIN_SQRT_PRICE, MAX_SQRT_PRICE)"
            )
        tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = tick
        self.lp_fee = lp_fee
        self.state_version = next_state_version()
        return tick

    def set_protocol_fee(self, protocol_fee: int) -> None:
        self.check_initialized()
        self.protocol_fee = protocol_fee
        self.state_version = next_state_version()

    def set_lp_fee(self, lp_fee: int) -> None:
        self.check_initialized()
        self.lp_fee = lp_fee
        self.state_version = next_state_version()

    # ------------------------------------------------------------------ liquidity
    def fee_growth_inside(self, tick_lower: int, tick_upper: int) -> tuple[int, int]:
        """``getFeeGrowthInside`` (mod 2**256)."""
        lo = self._ticks.get(tick_lower) or (0, 0, 0, 0)
        up = self._ticks.get(tick_upper) or (0, 0, 0, 0)
        if self.tick < tick_lower:
            return (lo[2] - up[2]) % _MOD256, (lo[3] - up[3]) % _MOD256
        if self.tick >= tick_upper:
            return (up[2] - lo[2]) % _MOD256, (up[3] - lo[3]) % _MOD256
        return (
            (self.fee_growth_global0_x128 - lo[2] - up[2]) % _MOD256,
            (self.fee_growth_global1_x128 - lo[3] - up[3]) % _MOD256,
        )

    def modify_liquidity(
        self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int, salt: bytes
    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """``Pool.modifyLiquidity``: ``(principal_delta, fees_accrued)`` as (amount0, amount1).

        The principal is negative when adding (the caller owes it, rounded up) and positive when
        removing (rounded down); fees accrued are positive (owed to the caller).
        """
        self.check_initialized()
        if tick_lower >= tick_upper:
            raise Revert("TicksMisordered", f"tick_lower={tick_lower} must be below tick_upper={tick_upper}")
        if tick_lower < MIN_TICK:
            raise Revert("TickLowerOutOfBounds", f"tick_lower={tick_lower} is below MIN_TICK={MIN_TICK}")
        if tick_upper > MAX_TICK:
            raise Revert("TickUpperOutOfBounds", f"tick_upper={tick_upper} is above MAX_TICK={MAX_TICK}")
        owner = owner.lower()
        ticks = self._ticks
        key = (owner, tick_lower, tick_upper, salt)
        pos = self._positions.get(key)
        pos_liq = pos[0] if pos else 0
        updates: dict[int, tuple[int, int, bool]] = {}  # tick -> (gross_after, net_after, flipped)
        if liquidity_delta != 0:
            for t, upper in ((tick_lower, False), (tick_upper, True)):
                if t % self.tick_spacing != 0:
                    raise Revert(
                        "TickMisaligned", f"tick={t} is not a multiple of the tick_spacing={self.tick_spacing}"
                    )
                r = ticks.get(t)
                gross_before, net_before = (r[0], r[1]) if r else (0, 0)
                gross_after = add_delta(gross_before, liquidity_delta)
                if liquidity_delta > 0 and gross_after > self.max_liquidity_per_tick:
                    raise Revert("TickLiquidityOverflow", f"tick={t}: liquidity per tick above the maximum")
                net_after = net_before - liquidity_delta if upper else net_before + liquidity_delta
                _to_int128(net_after, "liquidity_net")
                updates[t] = (gross_after, net_after, (gross_after == 0) != (gross_before == 0))
        elif pos_liq == 0:
            raise Revert("CannotUpdateEmptyPosition", "liquidity_delta=0 on a position without liquidity")
        new_pos_liq = add_delta(pos_liq, liquidity_delta) if liquidity_delta != 0 else pos_liq
        # fee growth inside with the ticks as updated (a new tick starts at the global growth below the price)
        g0, g1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128

        def outside(t: int) -> tuple[int, int]:
            r = ticks.get(t)
            if r is not None and r[0] > 0:
                return r[2], r[3]
            if t <= self.tick:
                return g0, g1
            return 0, 0

        lo, up = outside(tick_lower), outside(tick_upper)
        if liquidity_delta == 0:
            lo = (ticks[tick_lower][2], ticks[tick_lower][3]) if tick_lower in ticks else (0, 0)
            up = (ticks[tick_upper][2], ticks[tick_upper][3]) if tick_upper in ticks else (0, 0)
        if self.tick < tick_lower:
            fgi0, fgi1 = (lo[0] - up[0]) % _MOD256, (lo[1] - up[1]) % _MOD256
        elif self.tick >= tick_upper:
            fgi0, fgi1 = (up[0] - lo[0]) % _MOD256, (up[1] - lo[1]) % _MOD256
        else:
            fgi0, fgi1 = (g0 - lo[0] - up[0]) % _MOD256, (g1 - lo[1] - up[1]) % _MOD256
        last0, last1 = (pos[1], pos[2]) if pos else (0, 0)
        fees0 = ((fgi0 - last0) % _MOD256) * pos_liq // _Q128
        fees1 = ((fgi1 - last1) % _MOD256) * pos_liq // _Q128
        _to_int128(fees0, "fees_accrued.amount0")
        _to_int128(fees1, "fees_accrued.amount1")
        amount0 = amount1 = 0
        new_liquidity = self.liquidity
        if liquidity_delta != 0:
            sp = self.sqrt_price_x96
            if self.tick < tick_lower:
                amount0 = get_amount0_delta_signed(
                    get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper), liquidity_delta
                )
            elif self.tick < tick_upper:
                amount0 = get_amount0_delta_signed(sp, get_sqrt_ratio_at_tick(tick_upper), liquidity_delta)
                amount1 = get_amount1_delta_signed(get_sqrt_ratio_at_tick(tick_lower), sp, liquidity_delta)
                new_liquidity = add_delta(self.liquidity, liquidity_delta)
            else:
                amount1 = get_amount1_delta_signed(
                    get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper), liquidity_delta
                )
            # v4 signs: the pool's view negated (adding liquidity = owed by the caller)
            amount0, amount1 = _to_int128(-amount0, "amount0"), _to_int128(-amount1, "amount1")
        # ---- write
        self._own()
        ticks = self._ticks
        for t, (gross_after, net_after, flipped) in updates.items():
            r = ticks.get(t)
            if r is None or r[0] == 0:
                if t <= self.tick:
                    r = [0, 0, g0, g1]
                else:
                    r = [0, 0, 0, 0]
                ticks[t] = r
            r[0], r[1] = gross_after, net_after
            if flipped:
                flip_tick(self._bitmap, t, self.tick_spacing)
                self._tick_table = None
                if liquidity_delta < 0:
                    del ticks[t]
            elif liquidity_delta != 0:
                self._tick_table = None
        if new_pos_liq == 0 and liquidity_delta != 0:
            # the contract keeps the record (liquidity 0, fee growth updated); so do we
            self._positions[key] = [0, fgi0, fgi1]
        else:
            self._positions[key] = [new_pos_liq, fgi0, fgi1]
        self.liquidity = new_liquidity
        self.state_version = next_state_version()
        return (amount0, amount1), (fees0, fees1)

    def donate(self, amount0: int, amount1: int) -> tuple[int, int]:
        """``Pool.donate``: fee growth for in-range liquidity; returns the caller's delta."""
        self.check_initialized()
        if self.liquidity == 0:
            raise Revert("NoLiquidityToReceiveFees", "donate needs in-range liquidity")
        if amount0:
            self.fee_growth_global0_x128 = (self.fee_growth_global0_x128 + amount0 * _Q128 // self.liquidity) % _MOD256
        if amount1:
            self.fee_growth_global1_x128 = (self.fee_growth_global1_x128 + amount1 * _Q128 // self.liquidity) % _MOD256
        self.state_version = next_state_version()
        return (-amount0, -amount1)

    # ------------------------------------------------------------------ swap
    def _one_step_constants(self, zero_for_one: bool) -> tuple[int, ...]:
        """:meth:`quote_in_one_step`'s constants of this state in one direction, kept until
        ``state_version`` changes: ``(state_version, price, liquidity, liquidity << 96, numerator,
        max_less_fee, price_next, 1e6 - swap_fee, swap_fee, protocol_fee, t0, sqrt(t0), sqrt(t0 + 1),
        sqrt(t0 + 2))``.

        ``numerator`` is ``-(liquidity << 96) * price`` for zero_for_one (getNextSqrtPriceFromAmount0RoundingUp's
        product, negated to round up) and 0 otherwise; ``max_less_fee`` the largest input after fee for
        which that product's denominator fits 256 bits (zero_for_one) or ``2**128`` (otherwise).
        ``t0`` is the tick below the current one for zero_for_one and the current tick otherwise: a
        small swap ends in tick ``t0`` or ``t0 + 1``.  A state the one-step quote leaves to the general
        loop gets a price no limit passes (0 for zero_for_one, ``MAX_SQRT_RATIO`` otherwise): no
        liquidity, a 100% fee, the next initialized tick at MIN/MAX_TICK, the tick at the table's end, or
        a liquidity at which an output could overflow int128."""
        version = self.state_version
        price = self.sqrt_price_x96
        liquidity = self.liquidity
        protocol = self.protocol_fee & 0xFFF if zero_for_one else (self.protocol_fee >> 12) & 0xFFF
        lp_fee = self.lp_fee
        swap_fee = lp_fee if protocol == 0 else protocol + lp_fee - protocol * lp_fee // _PIPS
        tick = self.tick
        spacing = self.tick_spacing
        compressed = tick // spacing
        num1 = liquidity << 96
        if zero_for_one:
            bit = compressed & 0xFF
            masked = self._bitmap.get(compressed >> 8, 0) & ((2 << bit) - 1)
            tick_next = (compressed - bit + (masked.bit_length() - 1 if masked else 0)) * spacing
            t0 = tick - 1
            max_out = (liquidity * price) >> 96  # amount1 out is below this
        else:
            compressed += 1
            bit = compressed & 0xFF
            masked = self._bitmap.get(compressed >> 8, 0) >> bit
            if masked:
                tick_next = (compressed + (masked & -masked).bit_length() - 1) * spacing
            else:
                tick_next = (compressed + 255 - bit) * spacing
            t0 = tick
            max_out = num1 // price if price else 0  # amount0 out is below this
        if (
            price == 0
            or liquidity == 0
            or swap_fee >= _PIPS
            or not MIN_TICK < tick_next < MAX_TICK
            or t0 < MIN_TICK
            or t0 + 2 > MAX_TICK
            or max_out > _INT128_MAX
        ):
            return (version, 0 if zero_for_one else MAX_SQRT_RATIO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return (
            version,
            price,
            liquidity,
            num1,
            -num1 * price if zero_for_one else 0,
            (_MAX_UINT256 - num1) // price if zero_for_one else _INT128_MAX,
            get_sqrt_ratio_at_tick(tick_next),
            _PIPS - swap_fee,
            swap_fee,
            protocol,
            t0,
            get_sqrt_ratio_at_tick(t0),
            get_sqrt_ratio_at_tick(t0 + 1),
            get_sqrt_ratio_at_tick(t0 + 2),
        )

    def quote_in_one_step(self, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int) -> SwapOutcome | None:
        """The common quote in short: an exact input that ends inside the current step (before the next
        initialized tick, the word edge and the limit), with exactly the contract's integer operations
        for that step (``SwapMath.computeSwapStep``, exact input, target not reached); ``None`` when
        the swap needs the general loop (:meth:`swap`, which also raises what the contract reverts
        with).  No state change.  ``amount_in`` > 0; the caller has checked that the amount and the
        limit are ints (their ranges are checked here).

        The state's constants (price, liquidity, fee, next tick's price, the neighbouring ticks' prices)
        are kept per direction until :attr:`state_version` changes.  Whether the step reaches its
        target is decided on the new price: ``amountRemainingLessFee < amountIn(target)`` (target not
        reached) is exactly ``next > target`` for zero_for_one (next rounded up) and ``next < target``
        otherwise (rounded down), so the contract's comparison needs no extra product."""
        if zero_for_one is True:
            c = self._q0
            if c is None or c[0] != self.state_version:
                c = self._q0 = self._one_step_constants(True)
            (_, price, liquidity, num1, neg_product, max_less_fee, price_next,
             complement, swap_fee, protocol, t0, b0, b1, b2) = c  # fmt: skip
            if not 4295128739 < sqrt_price_limit_x96 < price or amount_in > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:
                return None  # limit passed or out of bounds (MIN_SQRT_RATIO), amount beyond int128, no fast state
            less_fee = amount_in * complement // 1_000_000
            if not 0 < less_fee <= max_less_fee:
                return None
            # getNextSqrtPriceFromAmount0RoundingUp: mulDivRoundingUp(liquidity << 96, price, denominator)
            nxt = -(neg_product // (num1 + less_fee * price))
            if nxt <= (price_next if price_next >= sqrt_price_limit_x96 else sqrt_price_limit_x96):
                return None  # reaches the target: the general loop
            amount0 = -amount_in
            amount1 = (liquidity * (price - nxt)) >> 96  # getAmount1Delta, rounded down
        elif zero_for_one is False:
            c = self._q1
            if c is None or c[0] != self.state_version:
                c = self._q1 = self._one_step_constants(False)
            _, price, liquidity, num1, _, _, price_next, complement, swap_fee, protocol, t0, b0, b1, b2 = c
            if (
                not price < sqrt_price_limit_x96 < 1461446703485210103287273052203988822378723970342
                or amount_in > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
            ):
                return None  # as above, with MAX_SQRT_RATIO
            less_fee = amount_in * complement // 1_000_000
            # getNextSqrtPriceFromAmount1RoundingDown: price + floor(less_fee * Q96 / liquidity)
            nxt = price + (less_fee << 96) // liquidity
            if nxt >= (price_next if price_next < sqrt_price_limit_x96 else sqrt_price_limit_x96):
                return None  # reaches the target: the general loop
            amount0 = num1 * (nxt - price) // (nxt * price)  # getAmount0Delta, rounded down
            amount1 = -amount_in
        else:
            return None
        to_protocol = 0
        if protocol:
            to_protocol = amount_in - less_fee if swap_fee == protocol else amount_in * protocol // 1_000_000
        # TickMath.getTickAtSqrtPrice(nxt) once the price moved: a neighbouring tick, or the search
        if nxt == price:
            tick = self.tick
        elif b1 <= nxt < b2:
            tick = t0 + 1
        elif b0 <= nxt < b1:
            tick = t0
        else:
            tick = get_tick_at_sqrt_ratio(nxt)
        return _new_tuple(SwapOutcome, (amount0, amount1, to_protocol, swap_fee, nxt, tick, liquidity, 0))

    def swap(
        self,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int,
        lp_fee_override: int = 0,
        *,
        commit: bool = True,
    ) -> SwapOutcome:
        """``Pool.swap`` (v4 signs: ``amount_specified < 0`` exact input, ``> 0`` exact output).

        With ``commit=False`` the pool is not changed (a quote).  Raises :class:`Revert` with
        v4's error names; nothing is written then.
        """
        start_price, start_tick = self.sqrt_price_x96, self.tick
        if start_price == 0:
            raise Revert("PoolNotInitialized", "initialize the pool first")
        protocol_fee = self.protocol_fee & 0xFFF if zero_for_one else (self.protocol_fee >> 12) & 0xFFF
        if lp_fee_override and lp_fee_override & _fees.OVERRIDE_FEE_FLAG:
            lp_fee = lp_fee_override & _fees.REMOVE_OVERRIDE_MASK
            if lp_fee > _fees.MAX_LP_FEE:
                raise Revert("LPFeeTooLarge", f"lp_fee_override={lp_fee} above 1_000_000 pips")
        else:
            lp_fee = self.lp_fee
        swap_fee = lp_fee if protocol_fee == 0 else _fees.calculate_swap_fee(protocol_fee, lp_fee)
        if swap_fee >= MAX_SWAP_FEE and amount_specified > 0:
            raise Revert("InvalidFeeForExactOut", "a 100% swap fee makes exact output impossible")
        liquidity = self.liquidity
        if amount_specified == 0:
            return SwapOutcome(0, 0, 0, swap_fee, start_price, start_tick, liquidity, 0)
        limit = sqrt_price_limit_x96
        if zero_for_one:
            if limit >= start_price:
                raise Revert(
                    "PriceLimitAlreadyExceeded",
                    f"sqrt_price_limit_x96={limit}: must be below the current sqrt price {start_price} "
                    "for a zero_for_one swap",
                )
            if limit <= MIN_SQRT_RATIO:
                raise Revert(
                    "PriceLimitOutOfBounds",
                    f"sqrt_price_limit_x96={limit}: must be above MIN_SQRT_PRICE={MIN_SQRT_RATIO}",
                )
        else:
            if limit <= start_price:
                raise Revert(
                    "PriceLimitAlreadyExceeded",
                    f"sqrt_price_limit_x96={limit}: must be above the current sqrt price {start_price} "
                    "for a one_for_zero swap",
                )
            if limit >= MAX_SQRT_RATIO:
                raise Revert(
                    "PriceLimitOutOfBounds",
                    f"sqrt_price_limit_x96={limit}: must be below MAX_SQRT_PRICE={MAX_SQRT_RATIO}",
                )
        exact_out = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        price, tick = start_price, start_tick
        fee_growth = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        other_growth = self.fee_growth_global1_x128 if zero_for_one else self.fee_growth_global0_x128
        to_protocol = 0
        spacing = self.tick_spacing
        bitmap = self._bitmap
        ticks = self._ticks
        crossings: list[tuple[int, int]] = []  # (tick, fee growth of the input currency at the crossing)
        fee_complement = _PIPS - swap_fee
        bitmap_get = bitmap.get
        sqrt_cache = SQRT_RATIO_CACHE
        first = True
        while remaining != 0 and price != limit:
            step_start = price
            # TickBitmap.nextInitializedTickWithinOneWord, inlined (same as keel.venues.uniswap_v3.tick_bitmap)
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
            if tick_next <= MIN_TICK:
                tick_next = MIN_TICK
            if tick_next >= MAX_TICK:
                tick_next = MAX_TICK
            price_next = sqrt_cache.get(tick_next) or get_sqrt_ratio_at_tick(tick_next)
            if exact_out:
                price, amount_in, amount_out, fee_amount = compute_swap_step(
                    price, get_sqrt_price_target(zero_for_one, price_next, limit), liquidity, remaining, swap_fee
                )
            else:
                # SwapMath.computeSwapStep, exact input, inlined (same integer operations; see swap_math.py)
                cur = price
                given = -remaining
                less_fee = given * fee_complement // _PIPS
                if zero_for_one:
                    target = price_next if price_next >= limit else limit
                    num1 = liquidity << 96
                    candidate = 0
                    if first and less_fee > 0 and liquidity:
                        # most swaps end in their first step: try the end price first; if it lies above
                        # the target, less_fee < amountIn(target) is certain: the "not reached" branch
                        denominator = num1 + less_fee * cur
                        if denominator <= _MAX_UINT256:
                            candidate = -(-num1 * cur // denominator)
                            if candidate <= target:
                                candidate = 0
                    if candidate:
                        amount_in = less_fee
                        price = candidate
                        fee_amount = given - less_fee
                    elif less_fee >= (amount_in := -(-num1 * (cur - target) // (cur * target)) if liquidity else 0):
                        price = target
                        fee_amount = amount_in if swap_fee == _PIPS else -(-(amount_in * swap_fee) // fee_complement)
                    else:
                        amount_in = less_fee
                        price = get_next_sqrt_price_from_input(cur, liquidity, less_fee, True)
                        fee_amount = given - less_fee
                    amount_out = (liquidity * (cur - price)) >> 96
                else:
                    target = price_next if price_next < limit else limit
                    amount_in = -(-(liquidity * (target - cur)) >> 96)
                    if less_fee >= amount_in:
                        price = target
                        fee_amount = amount_in if swap_fee == _PIPS else -(-(amount_in * swap_fee) // fee_complement)
                    else:
                        amount_in = less_fee
                        price = get_next_sqrt_price_from_input(cur, liquidity, less_fee, False)
                        fee_amount = given - less_fee
                    amount_out = (liquidity << 96) * (price - cur) // (price * cur) if liquidity else 0
            if exact_out:
                remaining -= amount_out
                calculated -= amount_in + fee_amount
            else:
                remaining += amount_in + fee_amount
                calculated += amount_out
            if protocol_fee > 0:
                delta = (
                    fee_amount
                    if swap_fee == protocol_fee
                    else (amount_in + fee_amount) * protocol_fee // _fees.PIPS_DENOMINATOR
                )
                fee_amount -= delta
                to_protocol += delta
            if liquidity > 0 and commit:  # a quote needs no fee growth
                fee_growth = (fee_growth + fee_amount * _Q128 // liquidity) % _MOD256
            first = False
            if price == price_next:
                if initialized:
                    crossings.append((tick_next, fee_growth))
                    net = ticks[tick_next][1]
                    liquidity = add_delta(liquidity, -net if zero_for_one else net)
                tick = tick_next - 1 if zero_for_one else tick_next
            elif price != step_start:
                # TickMath.getTickAtSqrtPrice: still in the same tick, or a float estimate confirmed exactly
                low = sqrt_cache.get(tick)
                if low is not None and low <= price and (sqrt_cache.get(tick + 1) or 0) > price:
                    continue
                t = floor((log(price) - _LN_Q96) / _LOG_SQRT_10001)
                if (
                    MIN_TICK <= t < MAX_TICK
                    and (sqrt_cache.get(t) or get_sqrt_ratio_at_tick(t)) <= price
                    and (sqrt_cache.get(t + 1) or get_sqrt_ratio_at_tick(t + 1)) > price
                ):
                    tick = t
                else:
                    tick = get_tick_at_sqrt_ratio(price)
        if zero_for_one != (amount_specified < 0):
            amount0, amount1 = calculated, amount_specified - remaining
        else:
            amount0, amount1 = amount_specified - remaining, calculated
        if not (_INT128_MIN <= amount0 <= _INT128_MAX and _INT128_MIN <= amount1 <= _INT128_MAX):
            _to_int128(amount0, "amount0")
            _to_int128(amount1, "amount1")
        outcome = SwapOutcome(amount0, amount1, to_protocol, swap_fee, price, tick, liquidity, len(crossings))
        if not commit:
            return outcome
        if crossings:
            self._own()
            ticks = self._ticks
            for t, growth in crossings:
                r = ticks[t]
                if zero_for_one:
                    r[2] = (growth - r[2]) % _MOD256
                    r[3] = (other_growth - r[3]) % _MOD256
                else:
                    r[2] = (other_growth - r[2]) % _MOD256
                    r[3] = (growth - r[3]) % _MOD256
        self.sqrt_price_x96, self.tick, self.liquidity = price, tick, liquidity
        if zero_for_one:
            self.fee_growth_global0_x128 = fee_growth
        else:
            self.fee_growth_global1_x128 = fee_growth
        self.state_version = next_state_version()
        return outcome
