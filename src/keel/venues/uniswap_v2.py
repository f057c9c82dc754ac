"""Uniswap v2 in exact integers: UniswapV2Library quoting and the UniswapV2Pair contract.

``get_amount_out``/``get_amount_in`` are UniswapV2Library's (0.3% fee, floor, +1 on
the input side).  :class:`Pair` follows UniswapV2Pair 1.0.1: the pair holds token
balances and cached reserves; ``mint``/``burn``/``swap`` read the balances as the
contract does, after the caller's transfer (``amount0_in``/``amount1_in`` arguments
model that transfer).  Reverts carry the contract's strings
('UniswapV2: INSUFFICIENT_LIQUIDITY', 'UniswapV2: K', ...).  Gas per swap:
:data:`SWAP_GAS` (a transfer into the pair plus ``swap``, measured, see ARCHITECTURE.md).
All amounts are ints in base units.  ``state_version`` takes a fresh value on every state
change (swap, mint, burn, sync, skim, a transfer in; see :mod:`keel.venues.state_version`);
``updated_ns`` is the timestamp of the state, set by whoever feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

import numpy as np
import numpy.typing as npt

from keel.domain import PoolState, Token
from keel.errors import ValidationError
from keel.venues.base import Revert, SwapQuote, default_venue_name
from keel.venues.state_version import next_state_version

__all__ = [
    "MINIMUM_LIQUIDITY",
    "SWAP_GAS",
    "Pair",
    "amount_in_to_price_f64",
    "amounts_out_f64",
    "get_amount_in",
    "get_amount_out",
]

MINIMUM_LIQUIDITY = 1000
# Gas of a token transfer into the pair plus UniswapV2Pair.swap (one 21000 intrinsic), measured on
# py-evm with mainnet per-transaction cold/warm accounting (tests/venues/test_v3_evm.py).
SWAP_GAS = 86_500
_MAX_UINT112 = (1 << 112) - 1
_MOD256 = (1 << 256) - 1
_MOD32 = (1 << 32) - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _uint256(field: str, value: object) -> int:
    """``value`` as the contract's ``uint256`` argument; anything the ABI cannot encode is refused."""
    if type(value) is not int or not 0 <= value <= _MOD256:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(field, value, "must be an int in base units (uint256)")
        if not 0 <= value <= _MOD256:
            raise ValidationError(field, value, "out of the uint256 range")
    return value


def _holder(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "must be a non-empty address or name")
    return value


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Max output for ``amount_in`` given reserves (UniswapV2Library.getAmountOut)."""
    _uint256("amount_in", amount_in)
    _uint256("reserve_in", reserve_in)
    _uint256("reserve_out", reserve_out)
    if amount_in <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT", f"amount_in={amount_in}")
    if reserve_in <= 0 or reserve_out <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY", f"reserves=({reserve_in}, {reserve_out})")
    amount_in_with_fee = amount_in * 997
    return amount_in_with_fee * reserve_out // (reserve_in * 1000 + amount_in_with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """Input needed for ``amount_out`` given reserves (UniswapV2Library.getAmountIn)."""
    _uint256("amount_out", amount_out)
    _uint256("reserve_in", reserve_in)
    _uint256("reserve_out", reserve_out)
    if amount_out <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT", f"amount_out={amount_out}")
    if reserve_in <= 0 or reserve_out <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY", f"reserves=({reserve_in}, {reserve_out})")
    if amount_out > reserve_out:
        raise Revert("ds-math-sub-underflow", f"amount_out {amount_out} > reserve {reserve_out}")
    if amount_out == reserve_out:
        raise Revert("", "division by zero: amount_out equals the reserve")
    return reserve_in * amount_out * 1000 // ((reserve_out - amount_out) * 997) + 1


def amounts_out_f64(amount_in: npt.ArrayLike, reserve_in: float, reserve_out: float) -> npt.NDArray[np.float64]:
    """float64 fast path: outputs for many input sizes at once (no flooring; within 1e-12 relative)."""
    x = np.asarray(amount_in, dtype=np.float64) * 997.0
    out: npt.NDArray[np.float64] = x * float(reserve_out) / (float(reserve_in) * 1000.0 + x)
    return out


def amount_in_to_price_f64(
    target_price: npt.ArrayLike, reserve_in: float, reserve_out: float
) -> npt.NDArray[np.float64]:
    """float64: gross input that moves the marginal price (reserve_out / reserve_in, fee excluded)
    down to each ``target_price``; 0 where the price is already at or below it."""
    p = np.asarray(target_price, dtype=np.float64)
    k = float(reserve_in) * float(reserve_out)
    new_in = np.sqrt(k / p)
    out: npt.NDArray[np.float64] = np.maximum(new_in - float(reserve_in), 0.0) * (1000.0 / 997.0)
    return out


@dataclass(frozen=True, slots=True)
class _Cumulatives:
    price0_cumulative_last: int
    price1_cumulative_last: int
    block_timestamp_last: int


class Pair:
    """A UniswapV2Pair holding ``reserve0``/``reserve1`` (and equal token balances).

    A pair created with reserves counts as having been minted once: LP supply
    ``isqrt(reserve0*reserve1)``, of which MINIMUM_LIQUIDITY is locked at the zero
    address and the rest belongs to ``initial_owner``.  ``fee_to`` switches on the
    protocol fee (1/6 of the growth in sqrt(k)), as the factory's feeTo does.
    """

    def __init__(
        self,
        reserve0: int,
        reserve1: int,
        *,
        token0: Token | None = None,
        token1: Token | None = None,
        name: str | None = None,
        fee_to: str | None = None,
        initial_owner: str = "genesis",
        block_timestamp: int = 0,
        updated_ns: int = 0,
    ) -> None:
        for label, value in (("reserve0", reserve0), ("reserve1", reserve1)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_UINT112:
                raise ValidationError(label, value, "must be an int in [0, 2**112)")
        self.token0 = token0 if token0 is not None else Token("TOKEN0", 18)
        self.token1 = token1 if token1 is not None else Token("TOKEN1", 18)
        if self.token0 == self.token1:
            raise ValidationError("token1", self.token1, "must differ from token0")
        self.name = name if name is not None else default_venue_name(f"uniswap_v2:{self.token0}/{self.token1}")
        self.updated_ns = updated_ns
        self.fee_to = fee_to
        self.block_timestamp = block_timestamp
        self.reserve0 = reserve0
        self.reserve1 = reserve1
        self.balance0 = reserve0
        self.balance1 = reserve1
        self.block_timestamp_last = block_timestamp & _MOD32
        self.price0_cumulative_last = 0
        self.price1_cumulative_last = 0
        self.k_last = 0
        self.total_supply = 0
        self.balance_of: dict[str, int] = {}
        self.state_version = next_state_version()
        if reserve0 and reserve1:
            supply = isqrt(reserve0 * reserve1)
            if supply <= MINIMUM_LIQUIDITY:
                raise ValidationError("reserve0*reserve1", reserve0 * reserve1, "too small for MINIMUM_LIQUIDITY")
            self.total_supply = supply
            self.balance_of = {ZERO_ADDRESS: MINIMUM_LIQUIDITY, initial_owner: supply - MINIMUM_LIQUIDITY}
            if fee_to is not None:
                self.k_last = reserve0 * reserve1

    gas_per_swap = SWAP_GAS

    # ------------------------------------------------------------------ contract
    def _update(self, balance0: int, balance1: int) -> None:
        if balance0 > _MAX_UINT112 or balance1 > _MAX_UINT112:
            raise Revert("UniswapV2: OVERFLOW", f"balances ({balance0}, {balance1})")
        now = self.block_timestamp & _MOD32
        elapsed = (now - self.block_timestamp_last) & _MOD32
        if elapsed > 0 and self.reserve0 != 0 and self.reserve1 != 0:
            q112 = 1 << 112
            self.price0_cumulative_last = (
                self.price0_cumulative_last + (self.reserve1 * q112 // self.reserve0) * elapsed
            ) & _MOD256
            self.price1_cumulative_last = (
                self.price1_cumulative_last + (self.reserve0 * q112 // self.reserve1) * elapsed
            ) & _MOD256
        self.reserve0 = balance0
        self.reserve1 = balance1
        self.block_timestamp_last = now
        self.state_version = next_state_version()

    def _mint_fee(self) -> bool:
        fee_on = self.fee_to is not None
        if fee_on:
            if self.k_last != 0:
                root_k = isqrt(self.reserve0 * self.reserve1)
                root_k_last = isqrt(self.k_last)
                if root_k > root_k_last:
                    liquidity = self.total_supply * (root_k - root_k_last) // (root_k * 5 + root_k_last)
                    if liquidity > 0:
                        self._mint_lp(str(self.fee_to), liquidity)
        elif self.k_last != 0:
            self.k_last = 0
        return fee_on

    def _mint_lp(self, to: str, value: int) -> None:
        self.total_supply += value
        self.balance_of[to] = self.balance_of.get(to, 0) + value

    def transfer_in(self, amount0: int, amount1: int) -> None:
        """Tokens sent to the pair (before ``mint``/``swap``, or a donation picked up by ``sync``/``skim``)."""
        _uint256("amount0", amount0)
        _uint256("amount1", amount1)
        if self.balance0 + amount0 > _MOD256 or self.balance1 + amount1 > _MOD256:
            raise Revert("", f"token balance overflows uint256 after transferring ({amount0}, {amount1})")
        self.balance0 += amount0
        self.balance1 += amount1
        self.state_version = next_state_version()

    def mint(self, to: str, amount0: int = 0, amount1: int = 0) -> int:
        """Transfer ``amount0``/``amount1`` in and mint LP tokens to ``to``; returns the liquidity minted."""
        _holder("to", to)
        _uint256("amount0", amount0)
        _uint256("amount1", amount1)
        snapshot = self._save()
        try:
            self.transfer_in(amount0, amount1)
            deposited0 = self.balance0 - self.reserve0
            deposited1 = self.balance1 - self.reserve1
            fee_on = self._mint_fee()
            supply = self.total_supply
            if supply == 0:
                root = isqrt(deposited0 * deposited1)
                if root < MINIMUM_LIQUIDITY:
                    raise Revert("ds-math-sub-underflow", f"sqrt(amount0*amount1)={root} < MINIMUM_LIQUIDITY")
                liquidity = root - MINIMUM_LIQUIDITY
                self._mint_lp(ZERO_ADDRESS, MINIMUM_LIQUIDITY)
            else:
                liquidity = min(deposited0 * supply // self.reserve0, deposited1 * supply // self.reserve1)
            if liquidity <= 0:
                raise Revert("UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED", f"liquidity={liquidity}")
            self._mint_lp(to, liquidity)
            self._update(self.balance0, self.balance1)
            if fee_on:
                self.k_last = self.reserve0 * self.reserve1
        except Revert:
            self._restore(snapshot)
            raise
        return liquidity

    def burn(self, owner: str, liquidity: int, to: str | None = None) -> tuple[int, int]:
        """``owner`` sends ``liquidity`` LP tokens to the pair and burns them; returns (amount0, amount1) paid out."""
        _holder("owner", owner)
        _uint256("liquidity", liquidity)
        if to is not None:
            _holder("to", to)
        if liquidity < 0 or self.balance_of.get(owner, 0) < liquidity:
            raise Revert("ds-math-sub-underflow", f"{owner} holds {self.balance_of.get(owner, 0)} LP < {liquidity}")
        snapshot = self._save()
        try:
            self.balance_of[owner] -= liquidity
            fee_on = self._mint_fee()
            supply = self.total_supply
            amount0 = liquidity * self.balance0 // supply
            amount1 = liquidity * self.balance1 // supply
            if amount0 <= 0 or amount1 <= 0:
                raise Revert("UniswapV2: INSUFFICIENT_LIQUIDITY_BURNED", f"amounts ({amount0}, {amount1})")
            self.total_supply -= liquidity
            self.balance0 -= amount0
            self.balance1 -= amount1
            self._update(self.balance0, self.balance1)
            if fee_on:
                self.k_last = self.reserve0 * self.reserve1
        except Revert:
            self._restore(snapshot)
            raise
        return amount0, amount1

    def swap(self, amount0_out: int, amount1_out: int, *, amount0_in: int = 0, amount1_in: int = 0) -> None:
        """UniswapV2Pair.swap after the caller transferred ``amount0_in``/``amount1_in`` to the pair."""
        for field, value in (
            ("amount0_out", amount0_out),
            ("amount1_out", amount1_out),
            ("amount0_in", amount0_in),
            ("amount1_in", amount1_in),
        ):
            _uint256(field, value)
        if amount0_out <= 0 and amount1_out <= 0:
            raise Revert("UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT", f"outs ({amount0_out}, {amount1_out})")
        if amount0_out >= self.reserve0 or amount1_out >= self.reserve1:
            raise Revert("UniswapV2: INSUFFICIENT_LIQUIDITY", f"outs ({amount0_out}, {amount1_out})")
        r0, r1 = self.reserve0, self.reserve1
        balance0 = self.balance0 + amount0_in - amount0_out
        balance1 = self.balance1 + amount1_in - amount1_out
        in0 = balance0 - (r0 - amount0_out) if balance0 > r0 - amount0_out else 0
        in1 = balance1 - (r1 - amount1_out) if balance1 > r1 - amount1_out else 0
        if in0 <= 0 and in1 <= 0:
            raise Revert("UniswapV2: INSUFFICIENT_INPUT_AMOUNT", f"ins ({in0}, {in1})")
        adjusted0 = balance0 * 1000 - in0 * 3
        adjusted1 = balance1 * 1000 - in1 * 3
        if adjusted0 * adjusted1 < r0 * r1 * 1_000_000:
            raise Revert("UniswapV2: K", "invariant would decrease")
        if balance0 > _MAX_UINT112 or balance1 > _MAX_UINT112:
            raise Revert("UniswapV2: OVERFLOW", f"balances ({balance0}, {balance1})")
        self.balance0, self.balance1 = balance0, balance1
        self._update(balance0, balance1)

    def skim(self) -> tuple[int, int]:
        """Remove balances above the reserves; returns what was skimmed."""
        extra0, extra1 = self.balance0 - self.reserve0, self.balance1 - self.reserve1
        self.balance0, self.balance1 = self.reserve0, self.reserve1
        self.state_version = next_state_version()
        return extra0, extra1

    def sync(self) -> None:
        """Set the reserves to the balances."""
        self._update(self.balance0, self.balance1)

    def get_reserves(self) -> tuple[int, int, int]:
        """(reserve0, reserve1, block_timestamp_last), as the contract's getReserves."""
        return self.reserve0, self.reserve1, self.block_timestamp_last

    def _save(self) -> tuple[object, ...]:
        return (
            self.reserve0,
            self.reserve1,
            self.balance0,
            self.balance1,
            self.block_timestamp_last,
            self.price0_cumulative_last,
            self.price1_cumulative_last,
            self.k_last,
            self.total_supply,
            dict(self.balance_of),
        )

    def _restore(self, s: tuple[object, ...]) -> None:
        (
            self.reserve0,
            self.reserve1,
            self.balance0,
            self.balance1,
            self.block_timestamp_last,
            self.price0_cumulative_last,
            self.price1_cumulative_last,
            self.k_last,
            self.total_supply,
            self.balance_of,
        ) = s  # type: ignore[assignment]
        self.state_version = next_state_version()

    # ------------------------------------------------------------------ Venue protocol
    def _reserves_for(self, token_in: Token) -> tuple[bool, int, int]:
        if token_in == self.token0:
            return True, self.reserve0, self.reserve1
        if token_in == self.token1:
            return False, self.reserve1, self.reserve0
        raise ValidationError("token_in", token_in, f"not a token of pair {self.name}")

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Output for ``amount_in`` of ``token_in`` (UniswapV2Library.getAmountOut)."""
        _, r_in, r_out = self._reserves_for(token_in)
        return SwapQuote(amount_in, get_amount_out(amount_in, r_in, r_out), SWAP_GAS)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Input of ``token_in`` needed for ``amount_out`` (UniswapV2Library.getAmountIn)."""
        _, r_in, r_out = self._reserves_for(token_in)
        return SwapQuote(get_amount_in(amount_out, r_in, r_out), amount_out, SWAP_GAS)

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Execute an exact-input swap through ``swap``."""
        q = self.quote_exact_in(token_in, amount_in)
        self._execute(token_in, q)
        return q

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Execute an exact-output swap through ``swap``."""
        q = self.quote_exact_out(token_in, amount_out)
        self._execute(token_in, q)
        return q

    def _execute(self, token_in: Token, q: SwapQuote) -> None:
        zero_in, _, _ = self._reserves_for(token_in)
        if zero_in:
            self.swap(0, q.amount_out, amount0_in=q.amount_in)
        else:
            self.swap(q.amount_out, 0, amount1_in=q.amount_in)

    def copy(self) -> Pair:
        """An independent copy."""
        new = object.__new__(Pair)
        new.__dict__.update(self.__dict__)
        new.balance_of = dict(self.balance_of)
        return new

    # ------------------------------------------------------------------ snapshots
    def to_state(self, *, block_number: int = 0, ts_ns: int | None = None, address: str = "") -> PoolState:
        """Snapshot of the reserves (fee 3000 pips)."""
        return PoolState(
            kind="uniswap_v2",
            token0=self.token0.symbol,
            token1=self.token1.symbol,
            fee=3000,
            block_number=block_number,
            ts_ns=self.updated_ns if ts_ns is None else ts_ns,
            address=address,
            reserve0=self.reserve0,
            reserve1=self.reserve1,
        )

    @classmethod
    def from_state(cls, state: PoolState, *, token0: Token | None = None, token1: Token | None = None) -> Pair:
        """A pair holding the snapshot's reserves."""
        if state.kind != "uniswap_v2":
            raise ValidationError("kind", state.kind, "Pair.from_state needs a 'uniswap_v2' snapshot")
        return cls(
            state.reserve0,
            state.reserve1,
            token0=token0 if token0 is not None else Token(state.token0, 18),
            token1=token1 if token1 is not None else Token(state.token1, 18),
            updated_ns=state.ts_ns,
        )

    def __repr__(self) -> str:
        return f"Pair({self.name}, reserve0={self.reserve0}, reserve1={self.reserve1})"
