"""``PoolKey``: what identifies a v4 pool inside the singleton PoolManager.

A v4 pool is not a contract: it is the PoolManager's state under ``PoolId =
keccak256(abi.encode(key))``.  The currencies and hooks are 0x-prefixed hex addresses;
``currency0`` must be below ``currency1`` as integers, so native ETH (the zero address) is
always ``currency0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from keel.errors import ValidationError
from keel.venues.uniswap_v4 import fees as _fees
from keel.venues.uniswap_v4 import hooks as _hooks

__all__ = ["MAX_TICK_SPACING", "MIN_TICK_SPACING", "NATIVE", "ZERO_ADDRESS", "PoolKey"]

MAX_TICK_SPACING = 32767
MIN_TICK_SPACING = 1
ZERO_ADDRESS = "0x" + "00" * 20
#: the currency address of native ETH in v4
NATIVE = ZERO_ADDRESS


def _address(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
        raise ValidationError(field, value, "must be a 0x-prefixed 20-byte hex address string")
    try:
        int(value, 16)
    except ValueError:
        raise ValidationError(field, value, "must be a 0x-prefixed 20-byte hex address string") from None
    return value


@dataclass(frozen=True, slots=True, eq=False)
class PoolKey:
    """``PoolKey(currency0, currency1, fee, tick_spacing, hooks)`` as v4-core defines it.

    ``fee`` is the LP fee in pips (at most 1_000_000) or :data:`~keel.venues.uniswap_v4.fees.
    DYNAMIC_FEE_FLAG`; ``tick_spacing`` in [1, 32767].  Checked on construction with the
    PoolManager's rules (``CurrenciesOutOfOrderOrEqual``, ``TickSpacingTooSmall/Large``,
    ``LPFeeTooLarge``, ``HookAddressNotValid``), each as a :class:`~keel.errors.ValidationError`
    naming the field.  Addresses compare as integers (case does not matter); equal keys mean the
    same pool.
    """

    currency0: str
    currency1: str
    fee: int
    tick_spacing: int
    hooks: str = ZERO_ADDRESS
    _canon: tuple[int, int, int, int, int] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)
    _flags: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        c0 = _address("currency0", self.currency0)
        c1 = _address("currency1", self.currency1)
        hooks = _address("hooks", self.hooks)
        if int(c0, 16) >= int(c1, 16):
            raise ValidationError(
                "currency0", c0, f"must be below currency1={c1} as an integer (sort the pair; native ETH is 0x0)"
            )
        fee = self.fee
        if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
            raise ValidationError("fee", fee, "must be a non-negative int of pips or the dynamic-fee flag 0x800000")
        if not _fees.is_dynamic_fee(fee) and fee > _fees.MAX_LP_FEE:
            raise ValidationError("fee", fee, "must be at most 1_000_000 pips (100%) or the dynamic-fee flag 0x800000")
        ts = self.tick_spacing
        if isinstance(ts, bool) or not isinstance(ts, int) or not MIN_TICK_SPACING <= ts <= MAX_TICK_SPACING:
            raise ValidationError("tick_spacing", ts, f"must be an int in [{MIN_TICK_SPACING}, {MAX_TICK_SPACING}]")
        h = int(hooks, 16)
        for action, delta in (
            (_hooks.BEFORE_SWAP_FLAG, _hooks.BEFORE_SWAP_RETURNS_DELTA_FLAG),
            (_hooks.AFTER_SWAP_FLAG, _hooks.AFTER_SWAP_RETURNS_DELTA_FLAG),
            (_hooks.AFTER_ADD_LIQUIDITY_FLAG, _hooks.AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG),
            (_hooks.AFTER_REMOVE_LIQUIDITY_FLAG, _hooks.AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG),
        ):
            if h & delta and not h & action:
                raise ValidationError(
                    "hooks", hooks, f"flag {_hooks.flag_names(delta)[0]} needs {_hooks.flag_names(action)[0]}"
                )
        if h == 0 and _fees.is_dynamic_fee(fee):
            raise ValidationError("fee", fee, "a dynamic fee needs a hooks address (the fee is set by the hooks)")
        if h != 0 and not h & _hooks.ALL_HOOK_MASK and not _fees.is_dynamic_fee(fee):
            raise ValidationError("hooks", hooks, "a hooks address needs a permission flag or a dynamic fee")
        canon = (int(c0, 16), int(c1, 16), fee, ts, h)
        object.__setattr__(self, "_canon", canon)
        object.__setattr__(self, "_hash", hash(canon))
        object.__setattr__(self, "_flags", h & _hooks.ALL_HOOK_MASK)

    @property
    def flags(self) -> int:
        """The hooks address's permission bits."""
        return self._flags

    @property
    def is_dynamic_fee(self) -> bool:
        return _fees.is_dynamic_fee(self.fee)

    def to_id(self) -> bytes:
        """``PoolId``: keccak256 of the ABI-encoded key (32 bytes)."""
        return keccak(
            encode(
                ["address", "address", "uint24", "int24", "address"],
                [self.currency0.lower(), self.currency1.lower(), self.fee, self.tick_spacing, self.hooks.lower()],
            )
        )

    def as_tuple(self) -> tuple[str, str, int, int, str]:
        """The key as the ABI tuple ``(currency0, currency1, fee, tickSpacing, hooks)``."""
        return (self.currency0, self.currency1, self.fee, self.tick_spacing, self.hooks)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PoolKey):
            return NotImplemented
        return self._canon == other._canon

    def __hash__(self) -> int:
        return self._hash
