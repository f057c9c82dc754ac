"""Uniswap v4 on a live chain: deploy the singleton, read pools exactly, swap through it.

* :func:`deploy_v4` deploys v4-core 1.0.2's ``PoolManager`` (npm ``out/`` artifact, no compiler)
  and Keel's minimal unlock-callback router (:file:`contracts/KeelV4Router.vy`, Vyper, EVM
  ``cancun`` -- the PoolManager needs transient storage), initializes a pool and adds liquidity
  through the router (full range and a concentrated range, so swaps cross initialized ticks).
* :func:`read_v4_pool` reads one pool as ``StateLibrary`` does -- ``extsload`` of the pool's
  slots at one block (:mod:`keel.venues.uniswap_v4.state_slots`): slot0, fee growth, liquidity,
  every bitmap word in the spacing's range in one ``extsload(bytes32[])`` call, then each
  initialized tick -- into a :class:`keel.venues.uniswap_v4.PoolManager`; :func:`to_v4_venue`
  wraps it as a router venue (:class:`keel.venues.uniswap_v4.V4Pool`).
* :class:`V4SwapExecutor` sends exact-input swaps along one or more v4 pools in one transaction
  (one ``unlock``: the intermediate currency never leaves the PoolManager), always with a min-out
  and a deadline, and exact-output swaps on one pool with a max-in; fills come from the
  PoolManager's ``Swap`` events.
* :func:`execute_route` runs a :class:`keel.execution.RoutePlan` leg by leg across v2/v3 venues
  (through :class:`keel.chain.swaps.SwapExecutor`) and v4 venues (through this executor).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from keel.chain.artifacts import Artifact, compile_vyper, contracts_dir, node_modules_dir
from keel.chain.client import ChainClient, checksum
from keel.chain.swaps import SwapExecutor, SwapFill
from keel.chain.transactions import TransactionManager, TxReceipt, TxRequest
from keel.domain import Token
from keel.errors import ChainError, ValidationError
from keel.venues.uniswap_v3.tick_math import MAX_TICK, MIN_TICK
from keel.venues.uniswap_v4 import PoolKey, PoolManager, V4Pool
from keel.venues.uniswap_v4 import state_slots as slots

__all__ = [
    "V4Deployment",
    "V4Ref",
    "V4SwapExecutor",
    "deploy_v4",
    "execute_route",
    "modify_liquidity",
    "read_v4_pool",
    "to_v4_venue",
    "v4_artifact",
]

KEY_TYPE = "(address,address,uint24,int24,address)"
HOP_TYPE = f"({KEY_TYPE},bool)"
_SWAP_TOPIC = keccak(text="Swap(bytes32,address,int128,int128,uint160,uint128,int24,uint24)")
_MAX_UINT256 = (1 << 256) - 1


@cache
def v4_artifact(name: str) -> Artifact:
    """``PoolManager`` / ``PoolModifyLiquidityTest`` / ``PoolSwapTest`` (npm v4-core ``out/``) or
    ``KeelV4Router`` (compiled from contracts/)."""
    if name == "KeelV4Router":
        return compile_vyper(contracts_dir() / "KeelV4Router.vy")
    if name not in ("PoolManager", "PoolSwapTest", "PoolModifyLiquidityTest"):
        raise ValidationError("artifact", name, "unknown v4 artifact")
    path = node_modules_dir() / "@uniswap" / "v4-core" / "out" / f"{name}.sol" / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ChainError(f"{path}: cannot read ({exc.strerror}); run npm ci") from None
    return Artifact(name=name, abi=tuple(data["abi"]), bytecode=data["bytecode"]["object"], source=str(path))


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _deploy_request(name: str, types: list[str], args: list[Any]) -> TxRequest:
    code = bytes.fromhex(v4_artifact(name).bytecode.removeprefix("0x"))
    return TxRequest(to=None, data=code + abi_encode(types, args))


def _signed128(x: int) -> int:
    x &= (1 << 128) - 1
    return x - (1 << 128) if x >= 1 << 127 else x


@dataclass(frozen=True, slots=True)
class V4Deployment:
    """A deployed v4 singleton: ``manager`` (PoolManager), ``router`` (KeelV4Router), ``key`` of the
    pool it created (and the router-owned ``positions`` as ``(tick_lower, tick_upper, liquidity)``)."""

    manager: str
    router: str
    key: PoolKey
    positions: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class V4Ref:
    """Where a plan's v4 venue lives on chain: the pool ``key`` inside the PoolManager."""

    key: PoolKey
    kind: str = "uniswap_v4"


async def _call(client: ChainClient, to: str, data: bytes, block: int | str = "latest") -> bytes:
    blk = hex(block) if isinstance(block, int) else block
    out = await client.rpc("eth_call", [{"to": checksum("to", to), "data": "0x" + data.hex()}, blk])
    return bytes.fromhex(str(out).removeprefix("0x"))


async def _approve(tm: TransactionManager, intent: str, token: str, spender: str) -> None:
    data = _selector("approve(address,uint256)") + abi_encode(["address", "uint256"], [spender, _MAX_UINT256])
    await tm.send(intent, TxRequest(to=token, data=data))


async def modify_liquidity(
    tm: TransactionManager,
    intent: str,
    deployment: V4Deployment,
    key: PoolKey,
    lower: int,
    upper: int,
    delta: int,
    *,
    eth_value: int = 0,
) -> TxReceipt:
    """Add (``delta > 0``) or remove liquidity through the router (owned by the router, salted by ``tm``'s address).

    Native-ETH pools: ``eth_value`` wei is sent along (the router returns what the PoolManager does not
    take); it must cover the ETH side of the position."""
    sig = f"modifyLiquidity({KEY_TYPE},int24,int24,int256)"
    data = _selector(sig) + abi_encode([KEY_TYPE, "int24", "int24", "int256"], [key.as_tuple(), lower, upper, delta])
    value = eth_value if int(key.currency0, 16) == 0 else 0
    return await tm.send(intent, TxRequest(to=deployment.router, data=data, value=value))


async def deploy_v4(
    client: ChainClient,
    tm: TransactionManager,
    *,
    token0: str,
    token1: str,
    sqrt_price_x96: int,
    fee: int = 500,
    tick_spacing: int = 10,
    liquidity: int = 10**18,
    full_range_liquidity: int | None = None,
    tag: str = "v4",
) -> V4Deployment:
    """Deploy PoolManager + KeelV4Router and a ``token0/token1`` pool (no hooks) at ``sqrt_price_x96``
    with ``liquidity`` within about +-1% of the price and ``full_range_liquidity`` (default
    ``liquidity // 50``) over the whole range; ``tm``'s account pays the tokens (it approves the
    router here).  Both currencies must be ERC-20s here (WETH for ETH); a native-ETH pool is added with
    :func:`modify_liquidity` and ``eth_value``."""
    me = tm.address
    receipt = await tm.send(f"deploy:{tag}:manager", _deploy_request("PoolManager", ["address"], [me]))
    manager = checksum("manager", receipt.contract_address or "")
    receipt = await tm.send(f"deploy:{tag}:router", _deploy_request("KeelV4Router", ["address"], [manager]))
    router = checksum("router", receipt.contract_address or "")
    key = PoolKey(checksum("token0", token0), checksum("token1", token1), fee, tick_spacing)
    init = _selector(f"initialize({KEY_TYPE},uint160)") + abi_encode(
        [KEY_TYPE, "uint160"], [key.as_tuple(), sqrt_price_x96]
    )
    await tm.send(f"{tag}:initialize", TxRequest(to=manager, data=init))
    for token in (key.currency0, key.currency1):
        if int(token, 16):
            await _approve(tm, f"{tag}:approve:{token}", token, router)
    deployment = V4Deployment(manager, router, key)
    center = (await read_v4_pool(client, manager, key)).get_slot0(key)[1]
    full = ((MIN_TICK // tick_spacing) + 1) * tick_spacing, (MAX_TICK // tick_spacing) * tick_spacing
    near = ((center - 100) // tick_spacing) * tick_spacing, ((center + 100) // tick_spacing) * tick_spacing
    positions = []
    wide = liquidity // 50 if full_range_liquidity is None else full_range_liquidity
    for i, (lo, hi, amount) in enumerate(((*full, wide), (*near, liquidity))):
        if amount > 0:
            await modify_liquidity(tm, f"{tag}:liquidity:{i}", deployment, key, lo, hi, amount)
            positions.append((lo, hi, amount))
    return V4Deployment(manager, router, key, tuple(positions))


async def _extsload(client: ChainClient, manager: str, slot_ids: Sequence[int], block: int | str) -> list[int]:
    data = _selector("extsload(bytes32[])") + abi_encode(["bytes32[]"], [[s.to_bytes(32, "big") for s in slot_ids]])
    out = await _call(client, manager, data, block)
    return [int.from_bytes(w, "big") for w in abi_decode(["bytes32[]"], out)[0]]


async def read_v4_pool(
    client: ChainClient, manager: str, key: PoolKey, *, block: int | str = "latest", into: PoolManager | None = None
) -> PoolManager:
    """The pool at ``key`` read through ``extsload`` at one block, held exactly by a keel PoolManager
    (``into`` or a new one).  Raises :class:`ValidationError` naming ``key`` if it is not initialized."""
    if block == "latest":
        block = await client.block_number()
    base = slots.pool_state_slot(key.to_id())
    word0, g0, g1, liquidity = await _extsload(client, manager, [base, base + 1, base + 2, base + 3], block)
    sqrt_price, tick, protocol_fee, lp_fee = slots.decode_slot0(word0)
    if sqrt_price == 0:
        raise ValidationError("key", key, f"no initialized v4 pool in PoolManager {manager}")
    spacing = key.tick_spacing
    lo_word, hi_word = (MIN_TICK // spacing) >> 8, (MAX_TICK // spacing) >> 8
    words = list(range(lo_word, hi_word + 1))
    bitmap = await _extsload(client, manager, [slots.tick_bitmap_slot(base, w) for w in words], block)
    initialized = []
    for w, bits in zip(words, bitmap, strict=True):
        while bits:
            low = bits & -bits
            initialized.append(((w << 8) + low.bit_length() - 1) * spacing)
            bits ^= low
    tick_slots = []
    for t in initialized:
        s = slots.tick_slot(base, t)
        tick_slots += [s, s + 1, s + 2]
    values = await _extsload(client, manager, tick_slots, block) if tick_slots else []
    ticks = {}
    for i, t in enumerate(initialized):
        gross, net = slots.decode_tick_word(values[3 * i])
        ticks[t] = (gross, net, values[3 * i + 1], values[3 * i + 2])
    pm = into if into is not None else PoolManager()
    pm.load_pool(
        key,
        sqrt_price_x96=sqrt_price,
        tick=tick,
        protocol_fee=protocol_fee,
        lp_fee=lp_fee,
        liquidity=liquidity,
        fee_growth_global0_x128=g0,
        fee_growth_global1_x128=g1,
        ticks=ticks,
    )
    return pm


def to_v4_venue(
    pm: PoolManager, key: PoolKey, token0: Token, token1: Token, *, manager: str, updated_ns: int = 0
) -> V4Pool:
    """The pool as a router venue named ``uniswap_v4:MANAGER:POOLID8`` (its singleton is the manager address)."""
    return V4Pool(
        pm,
        key,
        token0=token0,
        token1=token1,
        name=f"uniswap_v4:{checksum('manager', manager)}:{key.to_id().hex()[:8]}",
        updated_ns=updated_ns,
        singleton=checksum("manager", manager),
    )


class _LegLike(Protocol):
    @property
    def venues(self) -> Sequence[str]: ...
    @property
    def tokens(self) -> Sequence[Token]: ...
    @property
    def amount_in(self) -> int: ...
    @property
    def amount_out(self) -> int: ...
    @property
    def exact_out(self) -> bool: ...


class _PlanLike(Protocol):
    @property
    def legs(self) -> Sequence[_LegLike]: ...


class V4SwapExecutor:
    """Exact-input swaps through :file:`contracts/KeelV4Router.vy` for ``tm``'s account."""

    def __init__(self, client: ChainClient, tm: TransactionManager, *, manager: str, router: str) -> None:
        self.client, self.tm = client, tm
        self.manager = checksum("manager", manager)
        self.router = checksum("router", router)

    def __repr__(self) -> str:
        return f"V4SwapExecutor(account={self.tm.address}, manager={self.manager}, router={self.router})"

    async def approve(self, intent: str, token: str) -> None:
        """Let the router pull ``token`` from the account (once)."""
        await _approve(self.tm, intent, checksum("token", token), self.router)

    async def swap_exact_in(
        self,
        intent: str,
        hops: Sequence[tuple[PoolKey, bool]],
        *,
        amount_in: int,
        min_amount_out: int,
        deadline_s: int = 300,
        recipient: str | None = None,
    ) -> SwapFill:
        """Swap exactly ``amount_in`` along ``hops`` (``(key, zero_for_one)`` each, chained) in one
        ``unlock``; reverts on chain below ``min_amount_out`` or after the deadline."""
        if isinstance(amount_in, bool) or not isinstance(amount_in, int) or amount_in <= 0:
            raise ValidationError("amount_in", amount_in, "must be a positive int in base units")
        if isinstance(min_amount_out, bool) or not isinstance(min_amount_out, int) or min_amount_out < 0:
            raise ValidationError("min_amount_out", min_amount_out, "must be a non-negative int in base units")
        if not 1 <= len(hops) <= 3:
            raise ValidationError("hops", len(hops), "must be 1 to 3 pools")
        to = checksum("recipient", recipient or self.tm.address)
        head = await self.client.get_block("latest")
        deadline = int(head["timestamp"]) + deadline_s
        sig = f"swapExactInput({HOP_TYPE}[],uint256,uint256,address,uint256)"
        data = _selector(sig) + abi_encode(
            [f"{HOP_TYPE}[]", "uint256", "uint256", "address", "uint256"],
            [[(k.as_tuple(), z) for k, z in hops], amount_in, min_amount_out, to, deadline],
        )
        first_key, first_dir = hops[0]
        last_key, last_dir = hops[-1]
        token_in = first_key.currency0 if first_dir else first_key.currency1
        token_out = last_key.currency1 if last_dir else last_key.currency0
        value = amount_in if int(token_in, 16) == 0 else 0
        receipt = await self.tm.send(intent, TxRequest(to=self.router, data=data, value=value), deadline_s=deadline)
        swaps = self.swap_events(receipt)
        if len(swaps) != len(hops):
            raise ChainError(f"{intent}: {len(swaps)} Swap events for {len(hops)} hops in {receipt.tx_hash}")
        a0, a1 = swaps[0]
        paid = -a0 if first_dir else -a1
        b0, b1 = swaps[-1]
        received = b1 if last_dir else b0
        return SwapFill(
            intent=intent,
            venue="uniswap_v4",
            token_in=token_in,
            token_out=token_out,
            amount_in=paid,
            amount_out=received,
            tx_hash=receipt.tx_hash,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
            fee_wei=receipt.fee_wei,
        )

    async def swap_exact_out(
        self,
        intent: str,
        key: PoolKey,
        zero_for_one: bool,
        *,
        amount_out: int,
        max_amount_in: int,
        deadline_s: int = 300,
        recipient: str | None = None,
    ) -> SwapFill:
        """Receive exactly ``amount_out`` from one pool; reverts on chain if the output is not delivered in
        full (liquidity runs out) or the input exceeds ``max_amount_in``, or after the deadline."""
        if isinstance(amount_out, bool) or not isinstance(amount_out, int) or amount_out <= 0:
            raise ValidationError("amount_out", amount_out, "must be a positive int in base units")
        if isinstance(max_amount_in, bool) or not isinstance(max_amount_in, int) or max_amount_in <= 0:
            raise ValidationError("max_amount_in", max_amount_in, "must be a positive int in base units")
        to = checksum("recipient", recipient or self.tm.address)
        head = await self.client.get_block("latest")
        deadline = int(head["timestamp"]) + deadline_s
        sig = f"swapExactOutputSingle({HOP_TYPE},uint256,uint256,address,uint256)"
        data = _selector(sig) + abi_encode(
            [HOP_TYPE, "uint256", "uint256", "address", "uint256"],
            [(key.as_tuple(), zero_for_one), amount_out, max_amount_in, to, deadline],
        )
        token_in = key.currency0 if zero_for_one else key.currency1
        token_out = key.currency1 if zero_for_one else key.currency0
        value = max_amount_in if int(token_in, 16) == 0 else 0
        receipt = await self.tm.send(intent, TxRequest(to=self.router, data=data, value=value), deadline_s=deadline)
        (swap,) = self.swap_events(receipt)
        paid, received = (-swap[0], swap[1]) if zero_for_one else (-swap[1], swap[0])
        return SwapFill(
            intent=intent,
            venue="uniswap_v4",
            token_in=token_in,
            token_out=token_out,
            amount_in=paid,
            amount_out=received,
            tx_hash=receipt.tx_hash,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
            fee_wei=receipt.fee_wei,
        )

    def swap_events(self, receipt: TxReceipt) -> list[tuple[int, int]]:
        """The PoolManager's ``Swap`` events of ``receipt`` as the caller's ``(amount0, amount1)``, in order."""
        out = []
        for log in receipt.logs:
            topics = [bytes(t) for t in log["topics"]]
            if checksum("log.address", log["address"]) != self.manager or not topics or topics[0] != _SWAP_TOPIC:
                continue
            data = bytes(log["data"])
            out.append((_signed128(int.from_bytes(data[0:32], "big")), _signed128(int.from_bytes(data[32:64], "big"))))
        return out


async def execute_route(
    intent: str,
    plan: _PlanLike,
    venues: Mapping[str, Any],
    *,
    swaps: SwapExecutor | None,
    v4: V4SwapExecutor | None,
    slippage_bps: int = 0,
    deadline_s: int = 300,
) -> list[SwapFill]:
    """Execute a router plan's legs in order across v2/v3 and v4 venues (exact-input and exact-output plans).

    ``venues`` maps each venue name in the plan to a :class:`keel.chain.swaps.VenueRef` (v2/v3,
    executed by ``swaps``) or a :class:`V4Ref` (executed by ``v4``; consecutive v4 hops of one
    leg go in one transaction, one ``unlock``).  Each hop passes on what the previous one
    actually delivered; the last hop of a leg requires ``leg.amount_out`` less ``slippage_bps``.
    Exact-output legs (one venue each) pay at most ``leg.amount_in`` plus ``slippage_bps``.  Intent ids are
    ``{intent}:{leg}:{hop}``.
    """
    if not 0 <= slippage_bps < 10_000:
        raise ValidationError("slippage_bps", slippage_bps, "must be in [0, 10000)")
    fills: list[SwapFill] = []
    for i, leg in enumerate(plan.legs):
        refs = []
        for name in leg.venues:
            if name not in venues:
                raise ValidationError(f"legs[{i}].venues", name, "has no on-chain venue given")
            refs.append(venues[name])
        tokens = [checksum(f"legs[{i}].tokens", t.address or "0x" + "00" * 20) for t in leg.tokens]
        if leg.exact_out:
            if len(refs) != 1:
                raise ValidationError(f"legs[{i}].venues", leg.venues, "an exact-output leg has one venue")
            max_in = leg.amount_in + leg.amount_in * slippage_bps // 10_000
            ref = refs[0]
            if isinstance(ref, V4Ref):
                if v4 is None:
                    raise ValidationError("v4", None, f"legs[{i}] uses a v4 venue: pass a V4SwapExecutor")
                zfo = int(tokens[0], 16) == int(ref.key.currency0, 16)
                fills.append(
                    await v4.swap_exact_out(
                        f"{intent}:{i}:0", ref.key, zfo, amount_out=leg.amount_out, max_amount_in=max_in,
                        deadline_s=deadline_s,
                    )
                )  # fmt: skip
            else:
                if swaps is None:
                    raise ValidationError("swaps", None, f"legs[{i}] uses a {ref.kind} venue: pass a SwapExecutor")
                fills.append(
                    await swaps.swap_exact_out(
                        f"{intent}:{i}:0", kind=ref.kind, token_in=tokens[0], token_out=tokens[1],
                        amount_out=leg.amount_out, max_amount_in=max_in, fee=ref.fee, deadline_s=deadline_s,
                    )
                )  # fmt: skip
            continue
        amount = leg.amount_in
        hop = 0
        while hop < len(refs):
            group = [hop]
            if isinstance(refs[hop], V4Ref):
                while group[-1] + 1 < len(refs) and isinstance(refs[group[-1] + 1], V4Ref):
                    group.append(group[-1] + 1)
            last = group[-1] == len(refs) - 1
            min_out = leg.amount_out - leg.amount_out * slippage_bps // 10_000 if last else 0
            ref = refs[hop]
            if isinstance(ref, V4Ref):
                if v4 is None:
                    raise ValidationError("v4", None, f"legs[{i}] uses a v4 venue: pass a V4SwapExecutor")
                path = []
                for h in group:
                    k: PoolKey = refs[h].key
                    path.append((k, int(tokens[h], 16) == int(k.currency0, 16)))
                fill = await v4.swap_exact_in(
                    f"{intent}:{i}:{hop}", path, amount_in=amount, min_amount_out=min_out, deadline_s=deadline_s
                )
            else:
                if swaps is None:
                    raise ValidationError("swaps", None, f"legs[{i}] uses a {ref.kind} venue: pass a SwapExecutor")
                fill = await swaps.swap_exact_in(
                    f"{intent}:{i}:{hop}", kind=ref.kind, token_in=tokens[hop], token_out=tokens[hop + 1],
                    amount_in=amount, min_amount_out=min_out, fee=ref.fee, deadline_s=deadline_s,
                )  # fmt: skip
            fills.append(fill)
            amount = fill.amount_out
            hop = group[-1] + 1
    return fills
