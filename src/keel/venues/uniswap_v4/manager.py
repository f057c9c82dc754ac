"""``PoolManager``: the v4 singleton, holding any number of pools by :class:`PoolKey`.

Exactly what v4-core 1.0.2's ``PoolManager`` computes for ``initialize``, ``modifyLiquidity``,
``swap``, ``donate``, ``setProtocolFee`` and ``updateDynamicLPFee`` (tested against the real
contract in pyrevm).  Results are ``BalanceDelta``-shaped ``(amount0, amount1)`` tuples from
the caller's side: **negative = owed by the caller** (paid into the manager), positive = owed
to the caller.  v4's flash accounting (``unlock``, ``settle``, ``take``, ``sync``) is how a
caller pays those deltas on chain; it moves no pool state, so the model returns the deltas and
leaves settlement to the caller (:mod:`keel.chain.v4` does it on a real chain).

Hooks: a pool whose hooks address carries a flag that can change amounts
(:data:`keel.venues.uniswap_v4.hooks.AMOUNT_CHANGING_FLAGS`) is refused at ``initialize``
unless a :class:`~keel.venues.uniswap_v4.hooks.HookModel` for that address was registered
(``PoolManager(hook_models={address: model})`` or :meth:`PoolManager.register_hook_model`).
"""

from __future__ import annotations

from collections.abc import Mapping

from keel.errors import ValidationError
from keel.venues.base import Revert
from keel.venues.uniswap_v3.tick_bitmap import flip_tick
from keel.venues.uniswap_v4 import fees as _fees
from keel.venues.uniswap_v4 import hooks as _hooks
from keel.venues.uniswap_v4.pool import PoolState, SwapOutcome, TickInfo
from keel.venues.uniswap_v4.pool_key import PoolKey

__all__ = ["PoolManager"]

_INT128_MAX = (1 << 127) - 1
_INT128_MIN = -(1 << 127)
_AMOUNT_CHANGING_FLAGS = _hooks.AMOUNT_CHANGING_FLAGS


def _int(field: str, value: object, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, "must be an int")
    if lo is not None and value < lo:
        raise ValidationError(field, value, f"must be at least {lo}")
    if hi is not None and value > hi:
        raise ValidationError(field, value, f"must be at most {hi}")
    return value


class PoolManager:
    """The v4 singleton: pools by :class:`PoolKey`, protocol fees accrued per currency.

    ``protocol_fees_accrued`` maps a currency address (lower case) to its accrued protocol fee.
    Copies (:meth:`copy`) are cheap: pools are shared copy-on-write.
    """

    def __init__(self, *, hook_models: Mapping[str, _hooks.HookModel] | None = None) -> None:
        self._pools: dict[PoolKey, PoolState] = {}
        self._hook_models: dict[int, _hooks.HookModel] = {}
        self.protocol_fees_accrued: dict[str, int] = {}
        for address, model in (hook_models or {}).items():
            self.register_hook_model(address, model)

    # ------------------------------------------------------------------ hooks
    def register_hook_model(self, hooks: str, model: _hooks.HookModel) -> None:
        """Model the hooks contract at ``hooks`` with ``model`` (see :mod:`~keel.venues.uniswap_v4.hooks`)."""
        if not isinstance(hooks, str) or not hooks.startswith("0x") or len(hooks) != 42:
            raise ValidationError("hooks", hooks, "must be a 0x-prefixed 20-byte hex address string")
        if not isinstance(model, _hooks.HookModel):
            raise ValidationError("hook_model", model, "must be a keel.venues.uniswap_v4.HookModel")
        self._hook_models[int(hooks, 16)] = model

    def _model(self, key: PoolKey) -> _hooks.HookModel | None:
        if not key.flags & _hooks.AMOUNT_CHANGING_FLAGS:
            return None
        return self._hook_models.get(int(key.hooks, 16))

    # ------------------------------------------------------------------ views
    def _pool(self, key: PoolKey) -> PoolState:
        if not isinstance(key, PoolKey):
            raise ValidationError("key", key, "must be a keel.venues.uniswap_v4.PoolKey")
        pool = self._pools.get(key)
        if pool is None:
            raise Revert("PoolNotInitialized", f"no pool for key {key}")
        return pool

    def pool(self, key: PoolKey) -> PoolState:
        """The pool's state object (read it; change it only through the manager)."""
        return self._pool(key)

    @property
    def keys(self) -> tuple[PoolKey, ...]:
        """Keys of every initialized pool, in initialization order."""
        return tuple(self._pools)

    def get_slot0(self, key: PoolKey) -> tuple[int, int, int, int]:
        """``(sqrt_price_x96, tick, protocol_fee, lp_fee)`` as StateLibrary's ``getSlot0``."""
        p = self._pool(key)
        return p.sqrt_price_x96, p.tick, p.protocol_fee, p.lp_fee

    def get_liquidity(self, key: PoolKey) -> int:
        """Active liquidity, as StateLibrary's ``getLiquidity``."""
        return self._pool(key).liquidity

    def get_fee_growth_globals(self, key: PoolKey) -> tuple[int, int]:
        p = self._pool(key)
        return p.fee_growth_global0_x128, p.fee_growth_global1_x128

    def get_tick_info(self, key: PoolKey, tick: int) -> TickInfo:
        return self._pool(key).ticks(tick)

    def get_tick_bitmap(self, key: PoolKey, word_position: int) -> int:
        return self._pool(key).tick_bitmap(word_position)

    def get_position_info(
        self, key: PoolKey, owner: str, tick_lower: int, tick_upper: int, salt: bytes = bytes(32)
    ) -> tuple[int, int, int]:
        """``(liquidity, feeGrowthInside0LastX128, feeGrowthInside1LastX128)``."""
        return self._pool(key).position(owner, tick_lower, tick_upper, salt)

    def copy(self) -> PoolManager:
        """An independent manager with the same pools (O(number of pools); tables copy-on-write)."""
        new = object.__new__(PoolManager)
        new._pools = {k: p.copy() for k, p in self._pools.items()}
        new._hook_models = dict(self._hook_models)
        new.protocol_fees_accrued = dict(self.protocol_fees_accrued)
        return new

    def copy_pool(self, key: PoolKey) -> PoolManager:
        """A manager holding only a copy of the pool at ``key`` (O(1)), for single-pool venues."""
        pool = self._pool(key)
        new = object.__new__(PoolManager)
        new._pools = {key: pool.copy()}
        new._hook_models = dict(self._hook_models)
        new.protocol_fees_accrued = {}
        return new

    def load_pool(
        self,
        key: PoolKey,
        *,
        sqrt_price_x96: int,
        tick: int,
        protocol_fee: int,
        lp_fee: int,
        liquidity: int,
        fee_growth_global0_x128: int,
        fee_growth_global1_x128: int,
        ticks: Mapping[int, tuple[int, int, int, int]],
    ) -> PoolState:
        """Hold a pool exactly as read from a chain (StateLibrary fields; ``ticks`` maps each
        initialized tick to ``(liquidity_gross, liquidity_net, fee_growth_outside0, fee_growth_outside1)``).

        Positions are not part of a snapshot.  Replaces any pool already held at ``key``.
        """
        if not isinstance(key, PoolKey):
            raise ValidationError("key", key, "must be a keel.venues.uniswap_v4.PoolKey")
        _int("sqrt_price_x96", sqrt_price_x96, 1, (1 << 160) - 1)
        _int("tick", tick, -887272, 887272)
        _int("liquidity", liquidity, 0, (1 << 128) - 1)
        pool = PoolState(key.tick_spacing)
        pool.sqrt_price_x96, pool.tick = sqrt_price_x96, tick
        pool.protocol_fee, pool.lp_fee = protocol_fee, lp_fee
        pool.liquidity = liquidity
        pool.fee_growth_global0_x128 = fee_growth_global0_x128
        pool.fee_growth_global1_x128 = fee_growth_global1_x128
        for t, (gross, net, out0, out1) in sorted(ticks.items()):
            if t % key.tick_spacing != 0 or not -887272 <= t <= 887272:
                raise ValidationError("ticks", t, f"not a usable tick for tick_spacing {key.tick_spacing}")
            if gross <= 0:
                raise ValidationError(f"ticks[{t}].liquidity_gross", gross, "an initialized tick has liquidity")
            pool._ticks[t] = [gross, net, out0, out1]
            flip_tick(pool._bitmap, t, key.tick_spacing)
        self._pools[key] = pool
        return pool

    # ------------------------------------------------------------------ state changes
    def initialize(self, key: PoolKey, sqrt_price_x96: int) -> int:
        """Create the pool at ``key`` with its starting price; returns the tick.

        Dynamic-fee pools start at an LP fee of 0 (set it with :meth:`update_dynamic_lp_fee`).
        Refuses (``ValidationError`` naming ``hooks``) a hooks address that can change amounts
        when no :class:`HookModel` is registered for it.
        """
        if not isinstance(key, PoolKey):
            raise ValidationError("key", key, "must be a keel.venues.uniswap_v4.PoolKey")
        _int("sqrt_price_x96", sqrt_price_x96, 1)
        risky = key.flags & _hooks.AMOUNT_CHANGING_FLAGS
        if risky and int(key.hooks, 16) not in self._hook_models:
            raise ValidationError(
                "hooks",
                key.hooks,
                f"permission flags {', '.join(_hooks.flag_names(risky))} let the hook change amounts; "
                "register a keel.venues.uniswap_v4.HookModel for this address to model it",
            )
        if key in self._pools:
            raise Revert("PoolAlreadyInitialized", f"pool {key} already exists")
        pool = PoolState(key.tick_spacing)
        tick = pool.initialize(sqrt_price_x96, _fees.initial_lp_fee(key.fee))
        self._pools[key] = pool
        return tick

    def modify_liquidity(
        self,
        key: PoolKey,
        owner: str,
        tick_lower: int,
        tick_upper: int,
        liquidity_delta: int,
        salt: bytes = bytes(32),
    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """Add (``liquidity_delta > 0``) or remove liquidity of ``owner``'s position
        ``(tick_lower, tick_upper, salt)``; returns ``(caller_delta, fees_accrued)``.

        ``caller_delta`` = principal + fees accrued (negative = the caller pays); ``owner`` is the
        address calling the PoolManager (on chain: the router contract).  ``liquidity_delta == 0``
        collects the fees of a non-empty position.
        """
        pool = self._pool(key)
        if not isinstance(owner, str) or not owner.startswith("0x") or len(owner) != 42:
            raise ValidationError("owner", owner, "must be a 0x-prefixed 20-byte hex address string")
        _int("tick_lower", tick_lower)
        _int("tick_upper", tick_upper)
        _int("liquidity_delta", liquidity_delta, _INT128_MIN + 1, _INT128_MAX)
        if not isinstance(salt, bytes | bytearray) or len(salt) != 32:
            raise ValidationError("salt", salt, "must be 32 bytes")
        model = self._model(key)
        principal, fees = pool.modify_liquidity(owner, tick_lower, tick_upper, liquidity_delta, bytes(salt))
        caller = (principal[0] + fees[0], principal[1] + fees[1])
        for v in caller:
            if not _INT128_MIN <= v <= _INT128_MAX:
                raise Revert("SafeCastOverflow", f"caller delta {v} does not fit int128")
        if model is not None:
            flag = (
                _hooks.AFTER_ADD_LIQUIDITY_RETURNS_DELTA_FLAG
                if liquidity_delta > 0
                else _hooks.AFTER_REMOVE_LIQUIDITY_RETURNS_DELTA_FLAG
            )
            action = _hooks.AFTER_ADD_LIQUIDITY_FLAG if liquidity_delta > 0 else _hooks.AFTER_REMOVE_LIQUIDITY_FLAG
            if key.flags & action and key.flags & flag:
                h0, h1 = model.after_modify_liquidity(key, liquidity_delta, caller, fees)
                caller = (caller[0] - h0, caller[1] - h1)
        return caller, fees

    def _swap(
        self, key: PoolKey, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int, commit: bool
    ) -> SwapOutcome:
        pool = self._pools.get(key) if type(key) is PoolKey else None
        if pool is None:
            pool = self._pool(key)
        if zero_for_one is not True and zero_for_one is not False:
            raise ValidationError("zero_for_one", zero_for_one, "must be a bool")
        if type(amount_specified) is not int or not -(1 << 255) <= amount_specified < 1 << 255:
            _int("amount_specified", amount_specified, -(1 << 255), (1 << 255) - 1)
        if type(sqrt_price_limit_x96) is not int or not 0 <= sqrt_price_limit_x96 < 1 << 160:
            _int("sqrt_price_limit_x96", sqrt_price_limit_x96, 0, (1 << 160) - 1)
        if amount_specified == 0:
            raise Revert(
                "SwapAmountCannotBeZero", "amount_specified=0: negative = exact input, positive = exact output"
            )
        flags = key._flags
        model = self._hook_models.get(key._canon[4]) if flags & _hooks.AMOUNT_CHANGING_FLAGS else None
        amount_to_swap = amount_specified
        before_specified = before_unspecified = 0
        lp_override = 0
        if model is not None and flags & _hooks.BEFORE_SWAP_FLAG:
            r = model.before_swap(key, zero_for_one, amount_specified, sqrt_price_limit_x96)
            if key.is_dynamic_fee:
                lp_override = r.lp_fee_override
            if flags & _hooks.BEFORE_SWAP_RETURNS_DELTA_FLAG:
                before_specified, before_unspecified = r.delta_specified, r.delta_unspecified
                if before_specified != 0:
                    exact_input = amount_to_swap < 0
                    amount_to_swap += before_specified
                    if (amount_to_swap > 0) if exact_input else (amount_to_swap < 0):
                        raise Revert("HookDeltaExceedsSwapAmount", "the hook's specified delta flips the swap type")
        out = pool.swap(zero_for_one, amount_to_swap, sqrt_price_limit_x96, lp_override, commit=commit)
        if model is not None and (before_specified or before_unspecified or flags & _hooks.AFTER_SWAP_FLAG):
            unspecified = before_unspecified
            if flags & _hooks.AFTER_SWAP_FLAG:
                extra = model.after_swap(
                    key, zero_for_one, amount_specified, sqrt_price_limit_x96, (out.amount0, out.amount1)
                )
                if flags & _hooks.AFTER_SWAP_RETURNS_DELTA_FLAG:
                    unspecified += extra
            if unspecified or before_specified:
                if (amount_specified < 0) == zero_for_one:
                    h0, h1 = before_specified, unspecified
                else:
                    h0, h1 = unspecified, before_specified
                out = SwapOutcome(
                    out.amount0 - h0,
                    out.amount1 - h1,
                    out.amount_to_protocol,
                    out.swap_fee,
                    out.sqrt_price_x96,
                    out.tick,
                    out.liquidity,
                    out.ticks_crossed,
                )
        if commit and out.amount_to_protocol:
            currency = (key.currency0 if zero_for_one else key.currency1).lower()
            self.protocol_fees_accrued[currency] = self.protocol_fees_accrued.get(currency, 0) + out.amount_to_protocol
        return out

    def swap(
        self, key: PoolKey, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> tuple[int, int]:
        """Swap on the pool at ``key``; returns the caller's ``(amount0, amount1)`` BalanceDelta.

        ``amount_specified < 0``: exact input of ``-amount_specified``; ``> 0``: exact output.
        The swap stops at ``sqrt_price_limit_x96`` (below the price for ``zero_for_one``, above
        it otherwise; else ``Revert('PriceLimitAlreadyExceeded')`` naming the field), so it may
        fill partially.  Negative deltas are owed by the caller.
        """
        out = self._swap(key, zero_for_one, amount_specified, sqrt_price_limit_x96, True)
        return out.amount0, out.amount1

    def swap_detailed(
        self, key: PoolKey, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> SwapOutcome:
        """:meth:`swap` returning the whole :class:`SwapOutcome` (price, tick, ticks crossed, fees)."""
        return self._swap(key, zero_for_one, amount_specified, sqrt_price_limit_x96, True)

    def quote(self, key: PoolKey, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int) -> SwapOutcome:
        """What :meth:`swap` would do, without changing anything."""
        if (
            type(key) is PoolKey
            and type(amount_specified) is int
            and amount_specified < 0
            and type(sqrt_price_limit_x96) is int
            and not key._flags & _AMOUNT_CHANGING_FLAGS
        ):
            # the common case: an exact input that ends inside the current step; quote_in_one_step checks
            # the direction, the amount's and the limit's ranges and the state, and answers None otherwise
            pool = self._pools.get(key)
            if pool is not None:
                short = pool.quote_in_one_step(zero_for_one, -amount_specified, sqrt_price_limit_x96)
                if short is not None:
                    return short
        if (
            type(key) is PoolKey
            and not key._flags & _AMOUNT_CHANGING_FLAGS
            and (zero_for_one is True or zero_for_one is False)
            and type(amount_specified) is int
            and amount_specified != 0
            and -(1 << 255) <= amount_specified < 1 << 255
            and type(sqrt_price_limit_x96) is int
            and 0 <= sqrt_price_limit_x96 < 1 << 160
        ):
            pool = self._pools.get(key)
            if pool is not None:  # validated above: straight to the pool
                return pool.swap(zero_for_one, amount_specified, sqrt_price_limit_x96, 0, commit=False)
        return self._swap(key, zero_for_one, amount_specified, sqrt_price_limit_x96, False)

    def donate(self, key: PoolKey, amount0: int, amount1: int) -> tuple[int, int]:
        """Donate to in-range LPs; returns the caller's delta ``(-amount0, -amount1)``."""
        pool = self._pool(key)
        _int("amount0", amount0, 0, _INT128_MAX)
        _int("amount1", amount1, 0, _INT128_MAX)
        return pool.donate(amount0, amount1)

    def set_protocol_fee(self, key: PoolKey, protocol_fee: int) -> None:
        """The protocol fee controller's ``setProtocolFee``: 12 bits per direction, each <= 1000 pips."""
        pool = self._pool(key)
        _int("protocol_fee", protocol_fee, 0, (1 << 24) - 1)
        if not _fees.is_valid_protocol_fee(protocol_fee):
            raise ValidationError(
                "protocol_fee", protocol_fee, "each direction (12 bits) must be at most 1000 pips (ProtocolFeeTooLarge)"
            )
        pool.set_protocol_fee(protocol_fee)

    def update_dynamic_lp_fee(self, key: PoolKey, lp_fee: int, *, sender: str | None = None) -> None:
        """``updateDynamicLPFee``: only for dynamic-fee pools, only from the hooks address.

        ``sender`` (default: the key's hooks address) is the caller; a hook-less owner contract
        at a flag-free hooks address is how a dynamic fee is set without swap hooks.
        """
        pool = self._pool(key)
        sender = key.hooks if sender is None else sender
        if not key.is_dynamic_fee or not isinstance(sender, str) or int(sender, 16) != int(key.hooks, 16):
            raise Revert(
                "UnauthorizedDynamicLPFeeUpdate",
                f"sender={sender}: only the hooks address of a dynamic-fee pool may set its LP fee",
            )
        _int("lp_fee", lp_fee, 0)
        if lp_fee > _fees.MAX_LP_FEE:
            raise ValidationError("lp_fee", lp_fee, "must be at most 1_000_000 pips (LPFeeTooLarge)")
        pool.set_lp_fee(lp_fee)

    def __repr__(self) -> str:
        return f"PoolManager({len(self._pools)} pools)"
