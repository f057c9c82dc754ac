"""A linear perpetual venue whose accounts, money and close-outs are a :class:`ClearingHouse`'s.

The simulator's perp venue (the crowd of leveraged accounts, the desk's perp book) keeps no
money of its own: collateral is deposited into the house's exact :class:`keel.risk.Ledger`
(int base units of ``USD``, 6 decimals), every position is a house trade against the venue's
market maker (``perp_maker``, fully collateralized, so every position has its opposite), variation margin and funding
are house settlements, and close-outs follow the house's :class:`keel.risk.LiquidationPolicy`
(partial back to maintenance × (1 + buffer), Dutch-auction discount, fee to the insurance
fund, ADL and bad debt resolved by the waterfall).  ``house.imbalance() == 0`` always.

Funding uses real Binance rates: the rate of the settlement that closes the interval containing
``t`` accrues continuously, ``size · mark · rate · dt / interval`` per account (longs pay when
the rate is positive).  Accruals are settled into the ledger (each account against the maker,
in exact base units) every ``settle_every_ns`` and before any close-out that touches the
account; positions are carried at the house's reference price (unsettled variation margin is
part of equity), so a scan sees ``equity = balance + size·(mark − ref) − pending funding``.

For the vectorized health scan (:func:`keel.agents.accounts_to_liquidate`) the venue mirrors
each owner's state in float64 arrays ``size``, ``collateral`` (balance less pending funding, USD)
and ``entry`` (the house's last settlement price), so ``collateral + size·(p − entry)`` is the
account's equity at ``p``; the arrays are re-read from the house after every settlement and
close-out.  The decision to liquidate is keel.risk's (the scan at the favourable edge of the
oracle band); :meth:`PerpVenue.liquidate` re-checks it in the house and closes out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from keel.domain import Perpetual, Settlement
from keel.errors import ValidationError
from keel.oracle import OracleReading
from keel.risk.accounts import CollateralAsset, MarketState, PositionView, underlying_of
from keel.risk.clearing import ClearingHouse, LiquidationRecord
from keel.risk.ledger import INSURANCE
from keel.risk.liquidation import LiquidationPolicy
from keel.risk.margin import MarginRequirement

__all__ = ["MAKER", "FlatMargin", "LiquidationResult", "PerpVenue"]

MAKER = "perp_maker"
USD = CollateralAsset("USD", 6)


@dataclass(frozen=True, slots=True)
class FlatMargin:
    """Maintenance ``maintenance`` × notional and initial ``initial`` × notional (USD, at mark)."""

    maintenance: float
    initial: float

    @property
    def name(self) -> str:
        return "flat"

    def requirement(self, positions: Sequence[PositionView], market: MarketState) -> MarginRequirement:
        notional = sum(abs(p.quantity) * market.price(underlying_of(p.instrument)) for p in positions)
        return MarginRequirement(self.initial * notional, self.maintenance * notional, self.name)


@dataclass(frozen=True, slots=True)
class LiquidationResult:
    """One close-out of ``owner``: ``size`` closed (signed as the owner's position), average
    ``price``, ``fee_usd`` to the insurance fund, ``bad_debt_usd`` covered by the fund or
    socialized, and the house's records (partial fills, ADL, collateral sales)."""

    owner: str
    liquidator: str
    size: float
    price: float
    fee_usd: float
    bad_debt_usd: float
    ts_ns: int
    records: tuple[LiquidationRecord, ...] = ()


def _usd(amount: float, field: str) -> int:
    if not (math.isfinite(amount) and amount >= 0):
        raise ValidationError(field, amount, "must be a finite, non-negative USD amount")
    return round(Decimal(repr(float(amount))) * USD.unit)


class PerpVenue:
    """Owners are added once with :meth:`open`; money lives in ``house`` (see the module doc)."""

    def __init__(
        self,
        name: str,
        instrument: Perpetual,
        funding_ts_ns: npt.NDArray[np.int64],
        funding_rates: npt.NDArray[np.float64],
        maintenance_margin: float = 0.005,
        liquidation_fee: float = 0.01,
        insurance_fund_usd: float = 0.0,
        *,
        policy: LiquidationPolicy | None = None,
        liquidator_capital_usd: float = 10_000_000.0,
        settle_every_ns: int = 60 * 1_000_000_000,
    ) -> None:
        if len(funding_ts_ns) == 0 or len(funding_ts_ns) != len(funding_rates):
            raise ValidationError("funding_rates", len(funding_rates), "need matching, non-empty times and rates")
        if not 0.0 < maintenance_margin < 0.5:
            raise ValidationError("maintenance_margin", maintenance_margin, "must be in (0, 0.5)")
        if not (math.isfinite(liquidation_fee) and 0.0 <= liquidation_fee < 0.5):
            raise ValidationError("liquidation_fee", liquidation_fee, "must be in [0, 0.5)")
        if instrument.settlement is not Settlement.LINEAR or instrument.quote != "USD":
            raise ValidationError("instrument", instrument.name, "the venue clears linear USD perpetuals")
        if settle_every_ns <= 0:
            raise ValidationError("settle_every_ns", settle_every_ns, "must be > 0")
        self.name = name
        self.instrument = instrument
        self.symbol = instrument.name
        self.funding_ts = np.asarray(funding_ts_ns, dtype=np.int64)
        self.funding_rates = np.asarray(funding_rates, dtype=np.float64)
        self.mm = maintenance_margin
        self.liquidation_fee = liquidation_fee
        self.policy = policy or LiquidationPolicy(liquidation_fee=liquidation_fee)
        self.house = ClearingHouse((USD,), FlatMargin(maintenance_margin, maintenance_margin), self.policy)
        self.house.open_account(MAKER)
        if insurance_fund_usd > 0:
            self.house.seed_insurance("USD", _usd(insurance_fund_usd, "insurance_fund_usd"))
        self.insurance_start = insurance_fund_usd
        self.liquidator_capital_usd = liquidator_capital_usd
        self.settle_every_ns = settle_every_ns
        self.owners: list[str] = []
        self._index: dict[str, int] = {}
        self.size = np.zeros(0)
        self.collateral = np.zeros(0)
        self.entry = np.zeros(0)
        self.funding_paid = np.zeros(0)
        self._pending = np.zeros(0)  # funding accrued per owner, not yet settled (USD, + = owes)
        self._funding_index = 0.0  # funding accrued per unit of long position since the start (USD)
        self._liquidator_index: dict[str, float] = {}  # a liquidator's funding index at its last settlement
        self._last_settle_ns: int | None = None
        self._mark = 0.0
        self.liquidations: list[LiquidationResult] = []

    # ------------------------------------------------------------------ accounts ------
    def open(self, owner: str, collateral_usd: float, size: float, price: float) -> None:
        """Deposit ``collateral_usd`` and buy (size > 0) or sell ``|size|`` at ``price`` from the maker."""
        if owner in self._index or owner == MAKER:
            raise ValidationError("owner", owner, "already has an account")
        if not (math.isfinite(collateral_usd) and collateral_usd > 0 and math.isfinite(price) and price > 0):
            raise ValidationError("collateral_usd", collateral_usd, "collateral and price must be finite and positive")
        if not math.isfinite(size):
            raise ValidationError("size", size, "must be finite")
        qty = Decimal(repr(float(size))).quantize(Decimal("1e-8"))
        self.house.open_account(owner)
        self.house.deposit(owner, "USD", _usd(collateral_usd, "collateral_usd"))
        # the maker takes the other side fully collateralized (1x): it is never the one liquidated
        self.house.deposit(MAKER, "USD", _usd(abs(float(qty)) * price, "collateral_usd"))
        if qty > 0:
            self.house.trade(owner, MAKER, self.symbol, qty, Decimal(repr(float(price))), check_margin=False)
        elif qty < 0:
            self.house.trade(MAKER, owner, self.symbol, -qty, Decimal(repr(float(price))), check_margin=False)
        self._index[owner] = len(self.owners)
        self.owners.append(owner)
        for attr in ("size", "collateral", "entry", "funding_paid", "_pending"):
            setattr(self, attr, np.append(getattr(self, attr), 0.0))
        self._mark = price
        self._sync((self._index[owner],))

    def register_liquidator(self, liquidator: str, capital_usd: float | None = None) -> None:
        """A liquidator account in the house (takes positions in close-outs; never scanned)."""
        if liquidator in self.house.account_ids:
            return
        self.house.open_account(liquidator, liquidator=True)
        cap = self.liquidator_capital_usd if capital_usd is None else capital_usd
        self.house.deposit(liquidator, "USD", _usd(cap, "liquidator_capital_usd"))
        self._liquidator_index[liquidator] = self._funding_index

    def _quantity(self, account: str) -> float:
        pos = {p.name: p for p in self.house.positions(account)}.get(self.symbol)
        return pos.quantity if pos is not None else 0.0

    def _sync(self, rows: Sequence[int] | None = None) -> None:
        """Re-read size, collateral (balance − pending funding) and entry (house ref) of owners."""
        idx = range(len(self.owners)) if rows is None else rows
        unit = USD.unit
        ref = self.house.reference_price(self.symbol)
        entry = float(ref) if ref is not None else self._mark
        for i in idx:
            owner = self.owners[i]
            self.size[i] = self._quantity(owner)
            self.collateral[i] = self.house.ledger.balance(owner, "USD") / unit - self._pending[i]
            self.entry[i] = entry

    # ------------------------------------------------------------------ funding -------
    def rate_at(self, ts_ns: int) -> float:
        """Funding rate per interval in force at ``ts_ns`` (the next settlement's rate)."""
        i = int(np.searchsorted(self.funding_ts, ts_ns, side="left"))
        return float(self.funding_rates[min(i, len(self.funding_rates) - 1)])

    def accrue_funding(self, start_ns: int, end_ns: int, mark: float) -> float:
        """Accrue funding from ``start_ns`` to ``end_ns`` at ``mark``; returns the total paid by longs
        (USD).  Pending funding is settled into the house every ``settle_every_ns``."""
        if self._last_settle_ns is None:
            self._last_settle_ns = start_ns
        if end_ns <= start_ns or len(self.owners) == 0:
            return 0.0
        rate = self.rate_at(end_ns)
        per_unit = mark * rate * (end_ns - start_ns) / self.instrument.funding_interval_ns
        payment = self.size * per_unit
        self._funding_index += per_unit
        self.collateral -= payment
        self.funding_paid += payment
        self._pending += payment
        self._mark = mark
        if end_ns - self._last_settle_ns >= self.settle_every_ns:
            self.settle(end_ns)
        return float(payment[self.size > 0].sum())

    def settle(self, ts_ns: int, owners: Sequence[str] | None = None) -> None:
        """Settle pending funding into the house's ledger, each account against the maker (on the
        other side of every position, so the flows are the zero-sum funding exchange), in exact
        base units: every owner (or only ``owners``) and every liquidator.  The mirrors do not
        move: ``collateral`` already counted the pending funding (to the ledger's rounding)."""
        flows: dict[str, int] = {}
        rows = range(len(self.owners)) if owners is None else [self._index[o] for o in owners]
        for i in rows:
            if self._pending[i] != 0.0:
                flows[self.owners[i]] = round(float(self._pending[i]) * USD.unit)
        for liq, since in self._liquidator_index.items():
            q = self._quantity(liq)
            if q != 0.0 and since != self._funding_index:
                flows[liq] = round(q * (self._funding_index - since) * USD.unit)
        flows = {a: v for a, v in flows.items() if v != 0}
        if flows:
            self.house.settle_with(MAKER, "USD", flows, f"funding {self.symbol}")
        for i in rows:
            self._pending[i] = 0.0
        for liq in self._liquidator_index:
            self._liquidator_index[liq] = self._funding_index
        if owners is None:
            self._last_settle_ns = ts_ns

    # ------------------------------------------------------------------ risk ----------
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
        """(size, collateral, entry) of ``owner``: equity at ``p`` is ``collateral + size·(p − entry)``."""
        i = self._index[owner]
        return float(self.size[i]), float(self.collateral[i]), float(self.entry[i])

    @property
    def insurance_fund(self) -> float:
        return self.house.ledger.balance(INSURANCE, "USD") / USD.unit

    @property
    def bad_debt(self) -> float:
        return self.house.bad_debt_usd

    def ledger_imbalance(self) -> int:
        """The house ledger's exact imbalance in base units (0 when consistent)."""
        return int(self.house.ledger.imbalance())

    def liquidate(
        self, owner: str, liquidator: str, mark: float, ts_ns: int, reading: OracleReading | None = None
    ) -> LiquidationResult:
        """Close out ``owner`` in the house by its :class:`LiquidationPolicy` (see the module doc).

        ``reading``: the oracle reading the decision used (its band is re-checked at the favourable
        edge); without one the band is the mark.  Raises :class:`RiskError` when the house finds
        the account not below maintenance (another liquidator got there first, or the price moved).
        """
        i = self._index.get(owner)
        if i is None:
            raise ValidationError("owner", owner, "no such account")
        if not (math.isfinite(mark) and mark > 0):
            raise ValidationError("mark", mark, "must be a finite positive price")
        self.register_liquidator(liquidator)
        self._mark = mark
        self.settle(ts_ns, [owner])  # the owner's and the liquidators' positions may change
        und = self.instrument.underlying
        band = (mark, mark)
        if reading is not None and reading.usable and math.isfinite(reading.confidence):
            conf = min(max(float(reading.confidence), 0.0), 0.5 * mark)
            band = (mark - conf, mark + conf)
        market = MarketState(ts_ns, {und: mark})
        ins0, bad0 = self.house.ledger.balance(INSURANCE, "USD"), self.house.bad_debt_usd
        paid0 = self.house.insurance_paid_usd
        records = tuple(self.house.liquidate_account(owner, market, {und: band}))
        touched = sorted(
            a for a in {r.account_id for r in records} | {r.counterparty for r in records} if a in self._index
        )
        # other owners whose positions changed (auto-deleveraging): their pending funding accrued
        # on the old size, settle it now; then re-read every touched owner
        self.settle(ts_ns, [a for a in touched if a != owner])
        self._sync([self._index[a] for a in touched])
        mine = [r for r in records if r.account_id == owner and r.instrument == self.symbol]
        closed = -sum(r.quantity for r in mine)
        price = sum(abs(r.quantity) * r.price for r in mine) / max(sum(abs(r.quantity) for r in mine), 1e-300)
        fee = (self.house.ledger.balance(INSURANCE, "USD") - ins0) / USD.unit + (self.house.insurance_paid_usd - paid0)
        who = mine[0].counterparty if mine else liquidator
        result = LiquidationResult(
            owner, who, closed, price if mine else mark, max(fee, 0.0), self.house.bad_debt_usd - bad0, ts_ns, records
        )
        self.liquidations.append(result)
        return result
