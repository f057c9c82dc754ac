"""Tokens and conversions between human amounts and integer base units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from keel.errors import ValidationError

__all__ = ["Token", "from_base_units", "to_base_units"]


@dataclass(frozen=True, slots=True)
class Token:
    """A fungible asset.  On-chain amounts of it are Python ints in base units.

    ``decimals`` is the ERC-20 ``decimals`` (6 for USDC, 18 for WETH); ``address`` is
    the checksummed contract address when the token lives on a chain.
    """

    symbol: str
    decimals: int
    chain_id: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if not self.symbol or not isinstance(self.symbol, str):
            raise ValidationError("symbol", self.symbol, "must be a non-empty string")
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 77:
            raise ValidationError("decimals", self.decimals, "must be an int in [0, 77]")
        if self.address is not None and not (
            isinstance(self.address, str) and self.address.startswith("0x") and len(self.address) == 42
        ):
            raise ValidationError("address", self.address, "must be a 0x-prefixed 20-byte hex address")

    @property
    def unit(self) -> int:
        """Base units in one whole token (10**decimals)."""
        return int(10**self.decimals)

    def to_base_units(self, amount: Decimal | int | str) -> int:
        """Exact conversion of a human amount to base units; refuses sub-unit remainders."""
        return to_base_units(amount, self.decimals)

    def from_base_units(self, amount: int) -> Decimal:
        """Exact conversion of base units to a human Decimal."""
        return from_base_units(amount, self.decimals)

    def __str__(self) -> str:
        return self.symbol


def to_base_units(amount: Decimal | int | str, decimals: int) -> int:
    """Convert a human amount to int base units exactly (floats are refused: they are not exact)."""
    if isinstance(amount, float):
        raise ValidationError("amount", amount, "floats are not exact; pass a Decimal, int or str")
    try:
        with localcontext() as ctx:
            ctx.prec = 200  # exact for any 256-bit amount
            value = Decimal(amount).scaleb(decimals)
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise ValidationError("amount", amount, "not a number") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise ValidationError("amount", amount, f"not representable with {decimals} decimals")
    return int(value)


def from_base_units(amount: int, decimals: int) -> Decimal:
    """Convert int base units to a human Decimal exactly."""
    if not isinstance(amount, int):
        raise ValidationError("amount", amount, "base-unit amounts must be ints")
    with localcontext() as ctx:
        ctx.prec = 200
        return Decimal(amount).scaleb(-decimals)
