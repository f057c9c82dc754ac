# pragma version ~=0.4.3
"""
@title Keel's v4 quoter: the real PoolManager's swap, reverted
@notice `quoteExactInputSingle` runs the swap inside `unlock` and reverts with its
        BalanceDelta (as v4-periphery's V4Quoter does), so the PoolManager's state is
        unchanged and the caller gets the exact amounts the swap would produce.
        Used by bench/amm.py to time a read-only v4 quote in the EVM.
"""

struct PoolKey:
    currency0: address
    currency1: address
    fee: uint24
    tickSpacing: int24
    hooks: address

struct SwapParams:
    zeroForOne: bool
    amountSpecified: int256
    sqrtPriceLimitX96: uint160

interface IPoolManager:
    def swap(key: PoolKey, params: SwapParams, hookData: Bytes[32]) -> int256: nonpayable

MIN_SQRT_PRICE_PLUS_ONE: constant(uint160) = 4295128740
MAX_SQRT_PRICE_MINUS_ONE: constant(uint160) = 1461446703485210103287273052203988822378723970341

MANAGER: public(immutable(address))


@deploy
def __init__(manager: address):
    MANAGER = manager


@external
def quoteExactInputSingle(key: PoolKey, zeroForOne: bool, amountIn: uint256) -> (int256, int256):
    """@return the swap's (amount0, amount1) deltas, negative = owed by the swapper"""
    inner: Bytes[256] = abi_encode(key, zeroForOne, amountIn)
    ok: bool = False
    ret: Bytes[64] = b""
    ok, ret = raw_call(
        MANAGER, abi_encode(inner, method_id=method_id("unlock(bytes)")), max_outsize=64, revert_on_failure=False
    )
    assert not ok, "quote did not revert"
    assert len(ret) == 32, "swap reverted"
    delta: int256 = abi_decode(ret, int256)
    return delta >> 128, (delta << 128) >> 128


@external
def unlockCallback(data: Bytes[256]) -> Bytes[32]:
    assert msg.sender == MANAGER, "only the PoolManager"
    key: PoolKey = empty(PoolKey)
    zero_for_one: bool = False
    amount_in: uint256 = 0
    key, zero_for_one, amount_in = abi_decode(data, (PoolKey, bool, uint256))
    limit: uint160 = MAX_SQRT_PRICE_MINUS_ONE
    if zero_for_one:
        limit = MIN_SQRT_PRICE_PLUS_ONE
    delta: int256 = extcall IPoolManager(MANAGER).swap(
        key, SwapParams(zeroForOne=zero_for_one, amountSpecified=-convert(amount_in, int256), sqrtPriceLimitX96=limit), b""
    )
    raw_revert(abi_encode(delta))
