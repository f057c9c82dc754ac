"""``keel testbed up|down|fund``: a local Hardhat node with the real Uniswap contracts deployed.

``up`` starts ``hardhat node`` on 127.0.0.1 (offline, chain id 31337) in the background, deploys
tokens, WETH, Uniswap v2 and v3 (factories, routers, quoter, position manager, tick lens, pools
with liquidity) and the collateral vault, prints the addresses and writes them to
``DIR/addresses.json`` (the node's pid and URL to ``DIR/node.json``).  ``down`` stops that node.
The deployer is Hardhat's public dev account #0 (a well-known test key, never a user key).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli.app import app
from keel.errors import ChainError, ValidationError

if TYPE_CHECKING:  # keel.chain (web3) is imported inside the commands: `keel --help` stays fast
    from rich.console import Console

    from keel.chain import TestbedAddresses

testbed_app = typer.Typer(help="Local Hardhat chain with Uniswap v2/v3, tokens and the collateral vault.")
app.add_typer(testbed_app, name="testbed")

DEFAULT_DIR = Path(".testbed")


def _node_file(directory: Path) -> Path:
    return directory / "node.json"


async def _deploy(url: str, eth_price: Fraction) -> TestbedAddresses:
    from keel.chain import ChainClient, DevSigner, GasPolicy, TransactionManager, TxJournal, deploy_testbed
    from keel.chain.signer import HARDHAT_DEV_KEYS

    client = await ChainClient.connect(url, expected_chain_id=31337)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        return await deploy_testbed(client, tm, eth_price_usdc=eth_price, rpc_url=url)
    finally:
        await client.close()


def print_addresses(tb: TestbedAddresses, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"Keel testbed at {tb.rpc_url} (chain id {tb.chain_id})")
    table.add_column("contract")
    table.add_column("address")
    for name in (
        "deployer", "weth", "usdc", "wbtc", "v2_factory", "v2_router", "v3_factory", "swap_router",
        "quoter_v2", "position_manager", "tick_lens", "vault",
    ):  # fmt: skip
        table.add_row(name, getattr(tb, name))
    for p in tb.pools:
        table.add_row(f"pool {p.kind} fee {p.fee}", p.address)
    console.print(table)


@testbed_app.command("up")
def up_command(
    port: int = typer.Option(8545, "--port", help="loopback port of the node (127.0.0.1)"),
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="where node.json, addresses.json and the log go"),
    eth_price: str = typer.Option("2000", "--eth-price", help="initial pool price, USDC per WETH (exact decimal)"),
) -> None:
    """Start a local Hardhat node and deploy the testbed; print and save the addresses."""
    import asyncio

    from rich.console import Console

    from keel.chain import HardhatNode
    from keel.chain.node import rpc_answers

    try:
        price = Fraction(eth_price)
    except (ValueError, ZeroDivisionError):
        raise ValidationError("eth_price", eth_price, "not a decimal number") from None
    if not Fraction(1, 10**6) <= price <= 10**9:  # checked before any node starts
        raise ValidationError("eth_price", eth_price, "must be in [1e-6, 1e9] USDC per WETH")
    node_file = _node_file(directory)
    if node_file.is_file():
        info = json.loads(node_file.read_text())
        if rpc_answers(str(info.get("url", "")), 0.5) is not None:
            raise ChainError(f"testbed={info['url']}: already up (run `keel testbed down --dir {directory}` first)")
    directory.mkdir(parents=True, exist_ok=True)
    node = HardhatNode.start(port, log_dir=directory, detach=True)
    try:
        tb = asyncio.run(_deploy(node.url, price))
    except BaseException:
        node.stop()
        raise
    node_file.write_text(json.dumps({"pid": node.pid, "url": node.url, "port": node.port, "log": node.log_path}))
    (directory / "addresses.json").write_text(tb.to_json())
    console = Console()
    print_addresses(tb, console)
    console.print(f"wrote {directory / 'addresses.json'}; node pid {node.pid}, log {node.log_path}")


@testbed_app.command("down")
def down_command(directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="the directory `up` wrote")) -> None:
    """Stop the testbed's Hardhat node."""
    from keel.chain.node import stop_pid

    node_file = _node_file(directory)
    if not node_file.is_file():
        raise ChainError(f"testbed={str(directory)!r}: no node.json (is a testbed up?)")
    info = json.loads(node_file.read_text())
    stop_pid(int(info["pid"]))
    node_file.unlink()
    typer.echo(f"stopped hardhat node {info['url']} (pid {info['pid']})")


@testbed_app.command("fund")
def fund_command(
    account: str = typer.Argument(..., help="address to fund"),
    eth: str = typer.Option("10", "--eth", help="ETH to send"),
    weth: str = typer.Option("0", "--weth", help="WETH to send"),
    usdc: str = typer.Option("100000", "--usdc", help="USDC to mint"),
    vault_usdc: str = typer.Option(
        "0", "--vault-usdc", help="USDC to mint and deposit as ACCOUNT's collateral in the vault"
    ),
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="the directory `up` wrote"),
) -> None:
    """Give ACCOUNT ETH, WETH and USDC on the testbed (from the dev deployer); --vault-usdc also deposits
    collateral for it (a test chain lets the deployer act as ACCOUNT: Hardhat account impersonation)."""
    import asyncio

    from keel.chain import (
        ChainClient,
        DevSigner,
        GasPolicy,
        TestbedAddresses,
        TransactionManager,
        TxJournal,
        fund_account,
    )
    from keel.chain.signer import HARDHAT_DEV_KEYS
    from keel.domain import to_base_units

    tb = TestbedAddresses.load(directory / "addresses.json")
    amounts = (to_base_units(eth, 18), to_base_units(weth, 18), to_base_units(usdc, 6))
    vault_amount = to_base_units(vault_usdc, 6)
    if vault_amount < 0:
        raise ValidationError("vault_usdc", vault_usdc, "must be >= 0")

    async def go() -> None:
        from keel.chain.testbed import deposit_as

        client = await ChainClient.connect(tb.rpc_url, expected_chain_id=tb.chain_id)
        try:
            tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
            await fund_account(client, tm, tb, account, eth=amounts[0], weth=amounts[1], usdc=amounts[2] + vault_amount)
            if vault_amount:
                await deposit_as(client, tb, account, vault_amount)
        finally:
            await client.close()

    asyncio.run(go())
    extra = f", {vault_usdc} USDC deposited in the vault" if vault_amount else ""
    typer.echo(f"funded {account}: {eth} ETH, {weth} WETH, {usdc} USDC{extra}")
