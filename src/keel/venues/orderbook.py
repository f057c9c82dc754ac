"""A central-limit order book as a two-token venue the smart order router can route across.

Conventions
-----------
* ``token0`` is the base token, ``token1`` the quote token.
* A price level is an exact rational ``price`` in *quote base units per base base unit*
  (``fractions.Fraction``) and a ``size`` in base base units (int).  ``OrderBook.from_human``
  converts human prices (quote per base, e.g. 2270.5 USDC per WETH) exactly.
* Taking liquidity costs a taker fee ``fee_pips`` (1e-6 of the input, rounded up, kept by the
  venue) and ``gas_per_touch + gas_per_level * levels_touched`` gas units (an on-chain book:
  one settlement call plus one storage update per level).
* Exact input: the whole input is spent; partial-level outputs round down (dust stays with the
  maker).  Exact output: the taker gets exactly the requested amount and pays the rounded-up
  input.  Both revert with ``Revert('LIQ')`` when the book is too thin.
* ``state_version`` takes a fresh value on every fill (:mod:`keel.venues.state_version`);
  ``updated_ns`` is the timestamp of the book's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from keel.domain import Token
from keel.errors import ValidationError
from keel.venues.base import Revert, SwapQuote
from keel.venues.state_version import next_state_version

__all__ = ["OrderBook"]

_PIPS = 1_000_000


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _levels(field: str, levels: Sequence[tuple[Fraction | int, int]], descending: bool) -> list[list[int]]:
    """Validate and normalise levels to mutable ``[num, den, size]`` rows sorted best first."""
    rows: list[list[int]] = []
    for i, level in enumerate(levels):
        try:
            price, size = level
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{field}[{i}]", level, "must be a (price, size) pair") from exc
        if isinstance(price, float | bool) or not isinstance(price, Fraction | int):
            raise ValidationError(f"{field}[{i}].price", price, "must be an exact Fraction or int (base units)")
        frac = Fraction(price)
        if frac <= 0:
            raise ValidationError(f"{field}[{i}].price", price, "must be positive")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValidationError(f"{field}[{i}].size", size, "must be a positive int of base units")
        rows.append([frac.numerator, frac.denominator, size])
    rows.sort(key=lambda r: Fraction(r[0], r[1]), reverse=descending)
    return rows


class OrderBook:
    """An order book venue with exact integer fills (see the module docstring)."""

    def __init__(
        self,
        name: str,
        base: Token,
        quote: Token,
        *,
        bids: Sequence[tuple[Fraction | int, int]] = (),
        asks: Sequence[tuple[Fraction | int, int]] = (),
        fee_pips: int = 0,
        gas_per_touch: int = 60_000,
        gas_per_level: int = 5_000,
        updated_ns: int = 0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError("name", name, "must be a non-empty string")
        if base == quote:
            raise ValidationError("quote", quote, "must differ from the base token")
        if isinstance(fee_pips, bool) or not isinstance(fee_pips, int) or not 0 <= fee_pips < _PIPS:
            raise ValidationError("fee_pips", fee_pips, "must be an int in [0, 1e6)")
        for field, gas in (("gas_per_touch", gas_per_touch), ("gas_per_level", gas_per_level)):
            if isinstance(gas, bool) or not isinstance(gas, int) or gas < 0:
                raise ValidationError(field, gas, "must be a non-negative int of gas units")
        if isinstance(updated_ns, bool) or not isinstance(updated_ns, int):
            raise ValidationError("updated_ns", updated_ns, "must be int nanoseconds UTC")
        self.name = name
        self.token0 = base
        self.token1 = quote
        self.fee_pips = fee_pips
        self.gas_per_touch = gas_per_touch
        self.gas_per_level = gas_per_level
        self.updated_ns = updated_ns
        self._bids = _levels("bids", bids, descending=True)
        self._asks = _levels("asks", asks, descending=False)
        self.state_version = next_state_version()
        if (
            self._bids
            and self._asks
            and Fraction(self._bids[0][0], self._bids[0][1]) >= Fraction(self._asks[0][0], self._asks[0][1])
        ):
            raise ValidationError("bids", "best bid >= best ask", "a crossed book is not a valid state")

    @classmethod
    def from_human(
        cls,
        name: str,
        base: Token,
        quote: Token,
        *,
        bids: Sequence[tuple[Decimal | int | str, Decimal | int | str]] = (),
        asks: Sequence[tuple[Decimal | int | str, Decimal | int | str]] = (),
        **kwargs: int,
    ) -> OrderBook:
        """Build from human (price quote-per-base, size in base) pairs, converted exactly."""
        scale = Fraction(10**quote.decimals, 10**base.decimals)

        def conv(
            field: str, rows: Sequence[tuple[Decimal | int | str, Decimal | int | str]]
        ) -> list[tuple[Fraction, int]]:
            out = []
            for i, (price, size) in enumerate(rows):
                if isinstance(price, float):
                    raise ValidationError(f"{field}[{i}].price", price, "floats are not exact; pass a Decimal or str")
                try:
                    frac = Fraction(Decimal(price)) * scale
                except Exception as exc:
                    raise ValidationError(f"{field}[{i}].price", price, "not a number") from exc
                out.append((frac, base.to_base_units(size)))
            return out

        return cls(name, base, quote, bids=conv("bids", bids), asks=conv("asks", asks), **kwargs)

    # ------------------------------------------------------------------ inspection
    def levels(self, token_in: Token) -> list[tuple[Fraction, int]]:
        """Levels a taker paying ``token_in`` walks, best first: (price quote/base, size base)."""
        side = self._side(token_in)
        return [(Fraction(n, d), s) for n, d, s in side]

    def _side(self, token_in: Token) -> list[list[int]]:
        if token_in == self.token1:
            return self._asks
        if token_in == self.token0:
            return self._bids
        raise ValidationError("token_in", str(token_in), f"not traded by {self.name} ({self.token0}/{self.token1})")

    def _check_amount(self, field: str, amount: int) -> None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValidationError(field, amount, "must be a positive int of base units")

    def _gas(self, levels_touched: int) -> int:
        return self.gas_per_touch + self.gas_per_level * levels_touched

    # ------------------------------------------------------------------ exact input
    def _exact_in(self, token_in: Token, amount_in: int, commit: bool) -> SwapQuote:
        self._check_amount("amount_in", amount_in)
        side = self._side(token_in)
        net = amount_in - _ceil_div(amount_in * self.fee_pips, _PIPS)
        out = 0
        touched = 0
        consumed = 0
        partial: tuple[int, int] | None = None  # (level index, new size)
        buying_base = token_in == self.token1
        for i, (num, den, size) in enumerate(side):
            if net <= 0:
                break
            touched += 1
            if buying_base:
                full_cost = _ceil_div(size * num, den)
                if net >= full_cost:
                    out += size
                    net -= full_cost
                    consumed += 1
                    continue
                take = net * den // num
                out += take
                partial = (i, size - take)
                net = 0
            else:
                if net >= size:
                    out += size * num // den
                    net -= size
                    consumed += 1
                    continue
                out += net * num // den
                partial = (i, size - net)
                net = 0
        if net > 0:
            raise Revert("LIQ", f"{self.name}: book too thin for {amount_in} {token_in}")
        if commit:
            if partial is not None:
                side[partial[0]][2] = partial[1]
            del side[:consumed]
            if partial is not None and side and side[0][2] == 0:
                del side[0]
            self.state_version = next_state_version()
        return SwapQuote(amount_in, out, self._gas(touched), touched)

    # ------------------------------------------------------------------ exact output
    def _exact_out(self, token_in: Token, amount_out: int, commit: bool) -> SwapQuote:
        self._check_amount("amount_out", amount_out)
        side = self._side(token_in)
        rem = amount_out
        need = 0
        touched = 0
        consumed = 0
        partial: tuple[int, int] | None = None
        buying_base = token_in == self.token1
        for i, (num, den, size) in enumerate(side):
            if rem <= 0:
                break
            touched += 1
            if buying_base:
                if rem >= size:
                    need += _ceil_div(size * num, den)
                    rem -= size
                    consumed += 1
                    continue
                need += _ceil_div(rem * num, den)
                partial = (i, size - rem)
                rem = 0
            else:
                full_out = size * num // den
                if rem >= full_out:
                    need += size
                    rem -= full_out
                    consumed += 1
                    continue
                units = _ceil_div(rem * den, num)
                need += units
                partial = (i, size - units)
                rem = 0
        if rem > 0:
            raise Revert("LIQ", f"{self.name}: book too thin to deliver {amount_out}")
        gross = _ceil_div(need * _PIPS, _PIPS - self.fee_pips)
        if commit:
            if partial is not None:
                side[partial[0]][2] = partial[1]
            del side[:consumed]
            if partial is not None and side and side[0][2] == 0:
                del side[0]
            self.state_version = next_state_version()
        return SwapQuote(gross, amount_out, self._gas(touched), touched)

    # ------------------------------------------------------------------ Venue protocol
    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Output for exactly ``amount_in`` of ``token_in`` (book unchanged)."""
        return self._exact_in(token_in, amount_in, commit=False)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Input of ``token_in`` needed for exactly ``amount_out`` of the other token."""
        return self._exact_out(token_in, amount_out, commit=False)

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Take liquidity with exactly ``amount_in``; consumes the levels it fills."""
        return self._exact_in(token_in, amount_in, commit=True)

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Take exactly ``amount_out`` of the other token; consumes the levels it fills."""
        return self._exact_out(token_in, amount_out, commit=True)

    def copy(self) -> OrderBook:
        """Independent copy (levels are copied; tokens shared)."""
        new = object.__new__(OrderBook)
        new.name = self.name
        new.token0 = self.token0
        new.token1 = self.token1
        new.fee_pips = self.fee_pips
        new.gas_per_touch = self.gas_per_touch
        new.gas_per_level = self.gas_per_level
        new.updated_ns = self.updated_ns
        new._bids = [list(r) for r in self._bids]
        new._asks = [list(r) for r in self._asks]
        new.state_version = self.state_version
        return new

    def __repr__(self) -> str:
        return f"OrderBook({self.name!r}, {self.token0}/{self.token1}, {len(self._bids)} bids, {len(self._asks)} asks)"
