"""Swaps through the real routers: Uniswap v3 ``SwapRouter.exactInputSingle`` and v2
``Router02.swapExactTokensForTokens``, always with a minimum output and a deadline.

Before signing: the input token balance and the router's allowance are checked
(:class:`~keel.chain.errors.InsufficientFundsError` names token, account and amounts), and
the gas estimate at the pending block must not revert.  The filled amounts are read from
the receipt's ERC20 ``Transfer`` logs, so they are exact base units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils.crypto import keccak

from keel.chain.bindings import call_request, erc20_allowance, require_allowance, require_token_balance
from keel.chain.client import ChainClient, checksum
from keel.chain.transactions import TransactionManager, TxReceipt
from keel.errors import ValidationError

__all__ = ["PlanLeg", "RoutePlanLike", "SwapExecutor", "SwapFill", "VenueRef", "transfers_in_receipt"]

_TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_MAX_UINT256 = (1 << 256) - 1


class _TokenLike(Protocol):
    @property
    def address(self) -> str | None: ...


class PlanLeg(Protocol):
    """One leg of a route plan (``keel.execution.RouteLeg`` has this shape)."""

    @property
    def venues(self) -> tuple[str, ...]: ...
    @property
    def tokens(self) -> Sequence[_TokenLike]: ...
    @property
    def amount_in(self) -> int: ...
    @property
    def amount_out(self) -> int: ...
    @property
    def exact_out(self) -> bool: ...


class RoutePlanLike(Protocol):
    """A route plan (``keel.execution.RoutePlan`` has this shape): legs executed in order."""

    @property
    def legs(self) -> Sequence[PlanLeg]: ...


@dataclass(frozen=True, slots=True)
class VenueRef:
    """Where a venue named in a plan lives on chain: ``kind`` ('uniswap_v3'/'uniswap_v2') and ``fee`` (pips)."""

    kind: str
    fee: int = 3000


@dataclass(frozen=True, slots=True)
class SwapFill:
    """An executed swap: exact ``amount_in``/``amount_out`` base units, from the receipt's Transfer logs."""

    intent: str
    venue: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    tx_hash: str
    block_number: int
    gas_used: int
    fee_wei: int


def transfers_in_receipt(receipt: TxReceipt, token: str, *, to: str | None = None, sender: str | None = None) -> int:
    """Sum of ``token`` Transfer values in ``receipt`` to ``to`` and/or from ``sender``."""
    token = checksum("token", token)
    total = 0
    for log in receipt.logs:
        topics = ["0x" + bytes(t).hex() for t in log["topics"]]
        if checksum("log.address", log["address"]) != token or not topics or topics[0] != _TRANSFER or len(topics) < 3:
            continue
        src = checksum("from", "0x" + topics[1][-40:])
        dst = checksum("to", "0x" + topics[2][-40:])
        if (to is None or dst == checksum("to", to)) and (sender is None or src == checksum("sender", sender)):
            total += int.from_bytes(bytes(log["data"]), "big")
    return total


class SwapExecutor:
    """Executes exact-input swaps for ``tm``'s account through the v3 and v2 routers."""

    def __init__(self, client: ChainClient, tm: TransactionManager, *, v3_router: str, v2_router: str) -> None:
        self.client = client
        self.tm = tm
        self.v3_router = checksum("v3_router", v3_router)
        self.v2_router = checksum("v2_router", v2_router)

    def __repr__(self) -> str:
        return f"SwapExecutor(account={self.tm.address}, v3_router={self.v3_router}, v2_router={self.v2_router})"

    def router_for(self, kind: str) -> str:
        if kind == "uniswap_v3":
            return self.v3_router
        if kind == "uniswap_v2":
            return self.v2_router
        raise ValidationError("kind", kind, "must be 'uniswap_v2' or 'uniswap_v3'")

    async def approve(self, intent: str, token: str, kind: str, amount: int = _MAX_UINT256) -> TxReceipt | None:
        """Let the router for ``kind`` spend ``amount`` of ``token`` (no transaction if already allowed)."""
        router = self.router_for(kind)
        if await erc20_allowance(self.client, token, self.tm.address, router) >= amount:
            return None
        c = self.client.contract("ERC20", token)
        return await self.tm.send(intent, call_request(c, "approve", router, amount))

    async def deadline(self, seconds: int) -> int:
        if seconds <= 0:
            raise ValidationError("deadline_s", seconds, "must be positive")
        head = await self.client.get_block("latest")
        return int(head["timestamp"]) + seconds

    async def swap_exact_in(
        self,
        intent: str,
        *,
        kind: str,
        token_in: str,
        token_out: str,
        amount_in: int,
        min_amount_out: int,
        fee: int = 3000,
        deadline_s: int = 300,
        recipient: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> SwapFill:
        """Swap exactly ``amount_in`` of ``token_in``; reverts on chain below ``min_amount_out``.

        ``deadline_s`` seconds after the head block's time (the router's deadline; journaled, so the
        transaction is never re-sent after it); ``meta`` is journaled with the transaction.
        """
        if isinstance(amount_in, bool) or not isinstance(amount_in, int) or amount_in <= 0:
            raise ValidationError("amount_in", amount_in, "must be a positive int in base units")
        if isinstance(min_amount_out, bool) or not isinstance(min_amount_out, int) or min_amount_out < 0:
            raise ValidationError("min_amount_out", min_amount_out, "must be a non-negative int in base units")
        token_in, token_out = checksum("token_in", token_in), checksum("token_out", token_out)
        if token_in == token_out:
            raise ValidationError("token_out", token_out, "must differ from token_in")
        to = checksum("recipient", recipient or self.tm.address)
        router = self.router_for(kind)
        known = self.tm.journal.intents.get(intent)
        if known is None or known.status == "released":
            await require_token_balance(self.client, token_in, self.tm.address, amount_in)
            await require_allowance(self.client, token_in, self.tm.address, router, amount_in)
        deadline = await self.deadline(deadline_s)
        if kind == "uniswap_v3":
            c = self.client.contract("SwapRouter", router)
            params = (token_in, token_out, fee, to, deadline, amount_in, min_amount_out, 0)
            request = call_request(c, "exactInputSingle", params)
        else:
            c = self.client.contract("UniswapV2Router02", router)
            request = call_request(
                c, "swapExactTokensForTokens", amount_in, min_amount_out, [token_in, token_out], to, deadline
            )
        receipt = await self.tm.send(intent, request, deadline_s=deadline, meta=meta)
        return SwapFill(
            intent=intent,
            venue=kind,
            token_in=token_in,
            token_out=token_out,
            amount_in=transfers_in_receipt(receipt, token_in, sender=self.tm.address),
            amount_out=transfers_in_receipt(receipt, token_out, to=to),
            tx_hash=receipt.tx_hash,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
            fee_wei=receipt.fee_wei,
        )

    async def swap_exact_out(
        self,
        intent: str,
        *,
        kind: str,
        token_in: str,
        token_out: str,
        amount_out: int,
        max_amount_in: int,
        fee: int = 3000,
        deadline_s: int = 300,
        recipient: str | None = None,
    ) -> SwapFill:
        """Receive exactly ``amount_out`` of ``token_out``; reverts on chain above ``max_amount_in``."""
        if isinstance(amount_out, bool) or not isinstance(amount_out, int) or amount_out <= 0:
            raise ValidationError("amount_out", amount_out, "must be a positive int in base units")
        if isinstance(max_amount_in, bool) or not isinstance(max_amount_in, int) or max_amount_in <= 0:
            raise ValidationError("max_amount_in", max_amount_in, "must be a positive int in base units")
        token_in, token_out = checksum("token_in", token_in), checksum("token_out", token_out)
        to = checksum("recipient", recipient or self.tm.address)
        router = self.router_for(kind)
        known = self.tm.journal.intents.get(intent)
        if known is None or known.status == "released":
            await require_token_balance(self.client, token_in, self.tm.address, max_amount_in)
            await require_allowance(self.client, token_in, self.tm.address, router, max_amount_in)
        deadline = await self.deadline(deadline_s)
        if kind == "uniswap_v3":
            c = self.client.contract("SwapRouter", router)
            params = (token_in, token_out, fee, to, deadline, amount_out, max_amount_in, 0)
            request = call_request(c, "exactOutputSingle", params)
        else:
            c = self.client.contract("UniswapV2Router02", router)
            path = [token_in, token_out]
            request = call_request(c, "swapTokensForExactTokens", amount_out, max_amount_in, path, to, deadline)
        receipt = await self.tm.send(intent, request, deadline_s=deadline)
        return SwapFill(
            intent=intent,
            venue=kind,
            token_in=token_in,
            token_out=token_out,
            amount_in=transfers_in_receipt(receipt, token_in, sender=self.tm.address),
            amount_out=transfers_in_receipt(receipt, token_out, to=to),
            tx_hash=receipt.tx_hash,
            block_number=receipt.block_number,
            gas_used=receipt.gas_used,
            fee_wei=receipt.fee_wei,
        )

    async def execute_plan(
        self,
        intent: str,
        plan: RoutePlanLike,
        venues: Mapping[str, VenueRef],
        *,
        slippage_bps: int = 0,
        deadline_s: int = 300,
    ) -> list[SwapFill]:
        """Execute a router plan's legs in order, one transaction per hop, each with a min-out and a deadline.

        Exact-input hops pass on what the previous hop actually delivered; the last hop of a leg
        requires ``leg.amount_out`` less ``slippage_bps``.  Exact-output legs (one venue) pay at
        most ``leg.amount_in`` plus ``slippage_bps``.  Intent ids are ``{intent}:{leg}:{hop}``, so a
        restarted process resumes the plan without repeating a hop.
        """
        if not 0 <= slippage_bps < 10_000:
            raise ValidationError("slippage_bps", slippage_bps, "must be in [0, 10000)")
        fills: list[SwapFill] = []
        for i, leg in enumerate(plan.legs):
            tokens = [checksum(f"legs[{i}].tokens", t.address) for t in leg.tokens]
            refs = []
            for name in leg.venues:
                if name not in venues:
                    raise ValidationError(f"legs[{i}].venues", name, "has no on-chain venue given")
                refs.append(venues[name])
            if leg.exact_out:
                if len(refs) != 1:
                    raise ValidationError(f"legs[{i}].venues", leg.venues, "an exact-output leg has one venue")
                max_in = leg.amount_in + leg.amount_in * slippage_bps // 10_000
                fills.append(
                    await self.swap_exact_out(
                        f"{intent}:{i}:0", kind=refs[0].kind, token_in=tokens[0], token_out=tokens[1],
                        amount_out=leg.amount_out, max_amount_in=max_in, fee=refs[0].fee, deadline_s=deadline_s,
                    )
                )  # fmt: skip
                continue
            amount = leg.amount_in
            for hop, ref in enumerate(refs):
                last = hop == len(refs) - 1
                min_out = leg.amount_out - leg.amount_out * slippage_bps // 10_000 if last else 0
                fill = await self.swap_exact_in(
                    f"{intent}:{i}:{hop}", kind=ref.kind, token_in=tokens[hop], token_out=tokens[hop + 1],
                    amount_in=amount, min_amount_out=min_out, fee=ref.fee, deadline_s=deadline_s,
                )  # fmt: skip
                fills.append(fill)
                amount = fill.amount_out
        return fills
