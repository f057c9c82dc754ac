"""A linear perpetual venue: USD collateral, positions in underlying units, funding, maintenance, liquidation.

Funding uses real Binance rates: the rate of the settlement that closes the interval
containing ``t`` (Binance's ``last_funding_rate`` at ``calc_time``) accrues continuously,
``payment = size · mark · rate · dt / interval`` (longs pay when the rate is positive).
An account is liquidatable when equity < ``maintenance_margin`` × notional; liquidation
closes the whole position at the mark, pays ``liquidation_fee`` × notional to the liquidator
out of remaining equity, and the insurance fund absorbs negative equity (bad debt).
Account arrays are float64 numpy arrays (a vectorized health scan); owners keep their order.

In simulation the *decision* to liquidate is keel.risk's, taken by
:class:`keel.agents.Liquidator` (``keel.risk.health.health_scan`` at the favourable edge of the
oracle's confidence band, never on a halted reading); :meth:`PerpVenue.liquidate` is the
close-out, and re-checks the account at the mark.  What differs from keel.risk's liquidation
engine: the close-out is whole (not partial back to maintenance × (1 + buffer)) at the mark
with a fixed fee (no Dutch auction or depth penalty), and there is no auto-deleveraging: the
insurance fund absorbs any deficit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keel.domain import Perpetual
from keel.errors import RiskError, ValidationError

__all__ = ["LiquidationResult", "PerpVenue"]


@dataclass(frozen=True, slots=True)
class LiquidationResult:
    owner: str
    liquidator: str
    size: float
    price: float
    fee_usd: float
    bad_debt_usd: float
    ts_ns: int


class PerpVenue:
    """Accounts are added once with :meth:`open`; state lives in parallel numpy arrays."""

    def __init__(
        self,
        name: str,
        instrument: Perpetual,
        funding_ts_ns: npt.NDArray[np.int64],
        funding_rates: npt.NDArray[np.float64],
        maintenance_margin: float = 0.005,
        liquidation_fee: float = 0.01,
        insurance_fund_usd: float = 0.0,
    ) -> None:
        if len(funding_ts_ns) == 0 or len(funding_ts_ns) != len(funding_rates):
            raise ValidationError("funding_rates", len(funding_rates), "need matching, non-empty times and rates")
        if not 0.0 < maintenance_margin < 0.5:
            raise ValidationError("maintenance_margin", maintenance_margin, "must be in (0, 0.5)")
        self.name = name
        self.instrument = instrument
        self.funding_ts = np.asarray(funding_ts_ns, dtype=np.int64)
        self.funding_rates = np.asarray(funding_rates, dtype=np.float64)
        self.mm = maintenance_margin
        self.liquidation_fee = liquidation_fee
        self.insurance_fund = insurance_fund_usd
        self.insurance_start = insurance_fund_usd
        self.owners: list[str] = []
        self._index: dict[str, int] = {}
        self.size = np.zeros(0)
        self.collateral = np.zeros(0)
        self.entry = np.zeros(0)
        self.funding_paid = np.zeros(0)
        self.bad_debt = 0.0
        self.liquidations: list[LiquidationResult] = []

    def open(self, owner: str, collateral_usd: float, size: float, price: float) -> None:
        if owner in self._index:
            raise ValidationError("owner", owner, "already has an account")
        if collateral_usd <= 0 or price <= 0:
            raise ValidationError("collateral_usd", collateral_usd, "collateral and price must be positive")
        self._index[owner] = len(self.owners)
        self.owners.append(owner)
        self.size = np.append(self.size, size)
        self.collateral = np.append(self.collateral, collateral_usd)
        self.entry = np.append(self.entry, price)
        self.funding_paid = np.append(self.funding_paid, 0.0)

    def rate_at(self, ts_ns: int) -> float:
        """Funding rate per interval in force at ``ts_ns`` (the next settlement's rate)."""
        i = int(np.searchsorted(self.funding_ts, ts_ns, side="left"))
        return float(self.funding_rates[min(i, len(self.funding_rates) - 1)])

    def accrue_funding(self, start_ns: int, end_ns: int, mark: float) -> float:
        """Accrue funding from ``start_ns`` to ``end_ns`` at ``mark``; returns the total paid by longs (USD)."""
        if end_ns <= start_ns or len(self.owners) == 0:
            return 0.0
        rate = self.rate_at(end_ns)
        frac = (end_ns - start_ns) / self.instrument.funding_interval_ns
        payment = self.size * mark * rate * frac
        self.collateral -= payment
        self.funding_paid += payment
        return float(payment[self.size > 0].sum())

    def equity(self, mark: float) -> npt.NDArray[np.float64]:
        return self.collateral + self.size * (mark - self.entry)

    def margin_ratio(self, mark: float) -> npt.NDArray[np.float64]:
        """Equity over maintenance requirement (inf for flat accounts); below 1 is liquidatable."""
        req = np.abs(self.size) * mark * self.mm
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(req > 0, self.equity(mark) / np.where(req > 0, req, 1.0), np.inf)

    def liquidatable(self, mark: float) -> list[str]:
        ratio = self.margin_ratio(mark)
        return [self.owners[i] for i in np.flatnonzero(ratio < 1.0).tolist()]

    def account(self, owner: str) -> tuple[float, float, float]:
        """(size, collateral, entry) of ``owner``."""
        i = self._index[owner]
        return float(self.size[i]), float(self.collateral[i]), float(self.entry[i])

    def liquidate(self, owner: str, liquidator: str, mark: float, ts_ns: int) -> LiquidationResult:
        i = self._index.get(owner)
        if i is None:
            raise ValidationError("owner", owner, "no such account")
        ratio = float(self.margin_ratio(mark)[i])
        if not ratio < 1.0:
            raise RiskError(f"account {owner!r} is not liquidatable (margin ratio {ratio:.3f})")
        size = float(self.size[i])
        equity = float(self.collateral[i] + size * (mark - self.entry[i]))
        fee = min(max(equity, 0.0), self.liquidation_fee * abs(size) * mark)
        remaining = equity - fee
        bad_debt = 0.0
        if remaining < 0:
            bad_debt = -remaining
            self.insurance_fund -= bad_debt
            self.bad_debt += bad_debt
            remaining = 0.0
        self.size[i] = 0.0
        self.collateral[i] = remaining
        self.entry[i] = mark
        result = LiquidationResult(owner, liquidator, size, mark, fee, bad_debt, ts_ns)
        self.liquidations.append(result)
        return result
