"""Swaps through the real routers: Uniswap v3 ``SwapRouter.exactInputSingle`` and v2
``Router02.swapExactTokensForTokens``, always with a minimum output and a deadline.

Before signing: the input token balance and the router's allowance are checked
(:class:`~keel.chain.errors.InsufficientFundsError` names token, account and amounts), and
the gas estimate at the pending block must not revert.  The filled amounts are read from
the receipt's ERC20 ``Transfer`` logs, so they are exact base units.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak

from keel.chain.bindings import call_request, erc20_allowance, require_allowance, require_token_balance
from keel.chain.client import ChainClient, checksum
from keel.chain.transactions import TransactionManager, TxReceipt
from keel.errors import ValidationError

__all__ = ["SwapExecutor", "SwapFill", "transfers_in_receipt"]

_TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_MAX_UINT256 = (1 << 256) - 1


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
    ) -> SwapFill:
        """Swap exactly ``amount_in`` of ``token_in``; reverts on chain below ``min_amount_out``."""
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
        receipt = await self.tm.send(intent, request)
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
