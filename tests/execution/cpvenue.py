"""A tiny constant-product venue for tests (Uniswap v2 integer formula), independent of keel.venues."""

from __future__ import annotations

from keel.domain import Token
from keel.venues.base import Revert, SwapQuote


class CPVenue:
    """x*y=k with the fee on the input, integer math as UniswapV2Library.getAmountOut/In."""

    def __init__(
        self,
        name: str,
        token0: Token,
        token1: Token,
        r0: int,
        r1: int,
        fee_pips: int = 3000,
        gas: int = 100_000,
        updated_ns: int = 0,
    ) -> None:
        self.name, self.token0, self.token1 = name, token0, token1
        self.reserve0, self.reserve1, self.fee, self.gas, self.updated_ns = r0, r1, fee_pips, gas, updated_ns

    def _res(self, token_in: Token) -> tuple[int, int]:
        if token_in == self.token0:
            return self.reserve0, self.reserve1
        if token_in == self.token1:
            return self.reserve1, self.reserve0
        raise ValueError(token_in)

    def _out(self, token_in: Token, amount_in: int) -> int:
        rin, rout = self._res(token_in)
        a = amount_in * (1_000_000 - self.fee)
        return a * rout // (rin * 1_000_000 + a)

    def _in(self, token_in: Token, amount_out: int) -> int:
        rin, rout = self._res(token_in)
        if amount_out >= rout:
            raise Revert("INSUFFICIENT_LIQUIDITY")
        return rin * amount_out * 1_000_000 // ((rout - amount_out) * (1_000_000 - self.fee)) + 1

    def _apply(self, token_in: Token, a_in: int, a_out: int) -> None:
        if token_in == self.token0:
            self.reserve0 += a_in
            self.reserve1 -= a_out
        else:
            self.reserve1 += a_in
            self.reserve0 -= a_out

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        return SwapQuote(amount_in, self._out(token_in, amount_in), self.gas)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        return SwapQuote(self._in(token_in, amount_out), amount_out, self.gas)

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        q = self.quote_exact_in(token_in, amount_in)
        self._apply(token_in, q.amount_in, q.amount_out)
        return q

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        q = self.quote_exact_out(token_in, amount_out)
        self._apply(token_in, q.amount_in, q.amount_out)
        return q

    def copy(self) -> CPVenue:
        return CPVenue(
            self.name, self.token0, self.token1, self.reserve0, self.reserve1, self.fee, self.gas, self.updated_ns
        )
