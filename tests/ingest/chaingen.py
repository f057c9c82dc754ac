"""Generate many real pool events on a Hardhat testbed, fast: multicalls, many transactions per block.

Swaps on the two v3 pools go through ``SwapRouter.multicall`` (``swaps_per_tx`` exactInputSingle calls
per transaction), v3 mints, burns (decreaseLiquidity) and collects through
``NonfungiblePositionManager.multicall``, v2 swaps/adds/removes through ``UniswapV2Router02``.
Transactions are signed locally, posted in JSON-RPC batches with automine off, and mined a few
rounds per block (``evm_mine``), so a few thousand events cost a few hundred transactions.
Deterministic for a seed (sizes, ranges, order).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak

from keel.chain import ChainClient, TestbedAddresses
from keel.chain.ingest_rpc import RawRpc
from keel.chain.signer import HARDHAT_DEV_KEYS

MAX_UINT = (1 << 256) - 1
_SIGS = {
    "exactInputSingle": "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    "mint": "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
    "decreaseLiquidity": "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))",
    "collect": "collect((uint256,address,uint128,uint128))",
    "multicall": "multicall(bytes[])",
}


def _call(name: str, *args: object) -> bytes:
    """Calldata: 4-byte selector + ABI-encoded arguments (eth_abi directly; web3's encoder is the slow part)."""
    sig = _SIGS[name]
    types = sig[sig.index("(") + 1 : -1]
    kinds = [types] if types.startswith("(") else types.split(",")
    return keccak(text=sig)[:4] + abi_encode(kinds, list(args))


DEADLINE = 2**40


@dataclass
class GenStats:
    swaps: int = 0
    mints: int = 0
    burns: int = 0
    collects: int = 0
    txs: int = 0
    blocks: list[int] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Swaps, mints and burns (the count the Done-when names; collects and syncs come on top)."""
        return self.swaps + self.mints + self.burns


class Generator:
    """Sends event-producing transactions from one dev account (index ``key_index``)."""

    def __init__(self, client: ChainClient, tb: TestbedAddresses, *, key_index: int = 0, seed: int = 7) -> None:
        self.client = client
        self.tb = tb
        self.key = HARDHAT_DEV_KEYS[key_index]
        self.account = Account.from_key(self.key)
        self.me = self.account.address
        self.rng = random.Random(seed)
        self.rpc = RawRpc(client.endpoint)
        self.nonce = 0
        self.next_token_id = 0
        self.open_positions: list[tuple[int, int]] = []  # (token id, liquidity)
        self.v2_lp = 0
        self.stats = GenStats()
        self.router = client.contract("SwapRouter", tb.swap_router)
        self.npm = client.contract("NonfungiblePositionManager", tb.position_manager)
        self.v2 = client.contract("UniswapV2Router02", tb.v2_router)
        self.v3 = [p for p in tb.pools if p.kind == "uniswap_v3"]
        self.pair = next(p for p in tb.pools if p.kind == "uniswap_v2")
        self.weth_is_0 = int(tb.weth, 16) < int(tb.usdc, 16)

    async def close(self) -> None:
        await self.rpc.close()

    async def _raw(self, to: str, data: str, gas: int, value: int = 0) -> str:
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "maxFeePerGas": 50 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": self.nonce,
            "chainId": self.tb.chain_id,
            "value": value,
            "type": 2,
        }
        self.nonce += 1
        self.stats.txs += 1
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.raw_transaction).hex()

    async def setup(self) -> None:
        """Approvals for the swap router and the v2 pair's LP token; ETH wrapped; token id counter."""
        await self.rpc.call("evm_setAutomine", [True])
        self.nonce = int(await self.rpc.call("eth_getTransactionCount", [self.me, "pending"]), 16)
        supply = await self.client.call("totalSupply", self.npm.functions.totalSupply())
        self.next_token_id = int(supply) + 1
        weth = self.client.contract("WETH9", self.tb.weth)
        usdc = self.client.contract("KeelToken", self.tb.usdc)
        pair = self.client.contract("UniswapV2Pair", self.pair.address)
        raws = [await self._raw(self.tb.usdc, usdc.encode_abi("mint", args=[self.me, 10**16]), 100_000)]
        have = int(await self.client.call("balanceOf", weth.functions.balanceOf(self.me)))
        if have < 1000 * 10**18:  # wrap up to 1,500 ETH, keeping 100 ETH for gas
            eth = int(await self.rpc.call("eth_getBalance", [self.me, "latest"]), 16)
            wrap = min(1500 * 10**18, eth - 100 * 10**18)
            raws.append(await self._raw(self.tb.weth, weth.encode_abi("deposit", args=[]), 100_000, value=wrap))
        for token in (weth, usdc):
            for spender in (self.tb.swap_router, self.tb.position_manager, self.tb.v2_router):
                raws.append(
                    await self._raw(token.address, token.encode_abi("approve", args=[spender, MAX_UINT]), 100_000)
                )
        raws.append(
            await self._raw(pair.address, pair.encode_abi("approve", args=[self.tb.v2_router, MAX_UINT]), 100_000)
        )
        await self.rpc.call("evm_setAutomine", [False])
        await self._send(raws)
        await self._mine_all()

    async def _send(self, raws: list[str]) -> None:
        hashes = await self.rpc.batch("eth_sendRawTransaction", [[r] for r in raws], size=100)
        assert len(hashes) == len(raws)

    async def _mine_all(self) -> None:
        while True:
            await self.rpc.call("evm_mine", [])
            self.stats.blocks.append(int(await self.rpc.call("eth_blockNumber", []), 16))
            done = int(await self.rpc.call("eth_getTransactionCount", [self.me, "latest"]), 16)
            if done >= self.nonce:
                return

    def _ticks(self, pool: Any, current: int) -> tuple[int, int]:
        s = pool.tick_spacing
        width = self.rng.choice((2, 5, 10, 30, 80)) * s
        center = (current // s) * s + self.rng.randint(-20, 20) * s
        return center - width, center + width

    async def _current_tick(self, pool_address: str) -> int:
        c = self.client.contract("UniswapV3Pool", pool_address)
        return int((await self.client.call("slot0", c.functions.slot0()))[1])

    async def round(self, *, v3_swap_txs: int, swaps_per_tx: int, mints: int, burns: int, v2_swaps: int) -> None:
        """One round of transactions, mined into one or more blocks."""
        raws: list[str] = []
        for _ in range(v3_swap_txs):
            calls = []
            for _ in range(swaps_per_tx):
                pool = self.rng.choice(self.v3)
                buy_weth = self.rng.random() < 0.5
                if buy_weth:
                    token_in, token_out, amount = self.tb.usdc, self.tb.weth, self.rng.randint(50, 40_000) * 10**6
                else:
                    token_in, token_out = self.tb.weth, self.tb.usdc
                    amount = self.rng.randint(2, 2000) * 10**16
                params = (token_in, token_out, pool.fee, self.me, DEADLINE, amount, 0, 0)
                calls.append(_call("exactInputSingle", params))
            self.stats.swaps += swaps_per_tx
            raws.append(
                await self._raw(
                    self.tb.swap_router, "0x" + _call("multicall", calls).hex(), 170_000 * swaps_per_tx + 60_000
                )
            )
        if mints:
            calls = []
            current = {p.address: await self._current_tick(p.address) for p in self.v3}
            for _ in range(mints):
                pool = self.rng.choice(self.v3)
                lo, hi = self._ticks(pool, current[pool.address])
                w = self.rng.randint(1, 20) * 10**17
                u = w * 2000 // 10**12
                a0, a1 = (w, u) if self.weth_is_0 else (u, w)
                params = (pool.token0, pool.token1, pool.fee, lo, hi, a0, a1, 0, 0, self.me, DEADLINE)
                calls.append(_call("mint", params))
            raws.append(
                await self._raw(
                    self.tb.position_manager, "0x" + _call("multicall", calls).hex(), 520_000 * mints + 60_000
                )
            )
            self.stats.mints += mints
            minted = list(range(self.next_token_id, self.next_token_id + mints))
            self.next_token_id += mints
        else:
            minted = []
        if burns and self.open_positions:
            calls = []
            chosen = self.open_positions[:burns]
            self.open_positions = self.open_positions[burns:]
            for token_id, liquidity in chosen:
                part = liquidity if self.rng.random() < 0.5 else liquidity // 2
                calls.append(_call("decreaseLiquidity", (token_id, part, 0, 0, DEADLINE)))
                calls.append(_call("collect", (token_id, self.me, 2**128 - 1, 2**128 - 1)))
                self.stats.burns += 1
                self.stats.collects += 1
                if part < liquidity:
                    self.open_positions.append((token_id, liquidity - part))
            raws.append(
                await self._raw(
                    self.tb.position_manager, "0x" + _call("multicall", calls).hex(), 260_000 * len(chosen) + 60_000
                )
            )
        for i in range(v2_swaps):
            if i % 7 == 3:
                w = self.rng.randint(1, 10) * 10**18
                args = [self.tb.weth, self.tb.usdc, w, w * 2500 // 10**12, 0, 0, self.me, DEADLINE]
                raws.append(await self._raw(self.tb.v2_router, self.v2.encode_abi("addLiquidity", args=args), 250_000))
                self.stats.mints += 1
                self.v2_lp += 1
            elif i % 7 == 5 and self.v2_lp:
                args = [self.tb.weth, self.tb.usdc, 10**15, 0, 0, self.me, DEADLINE]
                raws.append(
                    await self._raw(self.tb.v2_router, self.v2.encode_abi("removeLiquidity", args=args), 250_000)
                )
                self.stats.burns += 1
            else:
                path = [self.tb.weth, self.tb.usdc] if self.rng.random() < 0.5 else [self.tb.usdc, self.tb.weth]
                amount = (
                    self.rng.randint(1, 300) * 10**16 if path[0] == self.tb.weth else self.rng.randint(5, 6000) * 10**6
                )
                args = [amount, 0, path, self.me, DEADLINE]
                raws.append(
                    await self._raw(
                        self.tb.v2_router, self.v2.encode_abi("swapExactTokensForTokens", args=args), 200_000
                    )
                )
                self.stats.swaps += 1
        await self._send(raws)
        await self._mine_all()
        for token_id in minted:
            pos = await self.client.call("positions", self.npm.functions.positions(token_id))
            self.open_positions.append((token_id, int(pos[7])))

    async def run(self, target_events: int, *, swaps_per_tx: int = 40, seconds_per_round: int = 0) -> GenStats:
        """Rounds until at least ``target_events`` swaps+mints+burns were sent."""
        await self.setup()
        try:
            while self.stats.events < target_events:
                if seconds_per_round:
                    await self.rpc.call("evm_increaseTime", [seconds_per_round])
                await self.round(v3_swap_txs=4, swaps_per_tx=swaps_per_tx, mints=8, burns=6, v2_swaps=7)
        finally:
            await self.rpc.call("evm_setAutomine", [True])
        return self.stats


async def generate(
    url: str, tb: TestbedAddresses, target_events: int, *, seed: int = 7, seconds_per_round: int = 0
) -> GenStats:
    client = await ChainClient.connect(url)
    gen = Generator(client, tb, seed=seed)
    try:
        return await gen.run(target_events, seconds_per_round=seconds_per_round)
    finally:
        await gen.close()
        await client.close()


def generate_sync(url: str, tb: TestbedAddresses, target_events: int, **kw: Any) -> GenStats:
    return asyncio.run(generate(url, tb, target_events, **kw))
