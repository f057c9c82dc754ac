"""Bad input fails before anything is signed; RPC failures (timeouts, 503s, resets) are retried with backoff."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    InsufficientFundsError,
    KeystoreSigner,
    PreflightError,
    RetryPolicy,
    RpcUnavailableError,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    TxRequest,
    WrongChainError,
    call_request,
    free_port,
    write_keystore,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.errors import ValidationError
from tests.chain.conftest import run

pytestmark = pytest.mark.hardhat

FAST = RetryPolicy(attempts=3, base_delay_s=0.02, max_delay_s=0.05, timeout_s=2.0)


def test_dead_rpc_url_and_wrong_chain_id(hardhat: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(
        RpcUnavailableError, match=r"rpc='http://127\.0\.0\.1:\d+': eth_chainId failed after 3 attempts"
    ):
        run(ChainClient.connect(dead, retry=FAST))
    with pytest.raises(WrongChainError, match="chain_id=31337.*expected chain 1$"):
        run(ChainClient.connect(hardhat.url, expected_chain_id=1))
    with pytest.raises(ValidationError, match="rpc="):
        run(ChainClient.connect("ws://127.0.0.1:1"))


def test_journal_from_another_chain_is_refused(hardhat: Any, tmp_path: Path) -> None:
    async def go() -> None:
        client = await ChainClient.connect(hardhat.url)
        j = TxJournal(tmp_path / "j.jsonl")
        signer = DevSigner(HARDHAT_DEV_KEYS[2])
        from keel.chain import Attempt

        j.record_signed(
            intent="x",
            sender=signer.address,
            chain_id=1,
            nonce=0,
            attempt=Attempt("0x01", "0x02", signer.address, 0, "0x", 21000, 1, 1),
        )
        with pytest.raises(Exception, match="holds transactions for chain 1"):
            await TransactionManager.open(client, signer, j)
        j.close()
        await client.close()

    run(go())


def test_insufficient_funds_and_allowance_fail_before_signing(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path
) -> None:
    tb = clean_chain

    async def go() -> None:
        client = await ChainClient.connect(hardhat.url, expected_chain_id=31337)
        # a fresh keystore account with no ETH at all
        path = tmp_path / "poor.json"
        write_keystore(path, "0x" + "77" * 32, "pw", iterations=2**10)
        poor = await TransactionManager.open(client, KeystoreSigner(path, password="pw"), TxJournal(None), GasPolicy())
        with pytest.raises(InsufficientFundsError, match=f"account={poor.address}"):
            await poor.send("pay", TxRequest(to=tb.deployer, value=1))
        assert poor.sign_count == 0 and poor.journal.intents == {}
        # a funded account without token balance or router allowance
        rich = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[2]), TxJournal(None), GasPolicy())
        ex = SwapExecutor(client, rich, v3_router=tb.swap_router, v2_router=tb.v2_router)
        with pytest.raises(InsufficientFundsError, match="token=USDC .* balance of"):
            await ex.swap_exact_in(
                "s", kind="uniswap_v3", token_in=tb.usdc, token_out=tb.weth, amount_in=10**6, min_amount_out=0, fee=500
            )
        await rich.send("wrap", call_request(client.contract("WETH9", tb.weth), "deposit", value=10**18))
        with pytest.raises(InsufficientFundsError, match="allowance .* < 1000000000000000000 needed"):
            await ex.swap_exact_in(
                "s", kind="uniswap_v3", token_in=tb.weth, token_out=tb.usdc, amount_in=10**18, min_amount_out=0, fee=500
            )
        # a revert found by the pending-block estimate: minOut above what the pool gives
        await ex.approve("approve", tb.weth, "uniswap_v3")
        signed = rich.sign_count
        with pytest.raises(PreflightError, match="Too little received"):
            await ex.swap_exact_in(
                "greedy",
                kind="uniswap_v3",
                token_in=tb.weth,
                token_out=tb.usdc,
                amount_in=10**18,
                min_amount_out=10**12,
                fee=500,
            )
        assert rich.sign_count == signed
        with pytest.raises(ValidationError, match="amount_in"):
            await ex.swap_exact_in(
                "neg", kind="uniswap_v3", token_in=tb.weth, token_out=tb.usdc, amount_in=-1, min_amount_out=0
            )
        await client.close()

    run(go())


def test_rpc_failures_are_retried_with_backoff(hardhat: Any) -> None:
    """A proxy that answers 503 twice and then drops a connection before forwarding to the node."""

    async def go() -> None:
        seen: list[int] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(len(seen))
            if len(seen) == 1:
                await asyncio.sleep(1.0)  # a hung node: the client's 0.3 s timeout fires
                return web.Response(status=504)
            if len(seen) == 2:
                return web.Response(status=503, text="node restarting")
            if len(seen) == 3:
                assert request.transport is not None
                request.transport.close()  # connection reset mid-request
                return web.Response(status=500)
            body = await request.read()
            async with (
                aiohttp.ClientSession() as s,
                s.post(hardhat.url, data=body, headers={"content-type": "application/json"}) as r,
            ):
                return web.Response(body=await r.read(), content_type="application/json")

        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            policy = RetryPolicy(attempts=5, base_delay_s=0.01, max_delay_s=0.05, timeout_s=0.3)
            client = await ChainClient.connect(f"http://127.0.0.1:{port}", expected_chain_id=31337, retry=policy)
            assert client.chain_id == 31337 and len(seen) == 4  # timeout, 503, reset, then the answer
            assert await client.block_number() >= 0
            await client.close()
            seen.clear()
            with pytest.raises(RpcUnavailableError, match="after 2 attempts"):
                await ChainClient.connect(f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=2, base_delay_s=0.01))
        finally:
            await runner.cleanup()

    run(go())
