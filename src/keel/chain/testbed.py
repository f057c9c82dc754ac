"""Deploy a complete local DeFi testbed from the npm artifacts' bytecode.

:func:`deploy_testbed` deploys, through :class:`~keel.chain.transactions.TransactionManager`
(so every deployment is preflighted, signed locally and confirmed):

* tokens: WETH9 (npm v2-periphery), USDC (6 decimals) and WBTC (8) as :file:`contracts/KeelToken.vy`;
* Uniswap v2: ``UniswapV2Factory``, ``UniswapV2Router02`` and a WETH/USDC pair with liquidity;
* Uniswap v3: ``UniswapV3Factory``, ``SwapRouter``, ``QuoterV2``, ``NonfungiblePositionManager``,
  ``TickLens`` and WETH/USDC pools at 0.05% and 0.3% with a full-range and two concentrated
  positions each (so swaps cross initialized ticks);
* the collateral vault (:file:`contracts/CollateralVault.vy`) on USDC;
* Uniswap v4 (:func:`keel.chain.v4.deploy_v4`): ``PoolManager`` and Keel's unlock-callback router with
  a 0.05% WETH/USDC pool (full range plus about +-1%), addresses in ``v4_manager``/``v4_router``.

Prices are set exactly: ``sqrtPriceX96 = isqrt(price_1_per_0_base_units * 2**192)``.
The v2 router's pair-init-code hash and the v3 periphery's pool-init-code hash match the
npm core artifacts' bytecode, so the routers find the pools at their CREATE2 addresses.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from keel.chain.bindings import call_request, deploy_request
from keel.chain.client import ChainClient, checksum
from keel.chain.transactions import TransactionManager, TxReceipt
from keel.errors import ValidationError

__all__ = [
    "MAX_TICK",
    "MIN_TICK",
    "PoolInfo",
    "TestbedAddresses",
    "deploy_testbed",
    "deposit_as",
    "fund_account",
    "sqrt_price_x96",
]

MIN_TICK = -887272
MAX_TICK = 887272
_Q96 = 1 << 96


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """One deployed pool: ``kind`` 'uniswap_v2' or 'uniswap_v3', ``fee`` in pips (v2: 3000)."""

    kind: str
    address: str
    token0: str
    token1: str
    fee: int
    tick_spacing: int = 0


@dataclass(frozen=True, slots=True)
class TestbedAddresses:
    """Every address the testbed deployed (checksummed), as written to ``.testbed/addresses.json``."""

    __test__ = False  # not a pytest test class despite the name

    chain_id: int
    deployer: str
    weth: str
    usdc: str
    wbtc: str
    v2_factory: str
    v2_router: str
    v3_factory: str
    swap_router: str
    quoter_v2: str
    position_manager: str
    tick_lens: str
    vault: str
    pools: tuple[PoolInfo, ...] = field(default_factory=tuple)
    eth_price_usdc: str = "2000"
    rpc_url: str = ""
    # Uniswap v4 (keel.chain.v4): the singleton PoolManager, Keel's unlock-callback router, and one pool
    # (currencies = pools[0].token0/token1, no hooks); "" / 0 on a testbed deployed before v4
    v4_manager: str = ""
    v4_router: str = ""
    v4_fee: int = 0
    v4_tick_spacing: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["pools"] = [asdict(p) for p in self.pools]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TestbedAddresses:
        try:
            data = json.loads(text)
            data["pools"] = tuple(PoolInfo(**p) for p in data.get("pools", []))
            return cls(**data)
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ValidationError("addresses", text[:40], f"not a testbed addresses file ({exc})") from None

    @classmethod
    def load(cls, path: str | Path) -> TestbedAddresses:
        try:
            text = Path(path).read_text(encoding="utf-8")
            return cls.from_json(text)
        except (ValidationError, AttributeError, ValueError, RecursionError) as exc:
            why = "not a testbed addresses file" if not isinstance(exc, UnicodeDecodeError) else "not UTF-8 text"
            raise ValidationError("addresses", str(path), why) from None
        except OSError as exc:
            raise ValidationError("addresses", str(path), f"cannot read ({exc.strerror})") from None

    def pool(self, kind: str, fee: int) -> PoolInfo:
        for p in self.pools:
            if p.kind == kind and p.fee == fee:
                return p
        raise ValidationError("pool", (kind, fee), "not deployed on this testbed")


def sqrt_price_x96(price_1_per_0: Fraction) -> int:
    """``floor(sqrt(price) * 2**96)`` exactly, for a price of token1 per token0 in base units."""
    if price_1_per_0 <= 0:
        raise ValidationError("price", price_1_per_0, "must be positive")
    return math.isqrt(price_1_per_0.numerator * (1 << 192) // price_1_per_0.denominator)


def _tick_of(price_1_per_0: Fraction) -> int:
    return math.floor(math.log(float(price_1_per_0)) / math.log(1.0001))


def _align(tick: int, spacing: int) -> int:
    return (tick // spacing) * spacing


async def _deploy(tm: TransactionManager, tag: str, artifact: str, *args: Any) -> str:
    receipt = await tm.send(f"deploy:{tag}", deploy_request(artifact, *args))
    assert receipt.contract_address is not None
    return receipt.contract_address


async def _call(tm: TransactionManager, intent: str, contract: Any, fn: str, *args: Any, value: int = 0) -> TxReceipt:
    return await tm.send(intent, call_request(contract, fn, *args, value=value))


async def deploy_testbed(
    client: ChainClient,
    tm: TransactionManager,
    *,
    eth_price_usdc: Fraction = Fraction(2000),
    weth_liquidity: int = 4000 * 10**18,
    rpc_url: str = "",
) -> TestbedAddresses:
    """Deploy everything with ``tm``'s account (which needs ETH: ~2.1x ``weth_liquidity`` plus gas)."""
    me = tm.address
    weth = await _deploy(tm, "weth", "WETH9")
    usdc = await _deploy(tm, "usdc", "KeelToken", "USD Coin", "USDC", 6)
    wbtc = await _deploy(tm, "wbtc", "KeelToken", "Wrapped BTC", "WBTC", 8)
    v2_factory = await _deploy(tm, "v2_factory", "UniswapV2Factory", me)
    v2_router = await _deploy(tm, "v2_router", "UniswapV2Router02", v2_factory, weth)
    v3_factory = await _deploy(tm, "v3_factory", "UniswapV3Factory")
    swap_router = await _deploy(tm, "swap_router", "SwapRouter", v3_factory, weth)
    quoter = await _deploy(tm, "quoter_v2", "QuoterV2", v3_factory, weth)
    npm = await _deploy(tm, "position_manager", "NonfungiblePositionManager", v3_factory, weth, "0x" + "00" * 20)
    lens = await _deploy(tm, "tick_lens", "TickLens")
    vault = await _deploy(tm, "vault", "CollateralVault", usdc, 18, me)

    weth_c = client.contract("WETH9", weth)
    usdc_c = client.contract("KeelToken", usdc)
    wbtc_c = client.contract("KeelToken", wbtc)
    usdc_per_weth = eth_price_usdc * 10**6 / 10**18  # base units of USDC per base unit of WETH
    usdc_liquidity = int(weth_liquidity * usdc_per_weth)
    await _call(tm, "fund:wrap", weth_c, "deposit", value=2 * weth_liquidity)
    await _call(tm, "fund:usdc", usdc_c, "mint", me, 4 * usdc_liquidity)
    await _call(tm, "fund:wbtc", wbtc_c, "mint", me, 1000 * 10**8)
    max_uint = (1 << 256) - 1
    for spender, name in ((npm, "npm"), (v2_router, "v2")):
        await _call(tm, f"approve:weth:{name}", weth_c, "approve", spender, max_uint)
        await _call(tm, f"approve:usdc:{name}", usdc_c, "approve", spender, max_uint)

    token0, token1 = sorted((weth, usdc), key=lambda a: int(a, 16))
    price = usdc_per_weth if token0 == weth else 1 / usdc_per_weth
    sqrt_p = sqrt_price_x96(price)
    center = _tick_of(price)
    head = await client.get_block("latest")
    deadline = int(head["timestamp"]) + 10 * 365 * 86400
    factory_c = client.contract("UniswapV3Factory", v3_factory)
    npm_c = client.contract("NonfungiblePositionManager", npm)
    pools: list[PoolInfo] = []
    for fee, spacing in ((500, 10), (3000, 60)):
        await _call(tm, f"v3:create:{fee}", factory_c, "createPool", token0, token1, fee)
        address = checksum("pool", await client.call("getPool", factory_c.functions.getPool(token0, token1, fee)))
        pool_c = client.contract("UniswapV3Pool", address)
        await _call(tm, f"v3:init:{fee}", pool_c, "initialize", sqrt_p)
        amount_weth = weth_liquidity // 2
        ranges = (
            (_align(MIN_TICK + spacing - 1, spacing) + spacing, _align(MAX_TICK, spacing), Fraction(1, 2)),
            (_align(center - 500, spacing), _align(center + 500, spacing), Fraction(1, 4)),  # about +-5%
            (_align(center - 100, spacing), _align(center + 100, spacing), Fraction(1, 4)),  # about +-1%
        )
        for i, (lo, hi, share) in enumerate(ranges):
            w = int(amount_weth * share)
            u = int(w * usdc_per_weth)
            a0, a1 = (w, u) if token0 == weth else (u, w)
            params = (token0, token1, fee, lo, hi, a0, a1, 0, 0, me, deadline)
            await _call(tm, f"v3:mint:{fee}:{i}", npm_c, "mint", params)
        pools.append(PoolInfo("uniswap_v3", address, token0, token1, fee, spacing))

    router_c = client.contract("UniswapV2Router02", v2_router)
    w2 = weth_liquidity // 2
    await _call(tm, "v2:add", router_c, "addLiquidity", weth, usdc, w2, int(w2 * usdc_per_weth), 0, 0, me, deadline)
    v2f = client.contract("UniswapV2Factory", v2_factory)
    pair = checksum("pair", await client.call("getPair", v2f.functions.getPair(weth, usdc)))
    pools.append(PoolInfo("uniswap_v2", pair, token0, token1, 3000, 0))

    # Uniswap v4 beside them: a 0.05% WETH/USDC pool in the singleton, ~1/16 of the WETH near the price
    from keel.chain.v4 import deploy_v4
    from keel.venues.uniswap_v3 import get_amount0_delta, get_amount1_delta, get_sqrt_ratio_at_tick

    lo4, hi4 = _align(center - 100, 10), _align(center + 100, 10)
    per0 = get_amount0_delta(sqrt_p, get_sqrt_ratio_at_tick(hi4), 10**18, True)
    per1 = get_amount1_delta(get_sqrt_ratio_at_tick(lo4), sqrt_p, 10**18, True)
    w4 = weth_liquidity // 16
    budget0, budget1 = (w4, int(w4 * usdc_per_weth)) if token0 == weth else (int(w4 * usdc_per_weth), w4)
    liquidity4 = min(budget0 * 10**18 // max(per0, 1), budget1 * 10**18 // max(per1, 1))
    v4 = await deploy_v4(
        client, tm, token0=token0, token1=token1, sqrt_price_x96=sqrt_p, fee=500, tick_spacing=10, liquidity=liquidity4
    )

    return TestbedAddresses(
        chain_id=client.chain_id,
        deployer=me,
        weth=weth,
        usdc=usdc,
        wbtc=wbtc,
        v2_factory=v2_factory,
        v2_router=v2_router,
        v3_factory=v3_factory,
        swap_router=swap_router,
        quoter_v2=quoter,
        position_manager=npm,
        tick_lens=lens,
        vault=vault,
        pools=tuple(pools),
        eth_price_usdc=str(eth_price_usdc),
        rpc_url=rpc_url,
        v4_manager=v4.manager,
        v4_router=v4.router,
        v4_fee=500,
        v4_tick_spacing=10,
    )


async def fund_account(
    client: ChainClient,
    tm: TransactionManager,
    testbed: TestbedAddresses,
    account: str,
    *,
    eth: int,
    weth: int,
    usdc: int,
) -> None:
    """Give ``account`` ``eth`` wei, ``weth`` WETH and ``usdc`` USDC base units from the deployer ``tm``."""
    from keel.chain.transactions import TxRequest

    account = checksum("account", account)
    tag = f"fund:{account}:{await client.nonce(tm.address, 'pending')}"
    if eth:
        await tm.send(f"{tag}:eth", TxRequest(to=account, value=eth))
    if weth:
        weth_c = client.contract("WETH9", testbed.weth)
        await _call(tm, f"{tag}:wrap", weth_c, "deposit", value=weth)
        await _call(tm, f"{tag}:weth", weth_c, "transfer", account, weth)
    if usdc:
        await _call(tm, f"{tag}:usdc", client.contract("KeelToken", testbed.usdc), "mint", account, usdc)


async def deposit_as(client: ChainClient, testbed: TestbedAddresses, account: str, amount: int) -> None:
    """LOCAL TEST CHAINS ONLY: deposit ``amount`` USDC base units (already held by ``account``) into the vault
    as ``account`` (Hardhat impersonation; no key needed).  The account's nonce moves by two."""
    import asyncio

    from keel.chain.bindings import erc20_balance
    from keel.errors import ChainError

    if client.chain_id != 31337:
        raise ValidationError("chain_id", client.chain_id, "vault deposits by impersonation only on a local test chain")
    account = checksum("account", account)
    have = await erc20_balance(client, testbed.usdc, account)
    if have < amount:
        raise ValidationError("vault_usdc", amount, f"account holds {have} USDC base units")
    usdc = client.contract("KeelToken", testbed.usdc)
    vault = client.contract("CollateralVault", testbed.vault)
    await client.rpc("hardhat_impersonateAccount", [account])
    try:
        for fn in (usdc.functions.approve(testbed.vault, amount), vault.functions.deposit(amount)):
            data = fn._encode_transaction_data()
            tx_hash = await client.rpc("eth_sendTransaction", [{"from": account, "to": fn.address, "data": data}])
            for _ in range(600):
                receipt = await client.receipt(tx_hash)
                if receipt is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise ChainError(f"vault deposit {tx_hash}: not mined")
            if int(receipt["status"]) != 1:
                raise ChainError(f"vault deposit {tx_hash}: reverted")
    finally:
        await client.rpc("hardhat_stopImpersonatingAccount", [account])
