"""Chain and market simulator: blocks, mempool, gas, MEV bots, market paths, scenarios, reports.

Public API: :class:`ChainSim` (with :class:`ChainParams`, :func:`next_base_fee`) executing the
engine's transactions (:class:`Tx`, :class:`SwapCall`, :class:`RouteCall`, :class:`Receipt` on
:data:`RECEIPTS`, defined in :mod:`keel.engine.transactions`); counterparties
:class:`PoolArbitrageur`, :class:`SandwichBot`, :class:`NoiseTrader`; market paths
(:class:`MarketPath` and the real-data loaders); scenarios (:func:`load_config`,
:class:`ScenarioConfig`, :func:`run_scenario` -> :class:`SimResult`, :func:`write_outputs`);
the touch-fill venue used by the engine benchmark.
"""

from keel.engine.transactions import RECEIPTS, Receipt, RouteCall, SwapCall, Tx
from keel.sim.chain import ChainParams, ChainSim, next_base_fee
from keel.sim.config import ScenarioConfig, load_config
from keel.sim.mev import NoiseTrader, PoolArbitrageur, SandwichBot
from keel.sim.paths import (
    MarketPath,
    load_binance_klines,
    load_deribit_atm_iv,
    load_funding_rates,
    load_uniswap_swap_path,
    synthetic_path,
    with_crash,
)
from keel.sim.report import write_outputs
from keel.sim.scenario import PNL_PARTS, SimResult, run_scenario
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
    "load_binance_klines",
    "load_config",
    "load_deribit_atm_iv",
    "load_funding_rates",
    "load_uniswap_swap_path",
    "next_base_fee",
    "run_scenario",
    "synthetic_path",
    "with_crash",
    "write_outputs",
]
