"""One v4 pool seen as a router :class:`~keel.venues.base.Venue`.

:class:`V4Pool` is a view of one pool of a :class:`~keel.venues.uniswap_v4.PoolManager`: quotes
and swaps go through the manager (exact), ``copy()`` copies only that pool (O(1)), and it exposes
what :mod:`keel.execution.venue_models` reads from a v3 pool (``sqrt_price_x96``, ``liquidity``,
``tick``, ``fee``, ``tick_table()``, ``ticks(t)``), so the router models it like a v3 pool.

Gas (measured on Hardhat, ``tests/venues/test_v4_live.py``): a v4 swap through Keel's minimal
unlock-callback router (:file:`contracts/KeelV4Router.vy`) -- ``unlock``, ``swap``, ``sync`` +
ERC-20 transfer + ``settle`` for the input, ``take`` for the output -- costs
:data:`SWAP_GAS_BASE` plus, when it crosses initialized ticks, :data:`SWAP_GAS_FIRST_CROSSING`
once and :data:`SWAP_GAS_PER_TICK` per tick.  Flash accounting makes a multi-hop route cheaper:
inside one ``unlock`` the intermediate currency is never transferred or settled (the deltas
cancel), so a hop that follows a v4 hop of the same PoolManager saves :data:`CHAINED_HOP_SAVING`
(``singleton`` names the manager; :class:`keel.execution.SmartRouter` applies the saving to a
plan's exact gas).
"""

from __future__ import annotations

from keel.domain import PoolState, TickState, Token
from keel.errors import ValidationError
from keel.venues.base import SwapQuote, default_venue_name
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from keel.venues.uniswap_v3.tick_table import TickTable
from keel.venues.uniswap_v4 import fees as _fees
from keel.venues.uniswap_v4.manager import PoolManager
from keel.venues.uniswap_v4.pool import PoolState as _PoolState
from keel.venues.uniswap_v4.pool import TickInfo
from keel.venues.uniswap_v4.pool_key import PoolKey

__all__ = ["CHAINED_HOP_SAVING", "SWAP_GAS_BASE", "SWAP_GAS_FIRST_CROSSING", "SWAP_GAS_PER_TICK", "V4Pool", "swap_gas"]

# Measured on Hardhat (Cancun, per-transaction warm/cold accounting, 21000 intrinsic included) through
# contracts/KeelV4Router.vy: one hop inside one range 102.2k; two chained hops 151.0k (the second
# hop adds 48.8k instead of 102.2k: 53.5k saved); tests/venues/test_v4_live.py re-measures.
SWAP_GAS_BASE = 102_000
# One crossing measured 159.5k-179.4k (57k-77k more than in range: cold tick slots; two fee-growth-outside
# words written, from zero the first time); modelled as 43k once plus v3's 24k per tick (later crossings
# not yet measured for v4).
SWAP_GAS_PER_TICK = 24_000
SWAP_GAS_FIRST_CROSSING = 43_000
CHAINED_HOP_SAVING = 53_000


def swap_gas(ticks_crossed: int) -> int:
    """Gas units of one stand-alone v4 swap crossing ``ticks_crossed`` initialized ticks."""
    if ticks_crossed <= 0:
        return SWAP_GAS_BASE
    return SWAP_GAS_BASE + SWAP_GAS_FIRST_CROSSING + SWAP_GAS_PER_TICK * ticks_crossed


class V4Pool:
    """The pool at ``key`` in ``manager`` as a router venue trading ``token0``/``token1``.

    ``token0``/``token1`` are the keel tokens of ``key.currency0``/``currency1`` (a token with an
    ``address`` must match the key's currency; native ETH has currency 0x0).  ``name`` defaults to
    ``uniswap_v4:T0/T1:fee:spacing:`` plus the first bytes of the PoolId and a process-unique
    ``#n`` (:func:`keel.venues.base.default_venue_name`).
    ``singleton`` identifies the PoolManager (its address on chain; default: the manager object's
    id) for the chained-hop gas saving.
    """

    def __init__(
        self,
        manager: PoolManager,
        key: PoolKey,
        *,
        token0: Token,
        token1: Token,
        name: str | None = None,
        updated_ns: int = 0,
        singleton: str | None = None,
    ) -> None:
        if not isinstance(manager, PoolManager):
            raise ValidationError("manager", manager, "must be a keel.venues.uniswap_v4.PoolManager")
        manager.pool(key)  # the pool must exist
        for field, tok, cur in (("token0", token0, key.currency0), ("token1", token1, key.currency1)):
            if not isinstance(tok, Token):
                raise ValidationError(field, tok, "must be a keel Token")
            if tok.address is not None and int(tok.address, 16) != int(cur, 16):
                raise ValidationError(field, tok.address, f"does not match the key's currency {cur}")
        if token0 == token1:
            raise ValidationError("token1", token1, "must differ from token0")
        self.manager = manager
        self.key = key
        self.token0 = token0
        self.token1 = token1
        self.name = (
            name
            if name is not None
            else default_venue_name(
                f"uniswap_v4:{token0}/{token1}:{key.fee}:{key.tick_spacing}:{key.to_id().hex()[:8]}"
            )
        )
        self.updated_ns = updated_ns
        self.singleton = singleton if singleton is not None else f"pool_manager:{id(manager)}"

    # ------------------------------------------------------------------ state (model inputs)
    @property
    def _state(self) -> _PoolState:
        return self.manager.pool(self.key)

    @property
    def state_version(self) -> int:
        return int(self._state.state_version)

    @property
    def sqrt_price_x96(self) -> int:
        return int(self._state.sqrt_price_x96)

    @property
    def tick(self) -> int:
        return int(self._state.tick)

    @property
    def liquidity(self) -> int:
        return int(self._state.liquidity)

    @property
    def fee(self) -> int:
        """The larger of the two directions' total swap fee (pips), for models."""
        s = self._state
        return max(
            _fees.calculate_swap_fee(_fees.zero_for_one_fee(s.protocol_fee), s.lp_fee),
            _fees.calculate_swap_fee(_fees.one_for_zero_fee(s.protocol_fee), s.lp_fee),
        )

    @property
    def tick_spacing(self) -> int:
        return self.key.tick_spacing

    def tick_table(self) -> TickTable:
        return self._state.tick_table()

    def initialized_ticks(self) -> list[int]:
        return list(self.tick_table().ticks)

    def ticks(self, tick: int) -> TickInfo:
        return self._state.ticks(tick)

    @property
    def gas_per_swap(self) -> int:
        return SWAP_GAS_BASE

    @property
    def chained_hop_saving(self) -> int:
        """Gas saved when this swap follows a swap on the same PoolManager inside one unlock."""
        return CHAINED_HOP_SAVING

    def swap_gas(self, ticks_crossed: int) -> int:
        return swap_gas(ticks_crossed)

    # ------------------------------------------------------------------ Venue protocol
    def _direction(self, token_in: Token) -> bool:
        if token_in == self.token0:
            return True
        if token_in == self.token1:
            return False
        raise ValidationError("token_in", token_in, f"not a token of pool {self.name}")

    def _venue(self, token_in: Token, amount: int, exact_in: bool, commit: bool) -> SwapQuote:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValidationError("amount", amount, "must be a positive int in base units")
        zero_for_one = self._direction(token_in)
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        specified = -amount if exact_in else amount
        if commit:
            out = self.manager.swap_detailed(self.key, zero_for_one, specified, limit)
        else:
            out = self.manager.quote(self.key, zero_for_one, specified, limit)
        paid, received = (-out.amount0, out.amount1) if zero_for_one else (-out.amount1, out.amount0)
        return SwapQuote(paid, received, swap_gas(out.ticks_crossed), out.ticks_crossed)

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Output for ``amount_in`` of ``token_in`` (less input is used if liquidity runs out)."""
        return self._venue(token_in, amount_in, True, False)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Input of ``token_in`` for ``amount_out`` of the other token (less output if liquidity runs out)."""
        return self._venue(token_in, amount_out, False, False)

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        return self._venue(token_in, amount_in, True, True)

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        return self._venue(token_in, amount_out, False, True)

    # ------------------------------------------------------------------ v3-shaped pool interface
    def quote(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, int]:
        """UniswapV3Pool-shaped quote for code written against v3 pools (the simulator's arbitrageur):
        ``amount_specified > 0`` exact input, ``< 0`` exact output; returns the *pool's* deltas
        (positive = paid into the pool), i.e. v4's BalanceDelta negated.  No state change."""
        out = self.manager.quote(
            self.key, zero_for_one, -amount_specified, self._limit(zero_for_one, sqrt_price_limit_x96)
        )
        return -out.amount0, -out.amount1

    def swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, int]:
        """:meth:`quote`, executed."""
        limit = self._limit(zero_for_one, sqrt_price_limit_x96)
        out = self.manager.swap_detailed(self.key, zero_for_one, -amount_specified, limit)
        return -out.amount0, -out.amount1

    @staticmethod
    def _limit(zero_for_one: bool, limit: int | None) -> int:
        if limit is not None:
            return limit
        return MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1

    def to_state(self, *, block_number: int = 0, ts_ns: int | None = None, address: str = "") -> PoolState:
        """Snapshot in :class:`keel.domain.PoolState`'s concentrated-liquidity shape (price, tick,
        liquidity, fee growth, every initialized tick).  ``kind`` is ``'uniswap_v3'`` because the
        snapshot type knows only v2/v3 and a v4 pool's state has exactly v3's shape; ``fee`` is the
        swap fee actually charged (LP fee combined with the larger protocol fee)."""
        s = self._state
        return PoolState(
            kind="uniswap_v3",
            token0=self.token0.symbol,
            token1=self.token1.symbol,
            fee=self.fee,
            block_number=block_number,
            ts_ns=self.updated_ns if ts_ns is None else ts_ns,
            address=address,
            tick_spacing=self.key.tick_spacing,
            sqrt_price_x96=s.sqrt_price_x96,
            tick=s.tick,
            liquidity=s.liquidity,
            fee_growth_global0_x128=s.fee_growth_global0_x128,
            fee_growth_global1_x128=s.fee_growth_global1_x128,
            ticks=tuple(TickState(t, r[0], r[1], r[2], r[3]) for t, r in sorted(s._ticks.items())),
        )

    @classmethod
    def open(
        cls,
        token0: Token,
        token1: Token,
        *,
        fee: int,
        tick_spacing: int,
        sqrt_price_x96: int,
        liquidity: int,
        tick_lower: int,
        tick_upper: int,
        currency0: str | None = None,
        currency1: str | None = None,
        manager: PoolManager | None = None,
        owner: str = "0x" + "11" * 20,
        name: str | None = None,
        updated_ns: int = 0,
    ) -> V4Pool:
        """A new v4 pool (in ``manager`` or a new PoolManager) at ``sqrt_price_x96`` with ``liquidity``
        over ``[tick_lower, tick_upper)`` (rounded out to the spacing), as a venue.  Currencies are
        the tokens' addresses unless given (they must sort as token0 < token1)."""
        c0 = currency0 or token0.address
        c1 = currency1 or token1.address
        if c0 is None or c1 is None:
            raise ValidationError("currency0", c0, "give the currencies' addresses (the tokens have none)")
        key = PoolKey(c0, c1, fee, tick_spacing)
        pm = manager if manager is not None else PoolManager()
        pm.initialize(key, sqrt_price_x96)
        lo = tick_lower // tick_spacing * tick_spacing
        hi = -(-tick_upper // tick_spacing) * tick_spacing
        pm.modify_liquidity(key, owner, lo, hi, liquidity)
        return cls(pm, key, token0=token0, token1=token1, name=name, updated_ns=updated_ns)

    def copy(self) -> V4Pool:
        """An independent venue on a copy of this pool only (O(1))."""
        new = object.__new__(V4Pool)
        new.__dict__.update(self.__dict__)
        new.manager = self.manager.copy_pool(self.key)
        return new

    def __repr__(self) -> str:
        return (
            f"V4Pool({self.name}, sqrt_price_x96={self.sqrt_price_x96}, tick={self.tick}, liquidity={self.liquidity})"
        )
