"""Hedging through keel.execution intents, and sandwich bots attacking a split route's legs."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from keel.engine import Engine
from keel.execution import SmartRouter
from keel.runtime import run_scenario
from keel.sim.chain import GWEI, ChainParams, ChainSim, RouteCall, Tx
from keel.sim.config import validate_config
from keel.sim.mev import SandwichBot
from keel.sim.scenario import PNL_PARTS
from keel.venues.uniswap_v3 import Pool
from tests.sim.test_chain import USDC, WETH, Collector, make_pool, usd


def _two_pools() -> tuple[Pool, Pool]:
    a = make_pool(liquidity=2 * 10**17)
    b = Pool(3000, 60, a.sqrt_price_x96, token0=USDC, token1=WETH, name="pool3000")
    t = b.tick // 60 * 60
    b.mint("lp", t - 3960, t + 3960, 2 * 10**17)
    return a, b


def _route_victim(slack: float, bots: int = 1, capital_usd: float = 5e6) -> tuple[Any, SandwichBot, ChainSim, Any]:
    engine = Engine(seed=3, start_ns=0)
    a, b = _two_pools()
    chain = ChainSim(engine, ChainParams(latency_ns=0), {"pool": a, "pool3000": b})
    bot = SandwichBot("sandwich_0", usd, capital_usd=capital_usd)
    for _ in range(bots):
        chain.attackers.append(bot)
    collector = Collector()
    engine.add_actor(collector)
    engine.start()
    plan = SmartRouter([a, b]).quote_exact_in(USDC, WETH, 4_000_000 * 10**6)
    assert len(plan.legs) == 2 and len(plan.venues_touched) == 2  # a split across the fee tiers
    min_out = int(plan.amount_out * (1.0 - slack))
    engine.submit("victim", Tx("victim", RouteCall(plan, min_out), 500 * GWEI, GWEI, 600_000))
    chain.start(12 * 10**9, 12 * 10**9)
    engine.run()
    (receipt,) = collector.receipts
    return receipt, bot, chain, plan


def test_sandwich_attacks_a_split_routes_legs_within_its_min_out() -> None:
    receipt, bot, chain, plan = _route_victim(slack=0.02)
    assert receipt.status
    # a leg was front-run on its own venue (the first attacked leg may use up the route's whole slack)
    assert bot.stats.count >= 1 and chain.stats.sandwiches == bot.stats.count
    assert bot.stats.profit_usd > 0.0
    # the loss booked is exactly what the victim received less than planned, and the min-out held
    assert receipt.mev_loss > 0
    assert receipt.amount_out == plan.amount_out - receipt.mev_loss
    assert receipt.amount_out >= int(plan.amount_out * 0.98)


def test_capital_limited_bot_attacks_both_legs_of_a_split_route() -> None:
    # the first leg's front-run is capped by the bot's capital, leaving slack for the second leg
    receipt, bot, chain, plan = _route_victim(slack=0.3, capital_usd=1e6)
    assert receipt.status and bot.stats.count == 2 and chain.stats.sandwiches == 2
    assert receipt.amount_out == plan.amount_out - receipt.mev_loss >= int(plan.amount_out * 0.7)
    assert bot.stats.profit_usd > 0.0


def test_tight_split_route_is_not_sandwiched() -> None:
    receipt, bot, _chain, plan = _route_victim(slack=0.0)
    assert receipt.status and receipt.mev_loss == 0 and bot.stats.count == 0
    assert receipt.amount_out == plan.amount_out


def _desk(**hedge: object) -> dict[str, object]:
    return {
        "name": "intents",
        "seed": 11,
        "market": {"kind": "gbm", "hours": 1.0, "s0": 2000.0, "sigma": 0.9},
        "chain": {"block_time_s": 12},
        "pool": {"extra_fee_tiers": [3000]},
        "options": {
            "svi": [{"expiry": "2024-01-06T08:00:00Z", "a": 0.0004, "b": 0.004, "rho": -0.3, "m": 0.0, "sigma": 0.1}]
        },
        "desk": {"strategy": "short_call_strip", "strikes_pct": [100.0, 105.0], "contracts": 200},
        "hedge": {"policy": "fixed", "band": 2.0, **hedge},
        "agents": {"sandwich_bots": 0, "noise_swaps_per_block": 0.2},
    }


def test_hedger_works_intents_through_the_execution_controller() -> None:
    result = run_scenario(validate_config(_desk()))
    s = result.summary
    st = s["hedge_intents"]
    assert s["hedge_mode"] == "intents"
    assert st["intents"] >= 1 and st["filled"] >= 1 and st["children"] >= st["filled"]
    assert s["desk"]["hedge_trades"] == st["children"] - st["child_reverts"]
    frame = result.recorder.to_frame()
    intents = frame.filter(pl.col("kind") == "hedge_intent")
    assert intents.height == st["intents"]
    # every child went on chain with the controller's min_out and filled at or above it
    subs = frame.filter(pl.col("kind") == "hedge_submitted")
    assert subs.height == st["children"] and all("min_out=" in d for d in subs["detail"].to_list())
    # the hedge held the book's delta near zero (short calls: the hedger bought ETH)
    assert s["desk"]["final_asset_units"] > 0.0
    assert abs(result.series["delta"][-1]) < 2.0 + 1e-9 or st["refused"] > 0
    assert sum(s["pnl"][k] for k in PNL_PARTS) == pytest.approx(s["pnl"]["total"], abs=0.05)


def test_max_cost_refusals_are_events_and_in_the_summary() -> None:
    result = run_scenario(validate_config(_desk(max_cost_bps=0.0)))
    s = result.summary
    st = s["hedge_intents"]
    assert st["intents"] == 0 and st["refused"] > 0 and st["refusals"] == {"max_cost": st["refused"]}
    assert s["desk"]["hedge_trades"] == 0
    refused = result.recorder.to_frame().filter(pl.col("kind") == "hedge_refused")
    assert refused.height == st["refused"]
    assert all("exceeds max_cost=0" in d for d in refused["detail"].to_list())


def test_route_mode_still_available_and_config_checks_mode() -> None:
    s = run_scenario(validate_config(_desk(mode="route"))).summary
    assert s["hedge_mode"] == "route" and "hedge_intents" not in s and s["desk"]["hedge_trades"] >= 1
    from keel.errors import ConfigError

    with pytest.raises(ConfigError, match="hedge.mode"):
        validate_config(_desk(mode="twap"))


def test_late_children_revert_and_the_intent_expires_visibly() -> None:
    # 30 s to reach the builders, 12 s blocks, a 24 s deadline: every child lands after its deadline
    data = _desk(deadline_s=24)
    data["chain"] = {"block_time_s": 12, "latency_ms": 30_000}
    data["market"] = {"kind": "gbm", "hours": 0.25, "s0": 2000.0, "sigma": 0.9}
    result = run_scenario(validate_config(data))
    s = result.summary
    st = s["hedge_intents"]
    assert st["intents"] >= 1 and st["expired"] >= 1 and st["filled"] == 0
    # the controller re-planned after each timed-out child; only the last ones may still be in the mempool
    assert st["children"] >= 2 and 0 <= st["children"] - st["child_reverts"] <= 2
    assert s["desk"]["hedge_trades"] == 0
    frame = result.recorder.to_frame()
    assert frame.filter(pl.col("kind") == "hedge_expired").height == st["expired"]
    reverts = frame.filter(pl.col("kind") == "hedge_reverted")["detail"].to_list()
    assert reverts and all(d == "Transaction too old" for d in reverts)
