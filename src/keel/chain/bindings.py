"""Typed helpers over the contract artifacts: calldata encoding, ERC20 reads and preflight checks.

Bindings are async web3 contracts built from the npm artifacts (:func:`keel.chain.artifacts.load_artifact`);
these helpers add what Keel needs around them: calldata for :class:`~keel.chain.transactions.TxRequest`,
contract-creation bytecode with constructor arguments, and balance/allowance checks that fail
*before* signing with a message naming the token, the account and both amounts.
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from web3.contract import AsyncContract

from keel.chain.artifacts import load_artifact
from keel.chain.client import ChainClient, checksum
from keel.chain.errors import InsufficientFundsError
from keel.chain.transactions import TxRequest

__all__ = [
    "call_request",
    "deploy_request",
    "erc20_allowance",
    "erc20_balance",
    "require_allowance",
    "require_token_balance",
]


def call_request(contract: AsyncContract, fn: str, *args: Any, value: int = 0, gas: int | None = None) -> TxRequest:
    """A :class:`TxRequest` calling ``fn(*args)`` on ``contract``."""
    data = contract.encode_abi(fn, args=list(args))
    return TxRequest(to=contract.address, data=bytes.fromhex(data[2:]), value=value, gas=gas)


def deploy_request(artifact: str, *args: Any, value: int = 0) -> TxRequest:
    """A contract-creation :class:`TxRequest`: the artifact's bytecode followed by the ABI-encoded constructor args."""
    art = load_artifact(artifact)
    ctor = next((e for e in art.abi if e.get("type") == "constructor"), None)
    types = [i["type"] for i in ctor["inputs"]] if ctor else []
    if len(types) != len(args):
        from keel.errors import ValidationError

        raise ValidationError("constructor args", args, f"{artifact} takes {len(types)} arguments ({', '.join(types)})")
    code = bytes.fromhex(art.bytecode[2:]) + (abi_encode(types, list(args)) if types else b"")
    return TxRequest(to=None, data=code, value=value)


async def erc20_balance(client: ChainClient, token: str, owner: str, block: int | str = "latest") -> int:
    """``token.balanceOf(owner)`` in base units."""
    c = client.contract("ERC20", token)
    return int(await client.call("balanceOf", c.functions.balanceOf(checksum("owner", owner)), block))


async def erc20_allowance(client: ChainClient, token: str, owner: str, spender: str) -> int:
    """``token.allowance(owner, spender)`` in base units."""
    c = client.contract("ERC20", token)
    return int(
        await client.call("allowance", c.functions.allowance(checksum("owner", owner), checksum("spender", spender)))
    )


async def _symbol(client: ChainClient, token: str) -> str:
    try:
        return str(await client.call("symbol", client.contract("ERC20", token).functions.symbol()))
    except Exception:
        return "?"


async def require_token_balance(client: ChainClient, token: str, owner: str, amount: int) -> None:
    """Raise :class:`InsufficientFundsError` unless ``owner`` holds ``amount`` of ``token``."""
    have = await erc20_balance(client, token, owner, "pending")
    if have < amount:
        sym = await _symbol(client, token)
        raise InsufficientFundsError(f"token={sym} {token}: balance of {owner} is {have} < {amount} needed")


async def require_allowance(client: ChainClient, token: str, owner: str, spender: str, amount: int) -> None:
    """Raise :class:`InsufficientFundsError` unless ``spender`` may move ``amount`` of ``owner``'s ``token``."""
    have = await erc20_allowance(client, token, owner, spender)
    if have < amount:
        sym = await _symbol(client, token)
        raise InsufficientFundsError(
            f"token={sym} {token}: allowance of {owner} for {spender} is {have} < {amount} needed (approve first)"
        )
