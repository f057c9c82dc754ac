"""Helpers for the live-mode tests: a funded keystore account on the session's Hardhat testbed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    fund_account,
    write_keystore,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.chain.testbed import deposit_as
from tests.chain.conftest import ROOT, run

CONFIG = ROOT / "examples" / "eth_options_desk.toml"
PASSWORD = "live-test-pw"
USDC = 10**6


async def _fund(url: str, tb: TestbedAddresses, account: str, usdc: int, vault: int, eth: int) -> None:
    client = await ChainClient.connect(url)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        await fund_account(client, tm, tb, account, eth=eth, weth=0, usdc=usdc + vault)
        if vault:
            await deposit_as(client, tb, account, vault)
    finally:
        await client.close()


def funded_account(
    url: str,
    tb: TestbedAddresses,
    tmp: Path,
    key: str,
    *,
    usdc: int = 3_600_000 * USDC,
    vault: int = 10_000_000 * USDC,
    eth: int = 10 * 10**18,
) -> tuple[Path, str]:
    """A keystore (fast scrypt) for ``key`` and its account funded on the testbed: (keystore, address)."""
    keystore = tmp / "ks.json"
    address = write_keystore(keystore, key, PASSWORD, iterations=2**10)
    run(_fund(url, tb, address, usdc, vault, eth))
    return keystore, address


async def _read(url: str, what: str, *args: Any) -> Any:
    client = await ChainClient.connect(url)
    try:
        if what == "nonce":
            return await client.nonce(args[0], "latest")
        if what == "balance":
            from keel.chain import erc20_balance

            return await erc20_balance(client, args[0], args[1])
        if what == "allowance":
            from keel.chain import erc20_allowance

            return await erc20_allowance(client, args[0], args[1], args[2])
        return await client.rpc(what, list(args))
    finally:
        await client.close()


def nonce(url: str, address: str) -> int:
    return int(run(_read(url, "nonce", address)))


def token_balance(url: str, token: str, address: str) -> int:
    return int(run(_read(url, "balance", token, address)))


def allowance(url: str, token: str, owner: str, spender: str) -> int:
    return int(run(_read(url, "allowance", token, owner, spender)))


def rpc(url: str, method: str, *params: Any) -> Any:
    return run(_read(url, method, *params))


def live_argv(
    url: str, keystore: Path, addresses: Path, journal: Path, *extra: str, config: Path = CONFIG
) -> list[str]:
    return [
        "run", "--live", str(config), "--rpc", url, "--keystore", str(keystore), "--addresses", str(addresses),
        "--journal", str(journal), "--mine", *extra,
    ]  # fmt: skip
