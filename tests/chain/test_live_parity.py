"""Parity (intents and route hedging): one config and one scripted market (a seeded GBM path; the testbed's
pool as the simulator's pool) run for 50 blocks in the simulator (keel.sim.ChainSim) and on the Hardhat testbed
through the live environment (keel run --live's session); both worlds come from keel.runtime.build_world, and the
agents' decisions (every hedge's block, size and direction, the price and the delta it was decided on) are
identical."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from keel.chain import ChainClient, TestbedAddresses, read_pool_state
from keel.chain.environment import LivePool
from keel.domain import Token
from keel.engine import Engine
from keel.runtime.live import LiveOptions, run_live
from keel.runtime.simulate import sim_environment
from keel.runtime.world import build_world
from keel.sim.chain import ChainSim
from keel.sim.config import load_config, parse_utc
from keel.venues.uniswap_v3 import Pool
from tests.chain.live_support import PASSWORD, USDC, funded_account

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

BLOCKS = 50
CONFIG = """
name = "parity"
seed = 11

[market]
kind = "gbm"
start = "2024-01-05T00:00:00Z"
hours = 1
s0 = 2000.0
sigma = 1.5

[chain]
block_time_s = 60

[pool]
fee = 500

[options]
half_spread_vol = 0.01
[[options.svi]]
expiry = "2024-01-12T08:00:00Z"
a = 0.004
b = 0.02
rho = -0.2
m = 0.0
sigma = 0.05

[desk]
strategy = "short_call_strip"
strikes_pct = [102.0, 105.0, 110.0]
contracts = 400
initial_usd = 5000000
margin = "portfolio"

[hedge]
mode = "MODE"
max_cost_bps = 150
router = false
policy = "fixed"
band = 2.0
slippage = 0.01
deadline_s = 120

[counterparties]
arbitrageur = false
sandwich_bots = 0
noise_swaps_per_block = 0
"""


def _decisions(events: list[dict[str, Any]]) -> list[tuple[int, float, float, float]]:
    """(kind, engine time, signed asset quantity, oracle price, net delta) of every hedge the agent decided
    (intents: each ``hedge_intent`` and the children sent for it; route: each swap sent)."""
    return [
        (str(e["kind"]), int(e["ts_ns"]), float(e["quantity"]), float(e["price"]), float(e["value"]))
        for e in events
        if e["kind"] in ("hedge_intent", "hedge_submitted")
    ]


async def _pool_state(url: str, address: str) -> Any:
    client = await ChainClient.connect(url)
    try:
        return await read_pool_state(client, "uniswap_v3", address)
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["intents", "route"])
def test_same_config_same_decisions_in_simulation_and_live(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, mode: str
) -> None:
    tb = clean_chain
    path = tmp_path / "parity.toml"
    path.write_text(CONFIG.replace("MODE", mode))
    config = load_config(path)
    keystore, _account = funded_account(
        hardhat.url, tb, tmp_path, "0x" + "d5" * 32, usdc=5_000_000 * USDC, vault=12_000_000 * USDC
    )
    pool_address = tb.pool("uniswap_v3", 500).address
    state = asyncio.run(_pool_state(hardhat.url, pool_address))  # the pool both worlds start from

    # live: the session of `keel run --live`, 50 blocks one block time apart
    opts = LiveOptions(
        rpc=hardhat.url, keystore=keystore, journal=tmp_path / "journal.jsonl", blocks=BLOCKS,
        pools=[LivePool("uniswap_v3_usdc_weth", "uniswap_v3", pool_address, 500)], v3_router=tb.swap_router,
        v2_router=tb.v2_router, vault=tb.vault, position_manager=tb.position_manager, tick_lens=tb.tick_lens,
        expected_chain_id=31337, mine=True, anchor_to_chain=True, password=PASSWORD, echo=lambda _l: None,
        handle_signals=False,
    )  # fmt: skip
    live = asyncio.run(run_live(config, opts))
    assert live.exit_code == 0 and live.blocks == BLOCKS and live.wei_check == "equal"

    # simulation: the same config on a simulated chain holding the same pool
    start = parse_utc(config.market.start)
    engine = Engine(seed=config.seed, start_ns=start)
    template = sim_environment(config, engine)
    tokens = {}
    for address in (state.token0, state.token1):
        symbol = "USDC" if address == tb.usdc else "WETH"
        tokens[address] = Token(symbol, 6 if symbol == "USDC" else 18)
    pool = Pool.from_state(state, token0=tokens[state.token0], token1=tokens[state.token1])
    pool.name = "uniswap_v3_usdc_weth"
    chain = ChainSim(engine, template.params, {pool.name: pool})
    world = build_world(config, chain)
    block_ns = world.block_ns
    chain.start(start + block_ns, start + BLOCKS * block_ns)
    engine.start()
    engine.run_until(start + BLOCKS * block_ns)
    sim_events = engine.recorder.to_frame().to_dicts()

    sim, on_chain = _decisions(sim_events), _decisions(live.events)
    assert len(sim) >= 10, "the scripted market must make the desk hedge many times, both ways"
    assert {q > 0 for _k, _t, q, _p, _d in sim} == {True, False}
    assert sim == on_chain
    # the fills agree too, hedge by hedge (exact amounts from the simulator's receipts and the chain's); a hedge
    # sent in the last block is filled live at once, but in the simulator only in block 51, which is not run
    sim_fills = [(e["quantity"], e["price"]) for e in sim_events if e["kind"] == "hedge_fill"]
    live_fills = [(e["quantity"], e["price"]) for e in live.events if e["kind"] == "hedge_fill"]
    last = sum(1 for k, t, *_ in sim if k == "hedge_submitted" and t == start + BLOCKS * block_ns)
    assert live_fills[: len(sim_fills)] == sim_fills and len(live_fills) == len(sim_fills) + last
