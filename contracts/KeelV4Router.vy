# pragma version ~=0.4.3
"""
@title Keel's minimal Uniswap v4 router (unlock callback)
@notice Exact-input swaps along up to three v4 pools of one PoolManager in one `unlock`
        (and exact-output swaps on one pool, paying at most `max_amount_in`):
        the caller's input is settled once, the intermediate currencies never leave the
        PoolManager (flash accounting: their deltas cancel), and the output is taken once,
        to `recipient`, only if it is at least `min_amount_out`.  Native ETH (currency
        0x0) is paid with `msg.value`; any ETH not used is returned.  Also adds or removes
        liquidity for its caller (positions are owned by this router, salted per caller).
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

struct ModifyLiquidityParams:
    tickLower: int24
    tickUpper: int24
    liquidityDelta: int256
    salt: bytes32

struct Hop:
    key: PoolKey
    zeroForOne: bool

interface IPoolManager:
    def unlock(data: Bytes[2048]) -> Bytes[256]: nonpayable
    def swap(key: PoolKey, params: SwapParams, hookData: Bytes[32]) -> int256: nonpayable
    def modifyLiquidity(key: PoolKey, params: ModifyLiquidityParams, hookData: Bytes[32]) -> (int256, int256): nonpayable
    def sync(currency: address): nonpayable
    def settle() -> uint256: payable
    def take(currency: address, to: address, amount: uint256): nonpayable

interface IERC20:
    def transferFrom(sender: address, to: address, amount: uint256) -> bool: nonpayable

MIN_SQRT_PRICE_PLUS_ONE: constant(uint160) = 4295128740
MAX_SQRT_PRICE_MINUS_ONE: constant(uint160) = 1461446703485210103287273052203988822378723970341
ACTION_SWAP: constant(uint8) = 1
ACTION_LIQUIDITY: constant(uint8) = 2
ACTION_SWAP_OUT: constant(uint8) = 3

MANAGER: public(immutable(address))


@deploy
def __init__(manager: address):
    MANAGER = manager


@internal
@pure
def _amount0(delta: int256) -> int256:
    return delta >> 128


@internal
@pure
def _amount1(delta: int256) -> int256:
    return (delta << 128) >> 128


@internal
def _pay(currency: address, payer: address, amount: uint256):
    if amount == 0:
        return
    if currency == empty(address):
        extcall IPoolManager(MANAGER).settle(value=amount)
    else:
        extcall IPoolManager(MANAGER).sync(currency)
        assert extcall IERC20(currency).transferFrom(payer, MANAGER, amount, default_return_value=True), "transferFrom"
        extcall IPoolManager(MANAGER).settle()


@external
@payable
def swapExactInput(
    hops: DynArray[Hop, 3], amount_in: uint256, min_amount_out: uint256, recipient: address, deadline: uint256
) -> uint256:
    assert block.timestamp <= deadline, "deadline"
    assert len(hops) > 0, "no hops"
    data: Bytes[2048] = abi_encode(ACTION_SWAP, msg.sender, hops, amount_in, min_amount_out, recipient)
    result: Bytes[256] = extcall IPoolManager(MANAGER).unlock(data)
    if self.balance > 0:
        send(msg.sender, self.balance)
    return abi_decode(result, uint256)


@external
@payable
def swapExactOutputSingle(
    hop: Hop, amount_out: uint256, max_amount_in: uint256, recipient: address, deadline: uint256
) -> uint256:
    assert block.timestamp <= deadline, "deadline"
    data: Bytes[2048] = abi_encode(ACTION_SWAP_OUT, msg.sender, hop, amount_out, max_amount_in, recipient)
    result: Bytes[256] = extcall IPoolManager(MANAGER).unlock(data)
    if self.balance > 0:
        send(msg.sender, self.balance)
    return abi_decode(result, uint256)


@external
@payable
def modifyLiquidity(key: PoolKey, tick_lower: int24, tick_upper: int24, liquidity_delta: int256) -> int256:
    data: Bytes[2048] = abi_encode(ACTION_LIQUIDITY, msg.sender, key, tick_lower, tick_upper, liquidity_delta)
    result: Bytes[256] = extcall IPoolManager(MANAGER).unlock(data)
    if self.balance > 0:
        send(msg.sender, self.balance)
    return abi_decode(result, int256)


@internal
def _swap(data: Bytes[2048]) -> Bytes[256]:
    action: uint8 = 0
    payer: address = empty(address)
    hops: DynArray[Hop, 3] = []
    amount_in: uint256 = 0
    min_out: uint256 = 0
    recipient: address = empty(address)
    action, payer, hops, amount_in, min_out, recipient = abi_decode(
        data, (uint8, address, DynArray[Hop, 3], uint256, uint256, address)
    )
    amount: int256 = convert(amount_in, int256)
    paid: uint256 = 0
    first: bool = True
    currency_in: address = empty(address)
    currency_out: address = empty(address)
    for hop: Hop in hops:
        limit: uint160 = MAX_SQRT_PRICE_MINUS_ONE
        if hop.zeroForOne:
            limit = MIN_SQRT_PRICE_PLUS_ONE
        delta: int256 = extcall IPoolManager(MANAGER).swap(
            hop.key, SwapParams(zeroForOne=hop.zeroForOne, amountSpecified=-amount, sqrtPriceLimitX96=limit), b""
        )
        spent: int256 = 0
        if hop.zeroForOne:
            spent = -self._amount0(delta)
            amount = self._amount1(delta)
            if first:
                currency_in = hop.key.currency0
            currency_out = hop.key.currency1
        else:
            spent = -self._amount1(delta)
            amount = self._amount0(delta)
            if first:
                currency_in = hop.key.currency1
            currency_out = hop.key.currency0
        if first:
            paid = convert(spent, uint256)
            first = False
    assert amount >= convert(min_out, int256), "too little received"
    self._pay(currency_in, payer, paid)
    extcall IPoolManager(MANAGER).take(currency_out, recipient, convert(amount, uint256))
    return abi_encode(convert(amount, uint256))


@internal
def _liquidity(data: Bytes[2048]) -> Bytes[256]:
    action: uint8 = 0
    payer: address = empty(address)
    key: PoolKey = empty(PoolKey)
    tick_lower: int24 = 0
    tick_upper: int24 = 0
    liquidity_delta: int256 = 0
    action, payer, key, tick_lower, tick_upper, liquidity_delta = abi_decode(
        data, (uint8, address, PoolKey, int24, int24, int256)
    )
    salt: bytes32 = convert(convert(payer, uint256), bytes32)
    caller_delta: int256 = 0
    fees: int256 = 0
    caller_delta, fees = extcall IPoolManager(MANAGER).modifyLiquidity(
        key, ModifyLiquidityParams(tickLower=tick_lower, tickUpper=tick_upper, liquidityDelta=liquidity_delta, salt=salt), b""
    )
    a0: int256 = self._amount0(caller_delta)
    a1: int256 = self._amount1(caller_delta)
    if a0 < 0:
        self._pay(key.currency0, payer, convert(-a0, uint256))
    if a1 < 0:
        self._pay(key.currency1, payer, convert(-a1, uint256))
    if a0 > 0:
        extcall IPoolManager(MANAGER).take(key.currency0, payer, convert(a0, uint256))
    if a1 > 0:
        extcall IPoolManager(MANAGER).take(key.currency1, payer, convert(a1, uint256))
    return abi_encode(caller_delta)


@internal
def _swap_out(data: Bytes[2048]) -> Bytes[256]:
    action: uint8 = 0
    payer: address = empty(address)
    hop: Hop = empty(Hop)
    amount_out: uint256 = 0
    max_in: uint256 = 0
    recipient: address = empty(address)
    action, payer, hop, amount_out, max_in, recipient = abi_decode(
        data, (uint8, address, Hop, uint256, uint256, address)
    )
    limit: uint160 = MAX_SQRT_PRICE_MINUS_ONE
    if hop.zeroForOne:
        limit = MIN_SQRT_PRICE_PLUS_ONE
    delta: int256 = extcall IPoolManager(MANAGER).swap(
        hop.key, SwapParams(zeroForOne=hop.zeroForOne, amountSpecified=convert(amount_out, int256), sqrtPriceLimitX96=limit), b""
    )
    paid: int256 = 0
    got: int256 = 0
    currency_in: address = hop.key.currency1
    currency_out: address = hop.key.currency0
    if hop.zeroForOne:
        paid = -self._amount0(delta)
        got = self._amount1(delta)
        currency_in = hop.key.currency0
        currency_out = hop.key.currency1
    else:
        paid = -self._amount1(delta)
        got = self._amount0(delta)
    assert got == convert(amount_out, int256), "output not delivered in full"
    assert paid <= convert(max_in, int256), "too much requested"
    self._pay(currency_in, payer, convert(paid, uint256))
    extcall IPoolManager(MANAGER).take(currency_out, recipient, amount_out)
    return abi_encode(convert(paid, uint256))


@external
def unlockCallback(data: Bytes[2048]) -> Bytes[256]:
    assert msg.sender == MANAGER, "only the PoolManager"
    action: uint8 = abi_decode(slice(data, 0, 32), uint8)
    if action == ACTION_SWAP:
        return self._swap(data)
    if action == ACTION_SWAP_OUT:
        return self._swap_out(data)
    return self._liquidity(data)


@external
@payable
def __default__():
    pass
