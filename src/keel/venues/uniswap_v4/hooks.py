"""v4 hook permissions and the Python hook-model interface.

A v4 pool's hooks contract is chosen by address: its lowest 14 bits are the permission flags
(``Hooks.sol``).  Keel computes exactly what the PoolManager computes when the hooks cannot
change a swap's or a liquidity change's amounts; a pool whose hooks *can* (any flag in
:data:`AMOUNT_CHANGING_FLAGS`) is refused unless a :class:`HookModel` for that address is given
to the :class:`~keel.venues.uniswap_v4.PoolManager`.

Flags that only run code at initialize, add/remove liquidity or donate (without a ``RETURNS_DELTA``
flag) are accepted without a model: Keel assumes such hooks neither revert nor call back into the
pool (the usual case: bookkeeping, access control).

The model interface is deliberately small -- subclass :class:`HookModel` and override what the
hook does; the PoolManager calls a method only when the address carries its flag and uses a
returned delta only when the address carries the matching ``RETURNS_DELTA`` flag, exactly as
``Hooks.sol`` does:

* :meth:`HookModel.before_swap` -> :class:`BeforeSwap` (``delta_specified`` is added to the
  amount to swap and must not flip exact-in/out; ``delta_unspecified`` is charged to the caller
  after the swap; ``lp_fee_override`` (with :data:`~keel.venues.uniswap_v4.fees.OVERRIDE_FEE_FLAG`)
  replaces the LP fee for this swap on dynamic-fee pools);
* :meth:`HookModel.after_swap` -> the hook's extra delta in the unspecified currency;
* :meth:`HookModel.after_modify_liquidity` -> the hook's ``(amount0, amount1)`` delta,
  subtracted from the caller's.

Deltas use v4 signs: positive = owed *to* the hook (the caller pays it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AFTER_ADD_LIQUIDITY_FLAG",
    "AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG",
    "AFTER_DONATE_FLAG",
    "AFTER_INITIALIZE_FLAG",
    "AFTER_REMOVE_LIQUIDITY_FLAG",
    "AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG",
    "AFTER_SWAP_FLAG",
    "AFTER_SWAP_RETURNS_DELTA_FLAG",
    "ALL_HOOK_MASK",
    "AMOUNT_CHANGING_FLAGS",
    "BEFORE_ADD_LIQUIDITY_FLAG",
    "BEFORE_DONATE_FLAG",
    "BEFORE_INITIALIZE_FLAG",
    "BEFORE_REMOVE_LIQUIDITY_FLAG",
    "BEFORE_SWAP_FLAG",
    "BEFORE_SWAP_RETURNS_DELTA_FLAG",
    "BeforeSwap",
    "HookModel",
    "flag_names",
    "has_permission",
]

BEFORE_INITIALIZE_FLAG = 1 << 13
AFTER_INITIALIZE_FLAG = 1 << 12
BEFORE_ADD_LIQUIDITY_FLAG = 1 << 11
AFTER_ADD_LIQUIDITY_FLAG = 1 << 10
BEFORE_REMOVE_LIQUIDITY_FLAG = 1 << 9
AFTER_REMOVE_LIQUIDITY_FLAG = 1 << 8
BEFORE_SWAP_FLAG = 1 << 7
AFTER_SWAP_FLAG = 1 << 6
BEFORE_DONATE_FLAG = 1 << 5
AFTER_DONATE_FLAG = 1 << 4
BEFORE_SWAP_RETURNS_DELTA_FLAG = 1 << 3
AFTER_SWAP_RETURNS_DELTA_FLAG = 1 << 2
AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG = 1 << 1
AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG = 1 << 0
ALL_HOOK_MASK = (1 << 14) - 1

#: flags whose hooks run inside a swap or return deltas: they can change amounts
AMOUNT_CHANGING_FLAGS = (
    BEFORE_SWAP_FLAG
    | AFTER_SWAP_FLAG
    | BEFORE_SWAP_RETURNS_DELTA_FLAG
    | AFTER_SWAP_RETURNS_DELTA_FLAG
    | AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG
    | AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG
)

_NAMES = {
    BEFORE_INITIALIZE_FLAG: "beforeInitialize",
    AFTER_INITIALIZE_FLAG: "afterInitialize",
    BEFORE_ADD_LIQUIDITY_FLAG: "beforeAddLiquidity",
    AFTER_ADD_LIQUIDITY_FLAG: "afterAddLiquidity",
    BEFORE_REMOVE_LIQUIDITY_FLAG: "beforeRemoveLiquidity",
    AFTER_REMOVE_LIQUIDITY_FLAG: "afterRemoveLiquidity",
    BEFORE_SWAP_FLAG: "beforeSwap",
    AFTER_SWAP_FLAG: "afterSwap",
    BEFORE_DONATE_FLAG: "beforeDonate",
    AFTER_DONATE_FLAG: "afterDonate",
    BEFORE_SWAP_RETURNS_DELTA_FLAG: "beforeSwapReturnDelta",
    AFTER_SWAP_RETURNS_DELTA_FLAG: "afterSwapReturnDelta",
    AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG: "afterAddLiquidityReturnDelta",
    AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG: "afterRemoveLiquidityReturnDelta",
}


def has_permission(hooks: str, flag: int) -> bool:
    """Whether the hooks address carries ``flag`` in its low bits."""
    return bool(int(hooks, 16) & flag)


def flag_names(flags: int) -> list[str]:
    """Names of the permission flags set in ``flags``, highest bit first."""
    return [name for bit, name in _NAMES.items() if flags & bit]


@dataclass(frozen=True, slots=True)
class BeforeSwap:
    """What a ``beforeSwap`` hook returns (v4 ``BeforeSwapDelta`` plus the LP fee override)."""

    delta_specified: int = 0
    delta_unspecified: int = 0
    lp_fee_override: int = 0


class HookModel:
    """Python model of one hooks contract; override the calls the hook makes.

    ``key`` is the pool's :class:`~keel.venues.uniswap_v4.PoolKey` (typed ``Any`` here only to
    keep this module free of an import cycle with ``pool_key``).
    ``zero_for_one``, ``amount_specified`` and ``sqrt_price_limit_x96`` are the swap's
    parameters as the caller passed them (v4 signs); ``swap_delta`` is the pool's
    ``(amount0, amount1)`` BalanceDelta (negative = owed by the caller).  The defaults do
    nothing, so a subclass that overrides only ``before_swap`` models a fee-override hook.
    A model must be deterministic and must not mutate state when the swap is only quoted
    (the PoolManager calls it for quotes too).
    """

    def before_swap(self, key: Any, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int) -> BeforeSwap:
        """The hook's ``beforeSwap``; default: no delta, no fee override."""
        return BeforeSwap()

    def after_swap(
        self,
        key: Any,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int,
        swap_delta: tuple[int, int],
    ) -> int:
        """The hook's ``afterSwap``: its delta in the unspecified currency; default 0."""
        return 0

    def after_modify_liquidity(
        self, key: Any, liquidity_delta: int, caller_delta: tuple[int, int], fees_accrued: tuple[int, int]
    ) -> tuple[int, int]:
        """The hook's ``afterAdd/RemoveLiquidity`` delta ``(amount0, amount1)``; default (0, 0)."""
        return (0, 0)
