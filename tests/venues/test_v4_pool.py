"""keel.venues.uniswap_v4: bad input names the field; hooks; dynamic fees; copies; the venue view."""

from __future__ import annotations

import pytest

from keel.domain import Token
from keel.errors import ValidationError
from keel.venues.base import Revert
from keel.venues.uniswap_v3 import Pool as V3Pool
from keel.venues.uniswap_v4 import (
    DYNAMIC_FEE_FLAG,
    NATIVE,
    OVERRIDE_FEE_FLAG,
    BeforeSwap,
    HookModel,
    PoolKey,
    PoolManager,
    V4Pool,
)
from keel.venues.uniswap_v4 import hooks as h

A = "0x" + "11" * 20
B = "0x" + "22" * 20
LP = "0x" + "33" * 20
MIN_LIMIT = 4295128739 + 1
MAX_LIMIT = 1461446703485210103287273052203988822378723970342 - 1


def _pool(fee: int = 3000, spacing: int = 60, hooks: str = NATIVE, manager: PoolManager | None = None):
    m = manager or PoolManager()
    key = PoolKey(A, B, fee, spacing, hooks)
    m.initialize(key, 2**96)
    m.modify_liquidity(key, LP, -6000, 6000, 10**20)
    return m, key


def test_mis_sorted_pool_key_names_currency0() -> None:
    with pytest.raises(ValidationError, match=r"^currency0=.*must be below currency1") as exc:
        PoolKey(B, A, 3000, 60)
    assert "\n" not in str(exc.value)
    with pytest.raises(ValidationError, match="currency0"):
        PoolKey(A, A, 3000, 60)


@pytest.mark.parametrize("spacing", [0, -1, 32768, 1.5, True])
def test_invalid_tick_spacing_names_the_field(spacing: object) -> None:
    with pytest.raises(ValidationError, match=r"^tick_spacing="):
        PoolKey(A, B, 3000, spacing)  # type: ignore[arg-type]


def test_bad_fee_and_hooks_addresses_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"^fee=1000001"):
        PoolKey(A, B, 1_000_001, 60)
    with pytest.raises(ValidationError, match=r"^fee=.*needs a hooks address"):
        PoolKey(A, B, DYNAMIC_FEE_FLAG, 60)
    with pytest.raises(ValidationError, match=r"^hooks=.*needs beforeSwap"):
        PoolKey(A, B, 3000, 60, "0x" + "00" * 19 + "08")
    with pytest.raises(ValidationError, match=r"^currency1="):
        PoolKey(A, "0x12", 3000, 60)


def test_amount_changing_hook_without_model_is_refused() -> None:
    hooks = "0x" + "00" * 18 + "00c4"  # beforeSwap | afterSwap | afterSwapReturnDelta
    key = PoolKey(A, B, 3000, 60, hooks)
    m = PoolManager()
    with pytest.raises(ValidationError, match=r"^hooks='0x0+c4': permission flags beforeSwap, afterSwap") as exc:
        m.initialize(key, 2**96)
    assert "HookModel" in str(exc.value)
    assert m.keys == ()


def test_hooks_that_cannot_change_amounts_need_no_model() -> None:
    hooks = "0x" + "00" * 18 + "2000"  # beforeInitialize only
    m, key = _pool(hooks=hooks)
    assert m.swap(key, True, -(10**15), MIN_LIMIT)[1] > 0


def test_price_limit_on_the_wrong_side_names_the_field() -> None:
    m, key = _pool()
    before = m.get_slot0(key)
    with pytest.raises(Revert, match=r"PriceLimitAlreadyExceeded \(sqrt_price_limit_x96=.*below the current"):
        m.swap(key, True, -(10**15), 2**96 + 1)
    with pytest.raises(Revert, match=r"PriceLimitAlreadyExceeded \(sqrt_price_limit_x96=.*above the current"):
        m.swap(key, False, -(10**15), 2**96)
    with pytest.raises(Revert, match=r"PriceLimitOutOfBounds \(sqrt_price_limit_x96="):
        m.swap(key, True, -(10**15), 4295128739)
    assert m.get_slot0(key) == before


def test_refused_calls_leave_the_manager_unchanged() -> None:
    m, key = _pool()
    state = (m.get_slot0(key), m.get_liquidity(key), m.get_fee_growth_globals(key))
    for bad in (
        lambda: m.modify_liquidity(key, LP, -6000, 6030, 10**18),  # misaligned
        lambda: m.modify_liquidity(key, LP, -6000, 6000, -(10**21)),  # more than the position
        lambda: m.modify_liquidity(key, LP, 60, 0, 10**18),
        lambda: m.swap(key, True, 0, MIN_LIMIT),
    ):
        with pytest.raises(Revert):
            bad()
    assert (m.get_slot0(key), m.get_liquidity(key), m.get_fee_growth_globals(key)) == state
    with pytest.raises(Revert, match="TickMisaligned"):
        m.modify_liquidity(key, LP, -6000, 6030, 10**18)


def test_v4_exact_in_equals_v3_pool_without_fee_split_differences() -> None:
    """Same liquidity, same fee: v4 and v3 give the same amounts (their math libraries are shared)."""
    m, key = _pool()
    v3 = V3Pool(3000, 60, 2**96)
    v3.mint(LP, -6000, 6000, 10**20)
    for zero_for_one, amount in ((True, 10**18), (False, 3 * 10**18), (True, 10**19)):
        a0, a1 = m.swap(key, zero_for_one, -amount, MIN_LIMIT if zero_for_one else MAX_LIMIT)
        b0, b1 = v3.swap(zero_for_one, amount, MIN_LIMIT if zero_for_one else MAX_LIMIT)
        assert (a0, a1) == (-b0, -b1)
        assert m.get_slot0(key)[:2] == (v3.sqrt_price_x96, v3.tick)


def test_dynamic_fee_set_by_the_hooks_address_only() -> None:
    owner = "0x" + "5a" * 18 + "c000"
    m, key = _pool(fee=DYNAMIC_FEE_FLAG, hooks=owner)
    assert m.get_slot0(key)[3] == 0
    free = m.quote(key, True, -(10**16), MIN_LIMIT).amount1
    m.update_dynamic_lp_fee(key, 10_000)
    assert m.get_slot0(key)[3] == 10_000
    assert m.quote(key, True, -(10**16), MIN_LIMIT).amount1 < free
    with pytest.raises(Revert, match="UnauthorizedDynamicLPFeeUpdate"):
        m.update_dynamic_lp_fee(key, 500, sender=LP)
    with pytest.raises(ValidationError, match=r"^lp_fee=1000001"):
        m.update_dynamic_lp_fee(key, 1_000_001)
    static = PoolKey(A, B, 500, 10)
    m.initialize(static, 2**96)
    with pytest.raises(Revert, match="UnauthorizedDynamicLPFeeUpdate"):
        m.update_dynamic_lp_fee(static, 100, sender=NATIVE)


class _FeeTakingHook(HookModel):
    """Takes 1% of the unspecified output (like v4-core's FeeTakingHook) and overrides the LP fee."""

    def before_swap(self, key: PoolKey, zero_for_one: bool, amount_specified: int, limit: int) -> BeforeSwap:
        return BeforeSwap(lp_fee_override=OVERRIDE_FEE_FLAG | 100)

    def after_swap(self, key, zero_for_one, amount_specified, limit, swap_delta):  # type: ignore[no-untyped-def]
        unspecified = swap_delta[1] if (amount_specified < 0) == zero_for_one else swap_delta[0]
        return abs(unspecified) // 100


def test_hook_model_changes_amounts_as_hooks_sol() -> None:
    flags = h.BEFORE_SWAP_FLAG | h.AFTER_SWAP_FLAG | h.AFTER_SWAP_RETURNS_DELTA_FLAG
    hooks = "0x" + f"{flags:040x}"
    m = PoolManager(hook_models={hooks: _FeeTakingHook()})
    _, key = _pool(fee=DYNAMIC_FEE_FLAG, hooks=hooks, manager=m)
    plain, plain_key = _pool(fee=100, spacing=60, manager=PoolManager())
    a0, a1 = m.swap(key, True, -(10**18), MIN_LIMIT)
    p0, p1 = plain.swap(plain_key, True, -(10**18), MIN_LIMIT)
    assert a0 == p0 == -(10**18)
    assert a1 == p1 - p1 // 100  # the hook's 1% of the output is withheld from the caller


def test_native_eth_is_currency0_and_the_venue_trades_it() -> None:
    eth, usdc = Token("ETH", 18), Token("USDC", 6, address="0x" + "ab" * 20)
    m = PoolManager()
    key = PoolKey(NATIVE, usdc.address or "", 500, 10)
    m.initialize(key, 79228162514264337593543)  # ~1e-12 USDC units per wei (~1000 USDC per ETH)
    m.modify_liquidity(key, LP, -887270, 887270, 10**15)
    venue = V4Pool(m, key, token0=eth, token1=usdc)
    q = venue.quote_exact_in(eth, 10**17)
    assert q.amount_in == 10**17 and q.amount_out > 0
    with pytest.raises(ValidationError, match=r"^token1="):
        V4Pool(m, key, token0=eth, token1=Token("USDC", 6, address="0x" + "cd" * 20))


def test_venue_copy_is_independent_and_names_are_unique() -> None:
    m = PoolManager()
    t0, t1 = Token("TKA", 18), Token("TKB", 18)
    k1, k2 = PoolKey(A, B, 3000, 60), PoolKey(A, B, 3000, 10)
    for k in (k1, k2):
        m.initialize(k, 2**96)
        m.modify_liquidity(k, LP, -600, 600, 10**20)
    v1, v2 = V4Pool(m, k1, token0=t0, token1=t1), V4Pool(m, k2, token0=t0, token1=t1)
    assert v1.name != v2.name
    c = v1.copy()
    version = v1.state_version
    q = c.swap_exact_in(t0, 10**18)
    assert v1.state_version == version and c.state_version != version
    assert v1.quote_exact_in(t0, 10**18) == q
    assert c.sqrt_price_x96 < v1.sqrt_price_x96


def test_one_step_quote_equals_the_general_swap_loop() -> None:
    import random

    rng = random.Random(3)
    hits = 0
    for _ in range(300):
        spacing = rng.choice([1, 10, 60, 200])
        m = PoolManager()
        key = PoolKey(A, B, rng.choice([0, 100, 500, 3000, 10_000, 999_999]), spacing)
        m.initialize(key, rng.randint(2**90, 2**102))
        here = m.get_slot0(key)[1] // spacing
        for _ in range(rng.randint(1, 4)):
            lo = (here + rng.randint(-50, 0)) * spacing
            m.modify_liquidity(key, LP, lo, lo + rng.randint(1, 60) * spacing, int(10 ** rng.uniform(10, 24)))
        if rng.random() < 0.5:
            m.set_protocol_fee(key, rng.randint(0, 1000) | rng.randint(0, 1000) << 12)
        pool = m.pool(key)
        zfo = rng.random() < 0.5
        amount = int(10 ** rng.uniform(0, 22))
        limit = MIN_LIMIT if zfo else MAX_LIMIT
        short = pool.quote_in_one_step(zfo, amount, limit)
        if short is None:
            continue
        hits += 1
        assert short == pool.swap(zfo, -amount, limit, 0, commit=False)
    assert hits > 100
