"""Chain and market simulator: blocks, mempool, gas, MEV bots, market paths, scenarios, reports.

Public API: :class:`ChainSim` (with :class:`ChainParams`, :func:`next_base_fee`) executing the
engine's transactions (:class:`Tx`, :class:`SwapCall`, :class:`RouteCall`, :class:`Receipt` on
:data:`RECEIPTS`, defined in :mod:`keel.engine.transactions`); counterparties
:class:`PoolArbitrageur`, :class:`SandwichBot`, :class:`NoiseTrader`; market paths
(:class:`MarketPath`, replays of real files read by keel.marketdata); scenarios (:func:`load_config`,
:class:`ScenarioConfig`, :class:`SimResult`, :func:`write_outputs`; a world is wired and run by
``keel.runtime.build_world`` / ``keel.runtime.run_simulation``);
the touch-fill venue used by the engine benchmark.
"""

from keel.engine.transactions import RECEIPTS, Receipt, RouteCall, SwapCall, Tx
from keel.sim.chain import ChainParams, ChainSim, next_base_fee
from keel.sim.config import ScenarioConfig, load_config
from keel.sim.mev import NoiseTrader, PoolArbitrageur, SandwichBot
from keel.sim.paths import MarketPath, replay_path, synthetic_path, uniswap_swap_path, with_crash
from keel.sim.report import write_outputs
from keel.sim.scenario import PNL_PARTS, SimResult
from keel.sim.touch import MarketOrder, TouchFill, TouchFillVenue

__all__ = [
    "PNL_PARTS",
    "RECEIPTS",
    "ChainParams",
    "ChainSim",
    "MarketOrder",
    "MarketPath",
    "NoiseTrader",
    "PoolArbitrageur",
    "Receipt",
    "RouteCall",
    "SandwichBot",
    "ScenarioConfig",
    "SimResult",
    "SwapCall",
    "TouchFill",
    "TouchFillVenue",
    "Tx",
    "load_config",
    "next_base_fee",
    "replay_path",
    "synthetic_path",
    "uniswap_swap_path",
    "with_crash",
    "write_outputs",
]
