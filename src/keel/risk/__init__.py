"""Risk: accounts, margin models, liquidation with insurance and ADL, an exact ledger,
monitors, the stress suite and the margin backtest.

Money in the ledger is exact ints in base units; analytics are float64 (USD).
"""

from keel.risk.accounts import (
    AccountStatus,
    AccountView,
    CollateralAsset,
    MarginMode,
    MarketState,
    PositionView,
)
from keel.risk.actor import RISK_EVENTS, RiskActor, RiskInputs
from keel.risk.clearing import ClearingHouse, LiquidationRecord, StepReport
from keel.risk.insurance import AdlCandidate, rank_adl
from keel.risk.ledger import FEES, INSURANCE, SOCIALIZED, Ledger, LedgerEntry
from keel.risk.liquidation import CloseoutMode, LiquidationPolicy, closeout_discount, partial_fraction
from keel.risk.margin import (
    APCMethod,
    LiquidityTier,
    MarginModel,
    MarginRequirement,
    PortfolioMargin,
    PredictiveMargin,
    SizeTier,
    StandardMargin,
    apc_scan_range,
)
from keel.risk.scenario import ScenarioGrid, portfolio_scan, position_scan, risk_arrays
from keel.risk.volatility import GarchParams, VolForecast, ewma_variance, fit_garch, log_returns

__all__ = [
    "FEES",
    "INSURANCE",
    "RISK_EVENTS",
    "SOCIALIZED",
    "APCMethod",
    "AccountStatus",
    "AccountView",
    "AdlCandidate",
    "ClearingHouse",
    "CloseoutMode",
    "CollateralAsset",
    "GarchParams",
    "Ledger",
    "LedgerEntry",
    "LiquidationPolicy",
    "LiquidationRecord",
    "LiquidityTier",
    "MarginMode",
    "MarginModel",
    "MarginRequirement",
    "MarketState",
    "PortfolioMargin",
    "PositionView",
    "PredictiveMargin",
    "RiskActor",
    "RiskInputs",
    "ScenarioGrid",
    "SizeTier",
    "StandardMargin",
    "StepReport",
    "VolForecast",
    "apc_scan_range",
    "closeout_discount",
    "ewma_variance",
    "fit_garch",
    "log_returns",
    "partial_fraction",
    "portfolio_scan",
    "position_scan",
    "rank_adl",
    "risk_arrays",
]
