"""`keel testbed up|fund|down`: a detached Hardhat node on a loopback port with everything deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keel.chain import ChainClient, TestbedAddresses, erc20_balance, free_port
from keel.chain.node import rpc_answers
from keel.cli import main
from tests.chain.conftest import _ensure_node_modules, run

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


def test_testbed_up_fund_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ensure_node_modules()
    port = free_port()
    directory = tmp_path / "tb"
    assert main(["testbed", "up", "--port", str(port), "--dir", str(directory), "--eth-price", "2500"]) == 0
    try:
        out = capsys.readouterr().out
        tb = TestbedAddresses.load(directory / "addresses.json")
        node = json.loads((directory / "node.json").read_text())
        assert node["url"] == f"http://127.0.0.1:{port}" and tb.rpc_url == node["url"]
        for name in ("weth", "usdc", "v2_router", "swap_router", "quoter_v2", "position_manager", "tick_lens", "vault"):
            assert getattr(tb, name) in out
        assert {(p.kind, p.fee) for p in tb.pools} == {("uniswap_v3", 500), ("uniswap_v3", 3000), ("uniswap_v2", 3000)}
        # a second `up` on the same directory refuses
        assert main(["testbed", "up", "--port", str(port), "--dir", str(directory)]) == 2
        assert "already up" in capsys.readouterr().err
        who = "0x00000000000000000000000000000000000FaCe0"
        assert (
            main(["testbed", "fund", who, "--eth", "1.5", "--weth", "2", "--usdc", "1234.5", "--dir", str(directory)])
            == 0
        )

        async def check() -> None:
            client = await ChainClient.connect(tb.rpc_url, expected_chain_id=31337)
            assert await client.balance(who) == 15 * 10**17
            assert await erc20_balance(client, tb.weth, who) == 2 * 10**18
            assert await erc20_balance(client, tb.usdc, who) == 1234_500000
            # every contract has code; the v3 pools were initialized at exactly 2500 USDC/WETH
            for name in ("weth", "usdc", "v2_factory", "v2_router", "v3_factory", "swap_router", "vault"):
                assert len(await client.code(getattr(tb, name))) > 0
            pool = client.contract("UniswapV3Pool", tb.pool("uniswap_v3", 500).address)
            slot0 = await client.call("slot0", pool.functions.slot0())
            price = (int(slot0[0]) / 2**96) ** 2 * (10**18 / 10**6 if tb.weth == tb.pools[0].token0 else 10**6 / 10**18)
            spot = price if tb.weth == tb.pools[0].token0 else 1 / price
            assert abs(spot - 2500) < 2500 * 0.01  # after the initial mints the price is the one set
            await client.close()

        run(check())
    finally:
        assert main(["testbed", "down", "--dir", str(directory)]) == 0
    assert rpc_answers(f"http://127.0.0.1:{port}") is None
    assert not (directory / "node.json").exists()
    assert main(["testbed", "down", "--dir", str(directory)]) == 2
