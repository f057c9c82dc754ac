"""Agents: state plus pure decisions; the engine delivers events and carries out their actions.

Public API: :class:`DeskBook`, :class:`BookGreeks`; hedging (:class:`DeltaHedger`,
:class:`HedgeConfig`, :class:`BandPolicy`, :func:`hedge_band`, :func:`hedge_trade`,
:func:`leland_vol`); :class:`OptionsMarketMaker`, :func:`mm_quote_vols`; :class:`Liquidator`,
:class:`Liquidate`, :func:`accounts_to_liquidate`; :class:`PortfolioManager`, :func:`strategy_legs`.
"""

from keel.agents.book import BookGreeks, DeskBook
from keel.agents.hedger import BandPolicy, DeltaHedger, HedgeConfig, hedge_band, hedge_trade, leland_vol
from keel.agents.liquidator import Liquidate, Liquidator, accounts_to_liquidate
from keel.agents.market_maker import OptionsMarketMaker, mm_quote_vols
from keel.agents.portfolio import PortfolioManager, strategy_legs

__all__ = [
    "BandPolicy",
    "BookGreeks",
    "DeltaHedger",
    "DeskBook",
    "HedgeConfig",
    "Liquidate",
    "Liquidator",
    "OptionsMarketMaker",
    "PortfolioManager",
    "accounts_to_liquidate",
    "hedge_band",
    "hedge_trade",
    "leland_vol",
    "mm_quote_vols",
    "strategy_legs",
]
