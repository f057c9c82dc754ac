"""The collateral vault (:file:`contracts/CollateralVault.vy`): deposits, withdrawals, option settlement.

The margin engine reads collateral *before quoting* through :func:`read_vault_collateral`
(async) or :func:`read_vault_collateral_sync` (blocking, opens its own connection): both
return :class:`VaultBalance` per account in collateral base units, read at one block.
:class:`VaultClient` sends the vault's transactions through a
:class:`~keel.chain.transactions.TransactionManager`, with balance/allowance checks before signing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from keel.chain.bindings import call_request, require_allowance, require_token_balance
from keel.chain.client import ChainClient, RetryPolicy, checksum
from keel.chain.errors import InsufficientFundsError, PreflightError
from keel.chain.transactions import TransactionManager, TxReceipt
from keel.errors import ValidationError

__all__ = ["VaultBalance", "VaultClient", "read_vault_collateral", "read_vault_collateral_sync"]


@dataclass(frozen=True, slots=True)
class VaultBalance:
    """An account's collateral in the vault (base units): ``free`` (withdrawable) and ``locked`` (option margin)."""

    account: str
    free: int
    locked: int
    block_number: int

    @property
    def total(self) -> int:
        return self.free + self.locked


async def read_vault_collateral(
    client: ChainClient, vault: str, accounts: list[str] | tuple[str, ...], block: int | None = None
) -> dict[str, VaultBalance]:
    """Collateral of each account (checksummed keys), all read at the same ``block`` (head if None)."""
    c = client.contract("CollateralVault", vault)
    n = await client.block_number() if block is None else block
    out: dict[str, VaultBalance] = {}
    for raw in accounts:
        a = checksum("account", raw)
        free, locked = await asyncio.gather(
            client.call("free_balance", c.functions.free_balance(a), n),
            client.call("locked_balance", c.functions.locked_balance(a), n),
        )
        out[a] = VaultBalance(account=a, free=int(free), locked=int(locked), block_number=n)
    return out


def read_vault_collateral_sync(
    rpc_url: str, vault: str, accounts: list[str] | tuple[str, ...], *, expected_chain_id: int | None = None
) -> dict[str, VaultBalance]:
    """Blocking :func:`read_vault_collateral` over its own connection to ``rpc_url`` (for keel.risk callers)."""

    async def run() -> dict[str, VaultBalance]:
        client = await ChainClient.connect(rpc_url, expected_chain_id=expected_chain_id, retry=RetryPolicy(attempts=3))
        try:
            return await read_vault_collateral(client, vault, accounts)
        finally:
            await client.close()

    return asyncio.run(run())


class VaultClient:
    """The vault's transactions for ``tm``'s account (amounts in collateral base units)."""

    def __init__(self, client: ChainClient, tm: TransactionManager, vault: str) -> None:
        self.client = client
        self.tm = tm
        self.vault = checksum("vault", vault)
        self.contract = client.contract("CollateralVault", self.vault)

    def __repr__(self) -> str:
        return f"VaultClient(vault={self.vault}, account={self.tm.address})"

    async def collateral_token(self) -> str:
        return checksum("collateral", await self.client.call("collateral", self.contract.functions.collateral()))

    async def balance(self, account: str | None = None) -> VaultBalance:
        a = checksum("account", account or self.tm.address)
        return (await read_vault_collateral(self.client, self.vault, [a]))[a]

    @staticmethod
    def _positive(field: str, amount: int) -> int:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValidationError(field, amount, "must be a positive int in base units")
        return amount

    async def deposit(self, intent: str, amount: int) -> TxReceipt:
        """Move ``amount`` of the collateral token into the vault (approve the vault first)."""
        self._positive("amount", amount)
        token = await self.collateral_token()
        await require_token_balance(self.client, token, self.tm.address, amount)
        await require_allowance(self.client, token, self.tm.address, self.vault, amount)
        return await self.tm.send(intent, call_request(self.contract, "deposit", amount))

    async def withdraw(self, intent: str, amount: int) -> TxReceipt:
        """Withdraw free collateral."""
        self._positive("amount", amount)
        have = await self.balance()
        if have.free < amount:
            raise InsufficientFundsError(f"vault={self.vault}: free collateral {have.free} < {amount} requested")
        return await self.tm.send(intent, call_request(self.contract, "withdraw", amount))

    async def open_option(
        self,
        intent: str,
        *,
        writer: str,
        holder: str,
        is_call: bool,
        strike: int,
        size: int,
        expiry_s: int,
        margin: int,
    ) -> int:
        """Operator only: open an option (strike in collateral units per whole underlying); returns its id."""
        self._positive("size", size)
        self._positive("strike", strike)
        writer, holder = checksum("writer", writer), checksum("holder", holder)
        free = (await self.balance(writer)).free
        if free < margin:
            raise InsufficientFundsError(
                f"vault={self.vault}: writer {writer} free collateral {free} < margin {margin}"
            )
        option_id = int(await self.client.call("option_count", self.contract.functions.option_count(), "pending"))
        req = call_request(self.contract, "open_option", writer, holder, is_call, strike, size, expiry_s, margin)
        await self.tm.send(intent, req)
        return option_id

    async def post_settlement_price(self, intent: str, expiry_s: int, price: int) -> TxReceipt:
        """Oracle only: the settlement price of ``expiry_s`` (collateral units per whole underlying)."""
        self._positive("price", price)
        return await self.tm.send(intent, call_request(self.contract, "post_settlement_price", expiry_s, price))

    async def payoff(self, option_id: int) -> int:
        return int(await self.client.call("payoff", self.contract.functions.payoff(option_id)))

    async def settle(self, intent: str, option_id: int) -> TxReceipt:
        """Cash-settle an expired option whose settlement price is posted."""
        count = int(await self.client.call("option_count", self.contract.functions.option_count()))
        if not 0 <= option_id < count:
            raise PreflightError(f"option_id={option_id}: unknown (vault has {count} options)")
        return await self.tm.send(intent, call_request(self.contract, "settle", option_id))
