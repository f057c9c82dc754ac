"""Reusable in-process EVM harness (pyrevm) with the real Uniswap contracts from node_modules.

Deploys, from the npm artifacts (no Solidity compiled here): test ERC20s
(``@uniswap/v2-core/build/ERC20.json``), ``UniswapV3Factory`` (the pools it creates
are ``UniswapV3Pool`` of v3-core 1.0.1; the init-code hash equals the periphery's),
``NonfungiblePositionManager`` and ``SwapRouter`` of v3-periphery 1.4.4, and
``UniswapV2Factory``/``UniswapV2Pair`` of v2-core 1.0.1.

Used by tests/venues (bit-exact comparisons) and bench/amm.py (timing the real
contract).  Other test areas may import it: ``from tests.evm_support import EVM``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak
from pyrevm import EVM as _RawEVM  # noqa: N811
from pyrevm import BlockEnv

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules" / "@uniswap"

ARTIFACTS = {
    "ERC20": "v2-core/build/ERC20.json",
    "UniswapV2Factory": "v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "v2-core/build/UniswapV2Pair.json",
    "UniswapV3Factory": "v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "NonfungiblePositionManager": (
        "v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "SwapRouter": "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
}
POOL_INIT_CODE_HASH = "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
DEADLINE = 2**63
MAX_UINT256 = 2**256 - 1
MAX_UINT128 = 2**128 - 1


def artifact(name: str) -> tuple[list[dict[str, Any]], bytes]:
    """(abi, creation bytecode) of a contract from its npm artifact."""
    data = json.loads((NODE_MODULES / ARTIFACTS[name]).read_text())
    code = data.get("bytecode")
    if isinstance(code, dict):
        code = code["object"]
    if not code:
        code = data["evm"]["bytecode"]["object"]
    return data["abi"], bytes.fromhex(str(code).removeprefix("0x"))


def event_abi(name: str) -> list[dict[str, Any]]:
    """The event entries of a contract's ABI."""
    return [e for e in artifact(name)[0] if e["type"] == "event"]


class EVMRevert(Exception):
    """The EVM call reverted; ``reason`` is the Error(string) reason ('' when none)."""

    def __init__(self, reason: str, raw: str) -> None:
        self.reason = reason
        super().__init__(f"revert {reason!r}: {raw[:200]}")


def _revert_reason(message: str) -> str:
    marker = "output: 0x"
    if marker not in message:
        return ""
    data = bytes.fromhex(message.split(marker, 1)[1].split(" ", 1)[0].rstrip("}, "))
    if data[:4] == bytes.fromhex("08c379a0"):
        return str(decode(["string"], data[4:])[0])
    return ""


@dataclass(frozen=True)
class Call:
    """One call's decoded return values, gas used and logs [(address, topics, data)]."""

    values: tuple[Any, ...]
    gas_used: int
    logs: list[tuple[str, list[bytes], bytes]]


class EVM:
    """A pyrevm instance with an ABI-aware call helper and a funded deployer."""

    def __init__(self) -> None:
        self.raw = _RawEVM()
        self.me = "0x" + "a1" * 20
        self.raw.set_balance(self.me, 10**30)
        self.timestamp = 1_700_000_000
        self.number = 1
        self.raw.set_block_env(BlockEnv(number=self.number, timestamp=self.timestamp))

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp (and advance the block number)."""
        self.timestamp = timestamp
        self.number += 1
        self.raw.set_block_env(BlockEnv(number=self.number, timestamp=timestamp))

    def deploy(self, name: str, types: list[str] | None = None, args: list[Any] | None = None) -> str:
        _, code = artifact(name)
        if types:
            code += encode(types, args or [])
        return str(self.raw.deploy(self.me, code, gas=30_000_000))

    def call(
        self,
        to: str,
        signature: str,
        args: list[Any] | tuple[Any, ...] = (),
        returns: list[str] | None = None,
        *,
        caller: str | None = None,
    ) -> Call:
        """Call ``signature`` (e.g. 'transfer(address,uint256)') on ``to``; raises :class:`EVMRevert`."""
        types = _arg_types(signature)
        calldata = keccak(text=signature)[:4] + encode(types, list(args))
        try:
            out = self.raw.message_call(caller or self.me, to, calldata, gas=30_000_000)
        except RuntimeError as exc:
            raise EVMRevert(_revert_reason(str(exc)), str(exc)) from None
        result = self.raw.result
        logs = [(str(log.address), list(log.data[0]), bytes(log.data[1])) for log in result.logs]
        values = tuple(decode(returns, bytes(out))) if returns else ()
        return Call(values, int(result.gas_used), logs)

    def view(self, to: str, signature: str, args: list[Any] | tuple[Any, ...], returns: list[str]) -> tuple[Any, ...]:
        return self.call(to, signature, args, returns).values


def _arg_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    if not inner:
        return []
    out: list[str] = []
    depth = 0
    current = ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    out.append(current)
    return out


class UniswapV3World:
    """Two sorted test tokens, the v3 factory (all four fee tiers), NPM and SwapRouter."""

    def __init__(self, evm: EVM | None = None) -> None:
        self.evm = evm or EVM()
        e = self.evm
        tokens = sorted((e.deploy("ERC20", ["uint256"], [2**200]) for _ in range(2)), key=lambda a: int(a, 16))
        self.token0, self.token1 = tokens
        self.factory = e.deploy("UniswapV3Factory")
        e.call(self.factory, "enableFeeAmount(uint24,int24)", [100, 1])
        self.npm = e.deploy(
            "NonfungiblePositionManager", ["address", "address", "address"], [self.factory, tokens[0], tokens[1]]
        )
        self.router = e.deploy("SwapRouter", ["address", "address"], [self.factory, tokens[0]])
        self.init_logs: dict[str, list[tuple[str, list[bytes], bytes]]] = {}
        for token in tokens:
            for spender in (self.npm, self.router):
                e.call(token, "approve(address,uint256)", [spender, MAX_UINT256])

    def create_pool(self, fee: int, sqrt_price_x96: int) -> str:
        e = self.evm
        e.call(self.factory, "createPool(address,address,uint24)", [self.token0, self.token1, fee])
        (pool,) = e.view(self.factory, "getPool(address,address,uint24)", [self.token0, self.token1, fee], ["address"])
        self.init_logs[str(pool)] = e.call(pool, "initialize(uint160)", [sqrt_price_x96]).logs
        return str(pool)

    def mint(self, fee: int, tick_lower: int, tick_upper: int, amount0: int, amount1: int) -> Call:
        """NPM.mint -> (tokenId, liquidity, amount0, amount1)."""
        params = (self.token0, self.token1, fee, tick_lower, tick_upper, amount0, amount1, 0, 0, self.evm.me, DEADLINE)
        return self.evm.call(
            self.npm,
            "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
            [params],
            ["uint256", "uint128", "uint256", "uint256"],
        )

    def decrease(self, token_id: int, liquidity: int) -> Call:
        """NPM.decreaseLiquidity -> (amount0, amount1)."""
        return self.evm.call(
            self.npm,
            "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))",
            [(token_id, liquidity, 0, 0, DEADLINE)],
            ["uint256", "uint256"],
        )

    def collect(self, token_id: int, amount0_max: int = MAX_UINT128, amount1_max: int = MAX_UINT128) -> Call:
        """NPM.collect -> (amount0, amount1)."""
        return self.evm.call(
            self.npm,
            "collect((uint256,address,uint128,uint128))",
            [(token_id, self.evm.me, amount0_max, amount1_max)],
            ["uint256", "uint256"],
        )

    def exact_input(self, fee: int, zero_for_one: bool, amount_in: int, limit: int = 0) -> Call:
        """SwapRouter.exactInputSingle -> (amountOut,)."""
        t_in, t_out = (self.token0, self.token1) if zero_for_one else (self.token1, self.token0)
        return self.evm.call(
            self.router,
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
            [(t_in, t_out, fee, self.evm.me, DEADLINE, amount_in, 0, limit)],
            ["uint256"],
        )

    def exact_output(self, fee: int, zero_for_one: bool, amount_out: int, limit: int = 0) -> Call:
        """SwapRouter.exactOutputSingle -> (amountIn,)."""
        t_in, t_out = (self.token0, self.token1) if zero_for_one else (self.token1, self.token0)
        return self.evm.call(
            self.router,
            "exactOutputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
            [(t_in, t_out, fee, self.evm.me, DEADLINE, amount_out, MAX_UINT256 >> 1, limit)],
            ["uint256"],
        )

    # -- pool getters
    def slot0(self, pool: str) -> tuple[Any, ...]:
        return self.evm.view(pool, "slot0()", [], ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"])

    def pool_scalars(self, pool: str) -> tuple[int, int, int]:
        (liq,) = self.evm.view(pool, "liquidity()", [], ["uint128"])
        (g0,) = self.evm.view(pool, "feeGrowthGlobal0X128()", [], ["uint256"])
        (g1,) = self.evm.view(pool, "feeGrowthGlobal1X128()", [], ["uint256"])
        return liq, g0, g1

    def ticks(self, pool: str, tick: int) -> tuple[Any, ...]:
        return self.evm.view(
            pool,
            "ticks(int24)",
            [tick],
            ["uint128", "int128", "uint256", "uint256", "int56", "uint160", "uint32", "bool"],
        )

    def position(self, pool: str, owner: str, tick_lower: int, tick_upper: int) -> tuple[Any, ...]:
        key = keccak(
            bytes.fromhex(owner[2:])
            + tick_lower.to_bytes(3, "big", signed=True)
            + tick_upper.to_bytes(3, "big", signed=True)
        )
        return self.evm.view(pool, "positions(bytes32)", [key], ["uint128", "uint256", "uint256", "uint128", "uint128"])

    def observe(self, pool: str, seconds_agos: list[int]) -> tuple[Any, ...]:
        return self.evm.view(pool, "observe(uint32[])", [seconds_agos], ["int56[]", "uint160[]"])

    def observation(self, pool: str, index: int) -> tuple[Any, ...]:
        return self.evm.view(pool, "observations(uint256)", [index], ["uint32", "int56", "uint160", "bool"])


class UniswapV2World:
    """Two sorted test tokens and a UniswapV2Factory; pairs are driven directly (transfer, then call)."""

    def __init__(self, evm: EVM | None = None) -> None:
        self.evm = evm or EVM()
        e = self.evm
        tokens = sorted((e.deploy("ERC20", ["uint256"], [2**200]) for _ in range(2)), key=lambda a: int(a, 16))
        self.token0, self.token1 = tokens
        self.factory = e.deploy("UniswapV2Factory", ["address"], [e.me])

    def create_pair(self) -> str:
        e = self.evm
        e.call(self.factory, "createPair(address,address)", [self.token0, self.token1])
        (pair,) = e.view(self.factory, "getPair(address,address)", [self.token0, self.token1], ["address"])
        return str(pair)

    def transfer(self, token: str, to: str, amount: int) -> None:
        if amount:
            self.evm.call(token, "transfer(address,uint256)", [to, amount])

    def reserves(self, pair: str) -> tuple[Any, ...]:
        return self.evm.view(pair, "getReserves()", [], ["uint112", "uint112", "uint32"])

    def uint(self, contract: str, signature: str, args: list[Any] | None = None) -> int:
        return int(self.evm.view(contract, signature, args or [], ["uint256"])[0])


def measure_swap_gas(ticks: tuple[int, ...] = (0, 2, 4, 6, 8, 10)) -> dict[str, list[tuple[int, int]]]:
    """Gas of real swaps on py-evm (eth-tester), which, unlike pyrevm, charges EIP-2929 cold
    access per transaction as mainnet does.

    Returns ``{"v3": [(initialized ticks crossed, gasUsed of SwapRouter.exactInputSingle)], "v2":
    [(0, gas of token transfer + pair.swap as one call sequence, one 21000 intrinsic)]}`` for
    v3-core 1.0.1 (fee 0.3%, spacing 60, one-spacing positions) and v2-core 1.0.1.
    """
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    from keel.venues.uniswap_v3 import Pool, get_sqrt_ratio_at_tick

    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    me = w3.eth.accounts[0]

    def deploy(name: str, *args: Any) -> Any:
        abi, code = artifact(name)
        tx = w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact({"from": me, "gas": 29_000_000})
        return w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(tx).contractAddress, abi=abi)

    def send(fn: Any) -> int:
        return int(w3.eth.wait_for_transaction_receipt(fn.transact({"from": me, "gas": 5_000_000})).gasUsed)

    tokens = sorted((deploy("ERC20", 2**200) for _ in range(2)), key=lambda c: int(c.address, 16))
    t0, t1 = tokens[0].address, tokens[1].address
    factory = deploy("UniswapV3Factory")
    npm = deploy("NonfungiblePositionManager", factory.address, t0, t1)
    router = deploy("SwapRouter", factory.address, t0)
    for token in tokens:
        for spender in (npm.address, router.address):
            send(token.functions.approve(spender, MAX_UINT256))
    fee, spacing, base = 3000, 60, 7680  # mid-word in the tick bitmap
    send(factory.functions.createPool(t0, t1, fee))
    pool_abi, _ = artifact("UniswapV3Pool")
    pool_contract = w3.eth.contract(address=factory.functions.getPool(t0, t1, fee).call(), abi=pool_abi)
    start = get_sqrt_ratio_at_tick(base + spacing // 2)
    send(pool_contract.functions.initialize(start))
    mirror = Pool(fee, spacing, start)
    ranges = [(base + k * spacing, base + (k + 1) * spacing, 10**21) for k in range(-12, 12)]
    ranges.append((base - 6000, base + 6000, 10**22))
    for lower, upper, amount in ranges:
        params = (t0, t1, fee, lower, upper, amount, amount, 0, 0, me, DEADLINE)
        _, liquidity, _, _ = npm.functions.mint(params).call({"from": me})
        send(npm.functions.mint(params))
        mirror.mint("npm", lower, upper, liquidity)
    v3: list[tuple[int, int]] = []
    for _ in range(2):  # the first round writes fee growth and oracle slots from zero: keep the second
        v3.clear()
        for zero_for_one, target in ((True, base + 5), (False, base + spacing // 2)):  # inside one range
            a0, a1 = mirror.amounts_to_price(get_sqrt_ratio_at_tick(target))
            amount = a0 if zero_for_one else a1
            result = mirror.swap_detailed(zero_for_one, amount)
            t_in, t_out = (t0, t1) if zero_for_one else (t1, t0)
            gas = send(router.functions.exactInputSingle((t_in, t_out, fee, me, DEADLINE, amount, 0, 0)))
            v3.append((result.ticks_crossed, gas))
        for k in ticks:
            for zero_for_one, target in ((True, base - k * spacing - spacing // 2), (False, base + spacing // 2)):
                a0, a1 = mirror.amounts_to_price(get_sqrt_ratio_at_tick(target))
                amount = a0 if zero_for_one else a1
                if amount <= 0:
                    continue
                result = mirror.swap_detailed(zero_for_one, amount)
                t_in, t_out = (t0, t1) if zero_for_one else (t1, t0)
                gas = send(router.functions.exactInputSingle((t_in, t_out, fee, me, DEADLINE, amount, 0, 0)))
                v3.append((result.ticks_crossed, gas))
    v2_factory = deploy("UniswapV2Factory", me)
    send(v2_factory.functions.createPair(t0, t1))
    pair_abi, _ = artifact("UniswapV2Pair")
    pair = w3.eth.contract(address=v2_factory.functions.getPair(t0, t1).call(), abi=pair_abi)
    send(tokens[0].functions.transfer(pair.address, 10**24))
    send(tokens[1].functions.transfer(pair.address, 10**24))
    send(pair.functions.mint(me))
    v2: list[tuple[int, int]] = []
    for i in range(4):
        token_in = tokens[i % 2]
        r0, r1, _ = pair.functions.getReserves().call()
        r_in, r_out = (r0, r1) if i % 2 == 0 else (r1, r0)
        amount = 10**21
        out = amount * 997 * r_out // (r_in * 1000 + amount * 997)
        gas = send(token_in.functions.transfer(pair.address, amount))
        gas += send(pair.functions.swap(0, out, me, b"") if i % 2 == 0 else pair.functions.swap(out, 0, me, b""))
        v2.append((0, gas - 21_000))
    return {"v3": v3, "v2": v2}
