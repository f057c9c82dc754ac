"""float64 fast path for Uniswap v3: vectorized quotes over many trade sizes at once.

:func:`build_curve` walks a :class:`~keel.venues.uniswap_v3.pool.Pool`'s initialized
ticks once in one swap direction and records, for every liquidity segment between
consecutive initialized ticks, its bounding sqrt prices, its liquidity and the
cumulative gross input (fee included) and output needed to reach its end -- those
cumulative amounts are computed with the exact integer SwapMath, so only the
partial last segment of a trade is float.  :class:`SwapCurve` then answers, for a
whole numpy array of sizes: output for an input (:meth:`SwapCurve.amount_out`),
input for an output (:meth:`SwapCurve.amount_in`), price after the trade,
marginal rate, input needed to move the price to a target
(:meth:`SwapCurve.amount_in_to_sqrt_price`), initialized ticks crossed and gas.

Accuracy (tested against the exact pool, tests/venues/test_fast_path.py): the fast
path floors the input less fee and each output like the contract, so
``|fast - exact| <= 1e-9 * exact + n`` base units, where ``n`` is the number of swap
steps of the exact path (the fast path does not split a segment at tick-bitmap word
edges, and each exact step rounds by < 1 unit).  For outputs of 1e10 base units and
more that is within 1e-9 relative.  Throughput: > 1e7 quotes/s for 1e6 sizes
(BENCHMARKS.md).

Units: amounts in base units (float64), sqrt prices as real numbers
``sqrtPriceX96 / 2**96`` (so ``price = sqrt**2`` is token1 base units per token0
base unit), fee as a fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from keel.venues.uniswap_v3.gas import SWAP_GAS_BASE, SWAP_GAS_FIRST_CROSSING, SWAP_GAS_PER_TICK
from keel.venues.uniswap_v3.sqrt_price_math import get_amount0_delta, get_amount1_delta
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick

__all__ = ["SwapCurve", "build_curve"]

_Q96 = float(2**96)
_PIPS = 1_000_000
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SwapCurve:
    """One swap direction of a v3 pool as float64 segments (see the module docstring).

    ``boundaries[k]``..``boundaries[k+1]`` is segment ``k`` (real sqrt prices, moving down
    when ``zero_for_one``), ``liquidity[k]`` its liquidity; ``cum_in[k]``/``cum_out[k]`` the
    gross input / output to reach ``boundaries[k]``.  Crossing boundary ``k`` (k >= 1,
    except the final price limit) crosses one initialized tick.
    """

    zero_for_one: bool
    fee: float
    fee_pips: int
    boundaries: FloatArray
    liquidity: FloatArray
    cum_in: FloatArray
    cum_out: FloatArray
    gas_base: int
    gas_per_tick: int
    gas_first_crossing: int

    @property
    def max_amount_in(self) -> float:
        """Gross input that exhausts the curve (the price limit)."""
        return float(self.cum_in[-1])

    @property
    def max_amount_out(self) -> float:
        """Output available in this direction."""
        return float(self.cum_out[-1])

    def _segment(self, cum: FloatArray, x: FloatArray) -> npt.NDArray[np.intp]:
        k = np.searchsorted(cum, x, side="right") - 1
        return np.clip(k, 0, len(self.liquidity) - 1)

    def amount_out(self, amount_in: npt.ArrayLike) -> FloatArray:
        """Output for each gross input (fee included); inputs beyond :attr:`max_amount_in` saturate."""
        x = np.minimum(np.asarray(amount_in, dtype=np.float64), self.cum_in[-1])
        k = self._segment(self.cum_in, x)
        a = self.boundaries[k]
        liq = self.liquidity[k]
        # the contract floors the input less fee and the output of each step: so do we
        rest = np.floor((x - self.cum_in[k]) * ((_PIPS - self.fee_pips) / _PIPS))
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.zero_for_one:
                part = liq * a * (rest * a) / (liq + rest * a)
            else:
                s_new = a + rest / liq
                part = rest / (a * s_new)
        out: FloatArray = self.cum_out[k] + np.floor(np.where(liq > 0, part, 0.0))
        return out

    def sqrt_price_after(self, amount_in: npt.ArrayLike) -> FloatArray:
        """Real sqrt price after each gross input."""
        x = np.minimum(np.asarray(amount_in, dtype=np.float64), self.cum_in[-1])
        k = self._segment(self.cum_in, x)
        a = self.boundaries[k]
        liq = self.liquidity[k]
        rest = np.floor((x - self.cum_in[k]) * ((_PIPS - self.fee_pips) / _PIPS))
        with np.errstate(divide="ignore", invalid="ignore"):
            s_new = liq * a / (liq + rest * a) if self.zero_for_one else a + rest / liq
        out: FloatArray = np.where(liq > 0, s_new, a)
        return out

    def marginal_rate(self, amount_in: npt.ArrayLike) -> FloatArray:
        """Output per unit of the next unit of input after each trade (fee included)."""
        s = self.sqrt_price_after(amount_in)
        rate: FloatArray = (1.0 - self.fee) * (s * s if self.zero_for_one else 1.0 / (s * s))
        return rate

    def amount_in(self, amount_out: npt.ArrayLike) -> FloatArray:
        """Gross input needed for each output; outputs beyond :attr:`max_amount_out` give ``inf``."""
        y = np.asarray(amount_out, dtype=np.float64)
        k = self._segment(self.cum_out, y)
        a = self.boundaries[k]
        liq = self.liquidity[k]
        rest = y - self.cum_out[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.zero_for_one:
                s_new = a - rest / liq
                net = rest / (a * s_new)
            else:
                net = rest * a * a * liq / (liq - rest * a)
        net = np.ceil(np.where(liq > 0, net, 0.0))
        part = net + np.ceil(net * self.fee_pips / (_PIPS - self.fee_pips))
        out: FloatArray = np.where(y > self.cum_out[-1], np.inf, self.cum_in[k] + part)
        return out

    def amount_in_to_sqrt_price(self, sqrt_price: npt.ArrayLike) -> FloatArray:
        """Gross input that moves the price to each target real sqrt price (0 if already past it)."""
        t = np.asarray(sqrt_price, dtype=np.float64)
        b = self.boundaries
        if self.zero_for_one:
            t = np.clip(t, b[-1], b[0])
            k = np.clip(np.searchsorted(-b, -t, side="right") - 1, 0, len(self.liquidity) - 1)
            net = self.liquidity[k] * (b[k] - t) / (b[k] * t)
        else:
            t = np.clip(t, b[0], b[-1])
            k = np.clip(np.searchsorted(b, t, side="right") - 1, 0, len(self.liquidity) - 1)
            net = self.liquidity[k] * (t - b[k])
        out: FloatArray = self.cum_in[k] + net / (1.0 - self.fee)
        return out

    def ticks_crossed(self, amount_in: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Initialized ticks crossed by each gross input."""
        x = np.minimum(np.asarray(amount_in, dtype=np.float64), self.cum_in[-1])
        return self._segment(self.cum_in, x)

    def gas(self, amount_in: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Gas units of each swap (base + per initialized tick crossed)."""
        k = self.ticks_crossed(amount_in).astype(np.int64)
        out: npt.NDArray[np.int64] = self.gas_base + self.gas_per_tick * k + np.where(k > 0, self.gas_first_crossing, 0)
        return out


class CurvePool(Protocol):
    """What :func:`build_curve` reads from a v3 pool (:class:`keel.venues.uniswap_v3.Pool`)."""

    @property
    def fee(self) -> int: ...
    @property
    def tick(self) -> int: ...
    @property
    def sqrt_price_x96(self) -> int: ...
    @property
    def liquidity(self) -> int: ...
    def initialized_ticks(self) -> list[int]: ...
    def ticks(self, tick: int) -> Any: ...


def build_curve(pool: CurvePool, zero_for_one: bool, *, max_ticks: int | None = None) -> SwapCurve:
    """The :class:`SwapCurve` of ``pool`` in one direction, over at most ``max_ticks`` initialized ticks."""
    fee = pool.fee
    ticks = pool.initialized_ticks()
    if zero_for_one:
        ahead = [t for t in reversed(ticks) if t <= pool.tick]
    else:
        ahead = [t for t in ticks if t > pool.tick]
    if max_ticks is not None:
        ahead = ahead[:max_ticks]
    limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    bounds = [pool.sqrt_price_x96] + [get_sqrt_ratio_at_tick(t) for t in ahead] + [limit]
    liquidity = pool.liquidity
    liqs: list[int] = []
    cum_in = [0]
    cum_out = [0]
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if k > 0:
            net = pool.ticks(ahead[k - 1]).liquidity_net
            liquidity += -net if zero_for_one else net
        liqs.append(liquidity)
        if zero_for_one:
            net_in = get_amount0_delta(b, a, liquidity, True)
            out = get_amount1_delta(b, a, liquidity, False)
        else:
            net_in = get_amount1_delta(a, b, liquidity, True)
            out = get_amount0_delta(a, b, liquidity, False)
        gross = net_in + -(-net_in * fee // (_PIPS - fee))
        cum_in.append(cum_in[-1] + gross)
        cum_out.append(cum_out[-1] + out)
    return SwapCurve(
        zero_for_one=zero_for_one,
        fee=fee / _PIPS,
        fee_pips=fee,
        boundaries=np.array([float(x) / _Q96 for x in bounds], dtype=np.float64),
        liquidity=np.array([float(x) for x in liqs], dtype=np.float64),
        cum_in=np.array([float(x) for x in cum_in], dtype=np.float64),
        cum_out=np.array([float(x) for x in cum_out], dtype=np.float64),
        gas_base=SWAP_GAS_BASE,
        gas_per_tick=SWAP_GAS_PER_TICK,
        gas_first_crossing=SWAP_GAS_FIRST_CROSSING,
    )
