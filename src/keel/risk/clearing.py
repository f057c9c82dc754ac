"""The clearing house: accounts, trades, variation margin, funding, liquidation, insurance, ADL.

Stateful but deterministic (accounts and instruments are always visited in sorted order).
Money moves only through :class:`keel.risk.Ledger` transfers of exact ints, so

    Σ account balances + insurance fund + socialized losses + fees  (per asset)

changes only by deposits and withdrawals, and every open position has an equal and opposite
position in another account (trades are always between two accounts), so the sum of all
unsettled position values is exactly zero.  :meth:`ClearingHouse.imbalance` checks both and
is exactly ``0``.

Variation margin: delta-one positions (perpetuals, futures) are settled to cash against
the mark at every :meth:`ClearingHouse.mark`; each loser pays its exact loss rounded up into
the clearing pot, each winner receives its exact gain rounded down, and the rounding dust
goes to fees.  Option positions are carried at their mark (premium changes hands at trade).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from fractions import Fraction

from keel.domain import Future, Instrument, Option, Perpetual, Settlement, Spot, to_decimal
from keel.errors import RiskError, ValidationError
from keel.oracle import OracleReading, OracleStatus
from keel.risk.accounts import (
    STABLE_QUOTES,
    AccountStatus,
    AccountView,
    CollateralAsset,
    MarginMode,
    MarketState,
    PositionState,
    PositionView,
    instrument_from_name,
    option_mark_in_settlement,
    settlement_asset,
    underlying_of,
)
from keel.risk.insurance import AdlCandidate, cover_from_insurance, rank_adl
from keel.risk.ledger import CLEARING, FEES, INSURANCE, RESERVED_HOLDERS, SOCIALIZED, Ledger
from keel.risk.liquidation import LiquidationPolicy, closeout_discount, partial_fraction
from keel.risk.margin import MarginModel, MarginRequirement
from keel.risk.monitors import Liquidate, ReduceOnly, RiskEvent, RiskMonitor

__all__ = ["ClearingHouse", "LiquidationRecord", "StepReport"]

_QTY_STEP = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class LiquidationRecord:
    """One close-out: ``kind`` is ``liquidation`` (to a liquidator), ``adl`` or ``collateral``.

    ``quantity`` signed as the liquidated account's position change; ``price`` in the
    instrument's price units; ``notional_usd`` at mark; ``discount`` fraction of mark.
    """

    ts_ns: int
    account_id: str
    counterparty: str
    instrument: str
    quantity: float
    price: float
    notional_usd: float
    discount: float
    kind: str


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one :meth:`ClearingHouse.step` did (USD amounts are floats for reporting)."""

    ts_ns: int
    liquidations: tuple[LiquidationRecord, ...]
    frozen: tuple[tuple[str, str], ...]
    bad_debt_usd: float
    socialized_usd: float
    adl_volume_usd: float


@dataclass(slots=True)
class _Account:
    mode: MarginMode
    status: AccountStatus = AccountStatus.ACTIVE
    frozen_reason: str = ""
    positions: dict[str, PositionState] = field(default_factory=dict)
    flagged_ns: int | None = None
    liquidator: bool = False
    margin: MarginModel | None = None


def _is_real(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_option(inst: Instrument) -> bool:
    return isinstance(inst, Option)


def _is_inverse_d1(inst: Instrument) -> bool:
    return isinstance(inst, Perpetual | Future) and inst.settlement is Settlement.INVERSE


class ClearingHouse:
    """Accounts, positions and the ledger of one venue (or one desk's books).

    ``assets``: the collateral assets (every settlement asset must be one).  ``margin``:
    any :class:`keel.risk.MarginModel`.  ``policy``: liquidation parameters.
    """

    def __init__(
        self,
        assets: tuple[CollateralAsset, ...],
        margin: MarginModel,
        policy: LiquidationPolicy | None = None,
        *,
        keep_entries: bool = True,
    ) -> None:
        if not assets:
            raise ValidationError("assets", assets, "need at least one collateral asset")
        self.assets: dict[str, CollateralAsset] = {a.symbol: a for a in assets}
        self.margin = margin
        self.policy = policy or LiquidationPolicy()
        self.ledger = Ledger(keep_entries=keep_entries)
        self._accounts: dict[str, _Account] = {}
        self._instruments: dict[str, Instrument] = {}
        self._ref: dict[str, Fraction] = {}
        self._last_prices: dict[str, float] = {}
        self.bad_debt_usd = 0.0
        self.socialized_usd = 0.0
        self.adl_volume_usd = 0.0
        self.insurance_paid_usd = 0.0
        self.n_liquidations = 0

    # ------------------------------------------------------------------ setup ------
    def open_account(self, account_id: str, mode: MarginMode = MarginMode.CROSS, *, liquidator: bool = False) -> None:
        if not isinstance(account_id, str) or not account_id or account_id.startswith("@"):
            raise ValidationError("account_id", account_id, "must be a non-empty name not starting with '@'")
        if account_id in self._accounts:
            raise ValidationError("account_id", account_id, "already exists")
        self._accounts[account_id] = _Account(MarginMode(mode), liquidator=liquidator)

    def set_margin_model(self, account_id: str, model: MarginModel) -> None:
        """Use ``model`` for this account instead of the house default (e.g. portfolio margin)."""
        if not isinstance(model, MarginModel):
            raise ValidationError("model", model, "must implement keel.risk.MarginModel")
        self._acc(account_id).margin = model

    def isolate(
        self, account_id: str, instrument: str, asset: str, amount: int, market: MarketState | None = None
    ) -> str:
        """Create (or top up) the isolated-margin sub-account ``account_id/instrument`` with ``amount``.

        The collateral comes from the parent's own balance: it is refused (and nothing changes)
        when the parent holds less than ``amount`` of ``asset``, is not active, or, with open
        positions, would fall below initial margin afterwards (``market`` is then required).
        """
        acc = self._acc(account_id)
        inst = self._resolve_instrument(instrument)
        self._asset(asset)
        amount = self._nonneg("amount", amount)
        if acc.mode is MarginMode.ISOLATED:
            raise ValidationError("account_id", account_id, "is an isolated sub-account; isolate from its parent")
        if acc.status is not AccountStatus.ACTIVE:
            raise RiskError(f"isolate: account {account_id} is {acc.status.value}; it cannot move collateral out")
        have = self.ledger.balance(account_id, asset)
        if amount > have:
            raise RiskError(f"isolate: {account_id} holds {have} {asset} base units, cannot move {amount}")
        if acc.positions and amount:
            if market is None:
                raise ValidationError("market", None, "isolating from an account with positions needs the market state")
            self._check_withdrawal_margin(account_id, asset, amount, market, "isolate")
        sub = f"{account_id}/{instrument}"
        self._register_instrument(instrument, inst)
        if sub not in self._accounts:
            self._accounts[sub] = _Account(MarginMode.ISOLATED)
        self.ledger.transfer(account_id, sub, asset, amount, "isolate margin")
        return sub

    def deposit(self, account_id: str, asset: str, amount: int) -> None:
        self._acc(account_id)
        self._asset(asset)
        self.ledger.deposit(account_id, asset, self._nonneg("amount", amount))

    def withdraw(self, account_id: str, asset: str, amount: int, market: MarketState) -> None:
        """Withdraw from the account's own balance if it still meets initial margin afterwards.

        Refused (nothing changes) for an unknown asset, a frozen or bankrupt account, more than
        the account holds, or an account with negative balances (debt) in any asset.
        """
        acc = self._acc(account_id)
        self._asset(asset)
        amount = self._nonneg("amount", amount)
        if not isinstance(market, MarketState):
            raise ValidationError("market", market, "must be a keel.risk.MarketState")
        if acc.status in (AccountStatus.FROZEN, AccountStatus.BANKRUPT):
            raise RiskError(f"withdraw: account {account_id} is {acc.status.value} ({acc.frozen_reason})")
        debts = sorted(a for a, b in self.ledger.balances(account_id).items() if b < 0)
        if debts and amount:
            raise RiskError(f"withdraw: {account_id} owes {', '.join(debts)}; repay before withdrawing")
        have = self.ledger.balance(account_id, asset)
        if amount > have:
            raise RiskError(f"withdraw: {account_id} holds {have} {asset} base units, cannot withdraw {amount}")
        if acc.positions and amount:
            self._check_withdrawal_margin(account_id, asset, amount, market, "withdraw")
        self.ledger.withdraw(account_id, asset, amount)

    def _check_withdrawal_margin(self, account_id: str, asset: str, amount: int, market: MarketState, op: str) -> None:
        usd = amount / self.assets[asset].unit * market.price(asset) * (1 - self.assets[asset].haircut)
        req = self.requirement(account_id, market)
        if self.collateral_value(account_id, market) - usd < req.initial:
            raise RiskError(f"{op}: {account_id} would fall below initial margin {req.initial:.2f} USD")

    def solvency_violations(self) -> tuple[str, ...]:
        """Accounts whose balance in an asset is below zero without a recorded debt (empty when solvent).

        A negative balance is legitimate only as debt that settlement created (premium, variation
        margin, funding, fees, expiry, liquidation) and the ledger recorded; user-initiated moves
        (withdraw, isolate) never take a balance below zero.  Also every asset's net external
        deposits cover the debt-free balances: nothing was paid out that nobody deposited.
        """
        out = list(self.ledger.solvency_violations())
        for asset in self.ledger.assets():
            positive = sum(max(self.ledger.balance(h, asset), 0) for h in self.ledger.holders())
            debt = sum(self.ledger.debt(h, asset) for h in self.ledger.holders())
            if self.ledger.net_deposits(asset) + debt < positive:
                net = self.ledger.net_deposits(asset)
                out.append(f"{asset}: balances {positive} exceed net deposits {net} + recorded debt {debt}")
        return tuple(out)

    def seed_insurance(self, asset: str, amount: int) -> None:
        self._asset(asset)
        self.ledger.deposit(INSURANCE, asset, self._nonneg("amount", amount), "insurance seed")

    @staticmethod
    def _nonneg(name: str, amount: int) -> int:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError(name, amount, "must be an int in base units")
        if amount < 0:
            raise ValidationError(name, amount, "must be non-negative (negative collateral is refused)")
        return amount

    def _acc(self, account_id: str) -> _Account:
        acc = self._accounts.get(account_id)
        if acc is None:
            raise ValidationError("account_id", account_id, "unknown account")
        return acc

    def _asset(self, asset: str) -> CollateralAsset:
        a = self.assets.get(asset)
        if a is None:
            raise ValidationError("asset", asset, "not an accepted collateral asset")
        return a

    def _resolve_instrument(self, name: str) -> Instrument:
        """The instrument named ``name`` (validated), without registering it."""
        inst = self._instruments.get(name)
        if inst is None:
            if not isinstance(name, str):
                raise ValidationError("instrument", name, "must be an instrument name")
            inst = instrument_from_name(name)
            if isinstance(inst, Spot):
                raise ValidationError("instrument", name, "spot is held as collateral balances, not positions")
            self._asset(settlement_asset(inst))
        return inst

    def _register_instrument(self, name: str, inst: Instrument) -> None:
        self._instruments.setdefault(name, inst)

    def _instrument(self, name: str) -> Instrument:
        inst = self._resolve_instrument(name)
        self._register_instrument(name, inst)
        return inst

    # ------------------------------------------------------------------ queries -----
    @property
    def account_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._accounts))

    def status(self, account_id: str) -> tuple[AccountStatus, str]:
        acc = self._acc(account_id)
        return acc.status, acc.frozen_reason

    def positions(self, account_id: str) -> tuple[PositionView, ...]:
        acc = self._acc(account_id)
        return tuple(
            PositionView(n, p.instrument, float(p.quantity), float(p.entry_price))
            for n, p in sorted(acc.positions.items())
        )

    def _value_settle(self, p: PositionState, market: MarketState) -> Fraction:
        """Unsettled value of a position in settlement-asset units (exact Fraction)."""
        inst = p.instrument
        q = Fraction(p.quantity)
        if isinstance(inst, Option):
            return q * option_mark_in_settlement(inst, p.name, market)
        s = Fraction(market.price(underlying_of(inst)))
        if _is_inverse_d1(inst):
            return q * (1 / p.ref_price - 1 / s)
        return q * (s - p.ref_price)

    def equity(self, account_id: str, market: MarketState) -> float:
        """USD equity: balances at market + unsettled position values (no haircuts)."""
        return self._equity(account_id, market, haircut=False)

    def collateral_value(self, account_id: str, market: MarketState) -> float:
        """USD equity with haircuts on positive collateral balances (what margin is met with)."""
        return self._equity(account_id, market, haircut=True)

    def _equity(self, account_id: str, market: MarketState, *, haircut: bool) -> float:
        acc = self._acc(account_id)
        total = 0.0
        for asset, bal in self.ledger.balances(account_id).items():
            a = self.assets[asset]
            v = bal / a.unit * market.price(asset)
            if haircut and v > 0:
                v *= 1.0 - a.haircut
            total += v
        for p in acc.positions.values():
            asset = settlement_asset(p.instrument)
            total += float(self._value_settle(p, market)) * market.price(asset)
        return total

    def state(self) -> tuple[object, ...]:
        """A comparable snapshot of everything the house holds (for all-or-nothing checks)."""
        accounts = tuple(
            (
                aid,
                acc.mode,
                acc.status,
                acc.frozen_reason,
                acc.flagged_ns,
                acc.liquidator,
                id(acc.margin) if acc.margin is not None else None,
                tuple((n, p.quantity, p.ref_price, p.entry_price) for n, p in sorted(acc.positions.items())),
            )
            for aid, acc in sorted(self._accounts.items())
        )
        return (
            self.ledger.state(),
            accounts,
            tuple(sorted(self._instruments)),
            tuple(sorted(self._ref.items())),
            tuple(sorted(self._last_prices.items())),
            (self.bad_debt_usd, self.socialized_usd, self.adl_volume_usd, self.insurance_paid_usd, self.n_liquidations),
        )

    def margin_model(self, account_id: str) -> MarginModel:
        return self._acc(account_id).margin or self.margin

    def requirement(self, account_id: str, market: MarketState) -> MarginRequirement:
        return self.margin_model(account_id).requirement(self.positions(account_id), market)

    def view(self, account_id: str, market: MarketState) -> AccountView:
        acc = self._acc(account_id)
        upnl = 0.0
        for p in acc.positions.values():
            inst = p.instrument
            q = float(p.quantity)
            if isinstance(inst, Option):
                mark = float(option_mark_in_settlement(inst, p.name, market))
                upnl += q * (mark - float(p.entry_price)) * market.price(settlement_asset(inst))
            else:
                s = market.price(underlying_of(inst))
                if _is_inverse_d1(inst):
                    upnl += q * (1 / float(p.entry_price) - 1 / s) * s
                else:
                    upnl += q * (s - float(p.entry_price))
        return AccountView(
            account_id,
            acc.mode,
            acc.status,
            self.ledger.balances(account_id),
            self.positions(account_id),
            self.equity(account_id, market),
            self.collateral_value(account_id, market),
            upnl,
            acc.frozen_reason,
        )

    def open_interest(self, name: str) -> Decimal:
        """Σ long quantity in ``name`` (equals Σ short quantity)."""
        return sum(
            (
                a.positions[name].quantity
                for a in self._accounts.values()
                if name in a.positions and a.positions[name].quantity > 0
            ),
            Decimal(0),
        )

    def imbalance(self) -> Fraction:
        """Exactly 0 when the books are consistent.

        The per-asset ledger imbalance (ints) plus, per instrument, ``|Σ quantity|`` across
        accounts (every position must have its opposite): both are exact.
        """
        total = Fraction(self.ledger.imbalance())
        for name in sorted(self._instruments):
            net = sum((a.positions[name].quantity for a in self._accounts.values() if name in a.positions), Decimal(0))
            total += abs(Fraction(net))
        pot = sum(abs(v) for v in self.ledger.balances(CLEARING).values())
        return total + pot

    def system_totals(self) -> dict[str, int]:
        """Per asset: Σ over every holder (accounts, insurance, socialized, fees) in base units."""
        return {a: self.ledger.total(a) for a in self.ledger.assets()}

    # ------------------------------------------------------------------ trading -----
    def trade(
        self,
        buyer: str,
        seller: str,
        name: str,
        quantity: Decimal | int | str | float,
        price: Decimal | int | str | float | Fraction,
        market: MarketState | None = None,
        *,
        fee_rate: Decimal | str = Decimal(0),
        taker: str | None = None,
        check_margin: bool = True,
        reason: str = "trade",
    ) -> None:
        """``buyer`` buys ``quantity`` of ``name`` from ``seller`` at ``price``.

        ``price``: USD per coin for linear/inverse delta-one instruments; premium per option
        in the settlement asset (coin for inverse options, e.g. 0.05 BTC).  With
        ``check_margin`` both sides must meet initial margin afterwards unless the trade only
        reduces their risk, and reduce-only or frozen accounts may only reduce.
        """
        if buyer == seller:
            raise ValidationError("seller", seller, "buyer and seller must differ")
        inst = self._resolve_instrument(name)
        qty = to_decimal("quantity", quantity, positive=True)
        px = price if isinstance(price, Fraction) else Fraction(to_decimal("price", price, positive=True))
        if px <= 0:
            raise ValidationError("price", price, "must be positive")
        accs = {buyer: self._acc(buyer), seller: self._acc(seller)}
        fee_rate_d = to_decimal("fee_rate", fee_rate)
        if fee_rate_d < 0 or fee_rate_d >= 1:
            raise ValidationError("fee_rate", fee_rate, "must be in [0, 1)")
        if taker is not None and taker not in (buyer, seller):
            raise ValidationError("taker", taker, "must be the buyer or the seller")
        if market is not None and not isinstance(market, MarketState):
            raise ValidationError("market", market, "must be a keel.risk.MarketState")
        for aid, sgn in ((buyer, 1), (seller, -1)):
            acc = accs[aid]
            cur = acc.positions[name].quantity if name in acc.positions else Decimal(0)
            reducing = cur != 0 and (cur > 0) != (sgn > 0) and qty <= abs(cur)
            if acc.status is not AccountStatus.ACTIVE and not reducing and check_margin:
                raise RiskError(f"trade: account {aid} is {acc.status.value}; it may only reduce positions")
            if check_margin and not reducing:
                if market is None:
                    raise ValidationError("market", None, "a margin-checked trade needs the market state")
                self._check_initial(aid, name, inst, cur + sgn * qty, market)
        # everything is validated: from here on nothing raises, so a refused trade changed nothing
        self._register_instrument(name, inst)
        asset = settlement_asset(inst)
        unit = self.assets[asset].unit
        if isinstance(inst, Option):
            ref = self._ref.get(name, px)
            amount = Fraction(qty) * px * unit
            self.ledger.transfer(buyer, seller, asset, round(amount), f"{reason}: premium {name}", allow_debt=True)
        else:
            ref = self._ref.setdefault(name, px)
            if _is_inverse_d1(inst):
                amount = Fraction(qty) * (1 / ref - 1 / px) * unit
            else:
                amount = Fraction(qty) * (px - ref) * unit
            self.ledger.transfer_signed(
                buyer, seller, asset, round(amount), f"{reason}: {name} vs mark", allow_debt=True
            )
        if taker is not None and fee_rate_d > 0:
            if isinstance(inst, Option) or not _is_inverse_d1(inst):
                fee = Fraction(qty) * px * Fraction(fee_rate_d) * unit
            else:
                fee = Fraction(qty) / px * Fraction(fee_rate_d) * unit
            self.ledger.transfer(taker, FEES, asset, round(fee), f"{reason}: fee", allow_debt=True)
        for aid, sgn in ((buyer, 1), (seller, -1)):
            self._apply(accs[aid], name, inst, Decimal(sgn) * qty, px, ref)

    def _apply(self, acc: _Account, name: str, inst: Instrument, delta: Decimal, px: Fraction, ref: Fraction) -> None:
        pos = acc.positions.get(name)
        if pos is None:
            acc.positions[name] = PositionState(name, inst, delta, ref, px)
            return
        cur = pos.quantity
        new = cur + delta
        if new == 0:
            del acc.positions[name]
            return
        if cur == 0 or (cur > 0) == (delta > 0):
            pos.entry_price = (Fraction(abs(cur)) * pos.entry_price + Fraction(abs(delta)) * px) / Fraction(abs(new))
        elif (new > 0) != (cur > 0):
            pos.entry_price = px
        pos.quantity = new

    def _check_initial(self, aid: str, name: str, inst: Instrument, new_qty: Decimal, market: MarketState) -> None:
        views = [v for v in self.positions(aid) if v.name != name]
        if new_qty != 0:
            views.append(PositionView(name, inst, float(new_qty)))
        req = self.margin_model(aid).requirement(views, market)
        have = self.collateral_value(aid, market)
        if have < req.initial:
            raise RiskError(f"trade: account {aid} would need initial margin {req.initial:.2f} USD, has {have:.2f} USD")

    # ------------------------------------------------------------------ settlement --
    def _pot_settle(self, asset: str, flows: list[tuple[str, Fraction]], reason: str) -> None:
        """Settle exact flows (positive = receive) that sum to zero through the clearing pot."""
        for aid, amt in flows:
            if amt < 0:
                self.ledger.transfer(aid, CLEARING, asset, math.ceil(-amt), reason, allow_debt=True)
        for aid, amt in flows:
            if amt > 0:
                self.ledger.transfer(CLEARING, aid, asset, math.floor(amt), reason)
        dust = self.ledger.balance(CLEARING, asset)
        if dust < 0:
            raise RiskError(f"{reason}: clearing pot short by {-dust} {asset} base units (positions do not net)")
        self.ledger.transfer(CLEARING, FEES, asset, dust, f"{reason}: rounding dust")

    def mark(self, market: MarketState, names: tuple[str, ...] | None = None) -> None:
        """Settle variation margin of delta-one positions at ``market`` prices."""
        todo = sorted(self._instruments) if names is None else sorted(names)
        unknown = [n for n in todo if n not in self._instruments]
        if unknown:
            raise ValidationError("names", unknown[0], "no position was ever opened in this instrument")
        for name in todo:
            inst = self._instruments[name]
            if isinstance(inst, Option):
                continue
            und = underlying_of(inst)
            if und not in market.prices:
                continue
            new = Fraction(market.price(und))
            old = self._ref.get(name)
            if old is None or old == new:
                self._ref[name] = new
                continue
            asset = settlement_asset(inst)
            unit = self.assets[asset].unit
            flows: list[tuple[str, Fraction]] = []
            for aid in sorted(self._accounts):
                p = self._accounts[aid].positions.get(name)
                if p is None:
                    continue
                q = Fraction(p.quantity)
                pnl = q * (1 / old - 1 / new) if _is_inverse_d1(inst) else q * (new - old)
                flows.append((aid, pnl * unit))
                p.ref_price = new
            self._pot_settle(asset, flows, f"variation margin {name}")
            self._ref[name] = new

    def pay_funding(self, name: str, rate: float, market: MarketState) -> None:
        """Perpetual funding: longs pay shorts ``rate × notional`` (shorts pay if negative)."""
        inst = self._resolve_instrument(name)
        if not isinstance(inst, Perpetual):
            raise ValidationError("instrument", name, "funding applies to perpetuals only")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or abs(rate) >= 1:
            raise ValidationError("rate", rate, "must be a finite funding rate in (-1, 1)")
        self._register_instrument(name, inst)
        s = Fraction(market.price(inst.underlying))
        asset = settlement_asset(inst)
        unit = self.assets[asset].unit
        flows = []
        for aid in sorted(self._accounts):
            p = self._accounts[aid].positions.get(name)
            if p is None:
                continue
            q = Fraction(p.quantity)
            pay = q * Fraction(Decimal(repr(float(rate)))) * (1 / s if _is_inverse_d1(inst) else s)
            flows.append((aid, -pay * unit))
        self._pot_settle(asset, flows, f"funding {name}")

    def expire(self, market: MarketState) -> None:
        """Cash-settle options and futures whose expiry is at or before ``market.ts_ns``.

        Every price the settlement needs is read first, so a missing price refuses the whole call.
        """
        for name in sorted(self._instruments):
            inst = self._instruments[name]
            if isinstance(inst, Option | Future) and inst.expiry_ns <= market.ts_ns:
                market.price(inst.underlying)
                if isinstance(inst, Option) and inst.settlement is Settlement.LINEAR:
                    market.price(inst.quote)
        for name in sorted(self._instruments):
            inst = self._instruments[name]
            if not isinstance(inst, Option | Future) or inst.expiry_ns > market.ts_ns:
                continue
            if isinstance(inst, Future):
                self.mark(market, (name,))
                for acc in self._accounts.values():
                    acc.positions.pop(name, None)
                continue
            s = market.price(inst.underlying)
            payoff = Fraction(inst.intrinsic(s))
            if inst.settlement is Settlement.LINEAR:
                payoff /= Fraction(market.price(inst.quote))
            asset = settlement_asset(inst)
            unit = self.assets[asset].unit
            flows = []
            for aid in sorted(self._accounts):
                p = self._accounts[aid].positions.pop(name, None)
                if p is not None:
                    flows.append((aid, Fraction(p.quantity) * payoff * unit))
            self._pot_settle(asset, flows, f"expiry {name}")

    # ------------------------------------------------------------------ the step ----
    def step(
        self,
        ts_ns: int,
        readings: Mapping[str, OracleReading],
        *,
        vols: Mapping[str, float] | None = None,
        rate: float = 0.0,
        liquidators_present: bool = True,
        depth_usd: Mapping[str, float] | None = None,
        market_prices: Mapping[str, float] | None = None,
    ) -> StepReport:
        """Mark to the oracle, freeze on halted readings, liquidate, resolve bad debt.

        ``readings``: one :class:`keel.oracle.OracleReading` per underlying/collateral asset.
        A HALTED reading freezes every account exposed to that asset (reason recorded) and
        nothing is marked or liquidated on it; a non-finite price on a usable reading is an
        error.  ``depth_usd``: book depth per underlying for close-out pricing.
        ``market_prices``: where liquidators can actually trade (e.g. when the oracle lags);
        a liquidator then also requires the gap between mark and that price as discount.
        """
        if isinstance(ts_ns, bool) or not isinstance(ts_ns, int) or not 0 <= ts_ns < 2**63:
            raise ValidationError("ts_ns", ts_ns, "must be int nanoseconds UTC in [0, 2**63)")
        if not isinstance(readings, Mapping):
            raise ValidationError("readings", readings, "must map assets to OracleReadings")
        halted: dict[str, str] = {}
        bands: dict[str, tuple[float, float]] = {}
        for asset, rd in sorted(readings.items()):
            if not isinstance(rd, OracleReading):
                raise ValidationError(f"readings[{asset}]", rd, "must be an OracleReading")
            if rd.status is OracleStatus.HALTED:
                halted[asset] = "; ".join(rd.reasons) or "oracle halted"
                continue
            if not (_is_real(rd.price) and math.isfinite(rd.price) and rd.price > 0):
                raise ValidationError(f"readings[{asset}].price", rd.price, "must be a finite positive price")
            if not (_is_real(rd.confidence) and math.isfinite(rd.confidence) and 0 <= rd.confidence < rd.price):
                raise ValidationError(f"readings[{asset}].confidence", rd.confidence, "must be in [0, price)")
            bands[asset] = (rd.low, rd.high)
        prices = dict(self._last_prices)
        for asset in bands:
            prices[asset] = float(readings[asset].price)
        oi = {n: float(self.open_interest(n)) for n in sorted(self._instruments)}
        market = MarketState(ts_ns, prices, dict(vols or {}), rate=rate, open_interest=oi)
        self._last_prices = prices  # every input validated: from here the step applies
        bad0, soc0, adl0 = self.bad_debt_usd, self.socialized_usd, self.adl_volume_usd
        # freeze / unfreeze
        frozen: list[tuple[str, str]] = []
        for aid in sorted(self._accounts):
            acc = self._accounts[aid]
            exposed = {underlying_of(p.instrument) for p in acc.positions.values()}
            exposed |= {settlement_asset(p.instrument) for p in acc.positions.values()}
            exposed |= {a for a, b in self.ledger.balances(aid).items() if b != 0}
            bad = sorted(a for a in exposed if a in halted or (a not in market.prices and a not in STABLE_QUOTES))
            if bad:
                reason = "; ".join(f"{a}: {halted.get(a, 'no price')}" for a in bad)
                acc.status = AccountStatus.FROZEN
                acc.frozen_reason = f"oracle halted ({reason})"
                frozen.append((aid, acc.frozen_reason))
            elif acc.status is AccountStatus.FROZEN:
                acc.status = AccountStatus.ACTIVE
                acc.frozen_reason = ""
        # variation margin on usable prices only
        usable = tuple(n for n in sorted(self._instruments) if underlying_of(self._instruments[n]) not in halted)
        self.mark(market, usable)
        self.expire(market)
        records: list[LiquidationRecord] = []
        depth = dict(depth_usd or {})
        for aid in sorted(self._accounts):
            acc = self._accounts[aid]
            if acc.status is AccountStatus.FROZEN or acc.liquidator:
                continue
            if acc.positions:
                if self._below_maintenance(aid, market, bands):
                    records += self._liquidate(aid, market, liquidators_present, depth, market_prices or {})
                else:
                    acc.flagged_ns = None
            if not acc.positions:
                records += self._resolve_debt(aid, market, liquidators_present)
        self.n_liquidations += sum(1 for r in records if r.kind == "liquidation")
        return StepReport(
            ts_ns,
            tuple(records),
            tuple(frozen),
            self.bad_debt_usd - bad0,
            self.socialized_usd - soc0,
            self.adl_volume_usd - adl0,
        )

    def _below_maintenance(self, aid: str, market: MarketState, bands: Mapping[str, tuple[float, float]]) -> bool:
        """True only if collateral < maintenance at the favourable edge of every band."""
        coll = self.collateral_value(aid, market)
        mm = self.requirement(aid, market).maintenance
        if coll >= mm * self.policy.safe_ratio and coll > 0:
            return False
        acc = self._accounts[aid]
        assets = {underlying_of(p.instrument) for p in acc.positions.values()}
        assets |= {a for a, b in self.ledger.balances(aid).items() if b != 0}
        chosen: dict[str, float] = {}
        for a in sorted(assets):
            if a not in bands or bands[a][0] == bands[a][1]:
                continue
            best, best_px = -math.inf, market.price(a)
            for px in bands[a]:
                if px <= 0:
                    continue
                m = market.with_prices(**{a: px})
                slack = self.collateral_value(aid, m) - self.requirement(aid, m).maintenance
                if slack > best:
                    best, best_px = slack, px
            chosen[a] = best_px
        if chosen:
            m = market.with_prices(**chosen)
            coll = self.collateral_value(aid, m)
            mm = self.requirement(aid, m).maintenance
        return coll < mm

    def _notional_usd(self, p: PositionState, market: MarketState) -> float:
        if _is_inverse_d1(p.instrument):
            return abs(float(p.quantity))
        return abs(float(p.quantity)) * market.price(underlying_of(p.instrument))

    def _insurance_usd(self, market: MarketState) -> float:
        return sum(
            max(b, 0) / self.assets[a].unit * market.price(a) for a, b in self.ledger.balances(INSURANCE).items()
        )

    def _pick_liquidator(self, market: MarketState) -> str | None:
        best, best_eq = None, 0.0
        for aid in sorted(self._accounts):
            acc = self._accounts[aid]
            if acc.liquidator and acc.status is AccountStatus.ACTIVE:
                eq = self.collateral_value(aid, market)
                if eq > best_eq:
                    best, best_eq = aid, eq
        return best

    def _liquidate(
        self,
        aid: str,
        market: MarketState,
        present: bool,
        depth: Mapping[str, float],
        real: Mapping[str, float],
    ) -> list[LiquidationRecord]:
        acc = self._accounts[aid]
        ts = market.ts_ns
        if acc.flagged_ns is None:
            acc.flagged_ns = ts
        elapsed = ts - acc.flagged_ns
        coll = self.collateral_value(aid, market)
        eq = self.equity(aid, market)
        mm = self.requirement(aid, market).maintenance
        notional = {n: self._notional_usd(p, market) for n, p in acc.positions.items()}
        total_n = sum(notional.values())
        liquidator = self._pick_liquidator(market) if present else None
        disc: dict[str, float | None] = {}
        for n, p in acc.positions.items():
            d = depth.get(underlying_of(p.instrument), math.inf)
            d = d if math.isfinite(d) else 1e300
            u = underlying_of(p.instrument)
            gap = 0.0
            if u in real:
                mark_u = market.price(u)
                gap = max((mark_u - real[u]) / mark_u if p.quantity > 0 else (real[u] - mark_u) / mark_u, 0.0)
            disc[n] = closeout_discount(self.policy, notional[n], d, elapsed, liquidator is not None, gap)
        est = [d for d in disc.values() if d is not None]
        d_est = max(est) if est else self.policy.max_discount
        cost = total_n * (d_est + self.policy.liquidation_fee)
        f = partial_fraction(coll, mm, cost, self.policy)
        projected = eq - f * total_n * d_est
        no_fill = not est
        fund = self._insurance_usd(market)
        need_adl = (
            (eq < 0 and fund < -eq)
            or (no_fill and (liquidator is None or elapsed >= self.policy.adl_after_ns))
            or (not no_fill and projected < 0 and fund < -projected)
        )
        records: list[LiquidationRecord] = []
        if need_adl:
            records += self._adl(aid, market)
            if not acc.positions:
                return records + self._resolve_debt(aid, market, present)
        if liquidator is None:
            return records
        for n in sorted(acc.positions):
            p = acc.positions[n]
            dn = disc.get(n)
            if dn is None:
                continue
            d = dn
            q = p.quantity
            close = q if f >= 1.0 else (q * Decimal(repr(f))).quantize(_QTY_STEP, rounding=ROUND_UP)
            if abs(close) > abs(q):  # rounding up (towards safety) never closes more than held
                close = q
            if close == 0:
                close = q
            inst = p.instrument
            if isinstance(inst, Option):
                mark = option_mark_in_settlement(inst, n, market)
                if mark <= 0:
                    mark = Fraction(1, 10**8)
            else:
                mark = Fraction(market.price(underlying_of(inst)))
            sgn = 1 if close > 0 else -1
            price = mark * (1 - sgn * Fraction(d))
            if close > 0:
                self.trade(liquidator, aid, n, close, price, market, check_margin=False, reason="liquidation")
            else:
                self.trade(aid, liquidator, n, -close, price, market, check_margin=False, reason="liquidation")
            n_usd = notional[n] * abs(float(close / q))
            self._charge_fee(aid, settlement_asset(inst), n_usd, market)
            rec = LiquidationRecord(ts, aid, liquidator, n, float(-close), float(price), n_usd, d, "liquidation")
            records.append(rec)
        if records and self.collateral_value(aid, market) >= self.requirement(aid, market).maintenance * (
            1 + self.policy.buffer
        ):
            acc.flagged_ns = None
        if not acc.positions:
            records += self._resolve_debt(aid, market, present)
        return records

    def _charge_fee(self, aid: str, asset: str, notional_usd: float, market: MarketState) -> None:
        """Liquidation fee to the insurance fund, never more than the equity left."""
        eq = self.equity(aid, market)
        fee_usd = min(self.policy.liquidation_fee * notional_usd, max(eq, 0.0))
        bal = self.ledger.balance(aid, asset)
        amt = int(fee_usd / market.price(asset) * self.assets[asset].unit)
        amt = min(amt, max(bal, 0))
        if amt > 0:
            self.ledger.transfer(aid, INSURANCE, asset, amt, "liquidation fee")

    def _adl(self, aid: str, market: MarketState) -> list[LiquidationRecord]:
        """Close positions at the bankruptcy price against counterparties ranked by profit × leverage."""
        acc = self._accounts[aid]
        ts = market.ts_ns
        eq = self.equity(aid, market)
        # waterfall: the insurance fund pays first (after the close), ADL prices only the rest
        deficit_usd = max(-eq - self._insurance_usd(market), 0.0)
        d1 = dict(sorted(acc.positions.items()))
        if not d1:
            return []
        notional = {n: self._notional_usd(p, market) for n, p in d1.items()}
        total = sum(notional.values()) or 1.0
        records: list[LiquidationRecord] = []
        for n, p in d1.items():
            inst = p.instrument
            asset = settlement_asset(inst)
            s_und = market.price(underlying_of(inst))
            if isinstance(inst, Option):
                mark = option_mark_in_settlement(inst, n, market)
            else:
                mark = Fraction(s_und)
            d_asset = Fraction(deficit_usd * notional[n] / total / market.price(asset))
            q = Fraction(p.quantity)
            if isinstance(inst, Option):
                pb = max(mark + d_asset / q, Fraction(1, 10**8))
            elif _is_inverse_d1(inst):
                inv = 1 / mark - d_asset / q
                pb = 1 / inv if inv > 0 else mark * 100
            else:
                pb = mark + d_asset / q
                if pb <= 0:
                    pb = mark / 100
            cands = []
            for cid in sorted(self._accounts):
                if cid == aid:
                    continue
                cp = self._accounts[cid].positions.get(n)
                if cp is None or (cp.quantity > 0) == (p.quantity > 0):
                    continue
                ceq = self.equity(cid, market)
                if ceq <= 0:
                    continue
                e = max(float(cp.entry_price), 1e-12)
                s = float(mark)
                prof = (s - e) / e if cp.quantity > 0 else (e - s) / e
                if _is_inverse_d1(inst):
                    prof = (1 / e - 1 / s) * e if cp.quantity > 0 else (1 / s - 1 / e) * e
                cands.append(AdlCandidate(cid, float(cp.quantity), prof, self._notional_usd(cp, market) / ceq))
            remaining = abs(p.quantity)
            for c in rank_adl(cands):
                if remaining <= 0:
                    break
                cq = abs(self._accounts[c.account_id].positions[n].quantity)
                take = min(cq, remaining)
                if p.quantity > 0:
                    self.trade(c.account_id, aid, n, take, pb, market, check_margin=False, reason="adl")
                else:
                    self.trade(aid, c.account_id, n, take, pb, market, check_margin=False, reason="adl")
                remaining -= take
                sgn = 1 if p.quantity > 0 else -1
                usd = float(take) * (1.0 if _is_inverse_d1(inst) else s_und)
                if _is_inverse_d1(inst):
                    hair = abs(float(take) * (1 / float(mark) - 1 / float(pb))) * market.price(asset)
                else:
                    hair = abs(float(take) * float(pb - mark)) * market.price(asset)
                self.adl_volume_usd += usd
                self.socialized_usd += hair
                records.append(
                    LiquidationRecord(ts, aid, c.account_id, n, float(-sgn * take), float(pb), usd, 0.0, "adl")
                )
        return records

    def _resolve_debt(self, aid: str, market: MarketState, present: bool) -> list[LiquidationRecord]:
        """An account with no positions: sell positive collateral for negative balances, then
        cover what is left from the insurance fund, then write it off to ``@socialized``."""
        acc = self._accounts[aid]
        bals = self.ledger.balances(aid)
        if all(b >= 0 for b in bals.values()):
            if acc.status is AccountStatus.BANKRUPT:
                acc.status = AccountStatus.ACTIVE
            return []
        records: list[LiquidationRecord] = []
        liquidator = self._pick_liquidator(market) if present else None
        ts = market.ts_ns
        for neg_asset in sorted(a for a, b in bals.items() if b < 0):
            for pos_asset in sorted(a for a, b in self.ledger.balances(aid).items() if b > 0):
                debt = -self.ledger.balance(aid, neg_asset)
                if debt <= 0 or liquidator is None:
                    break
                pa, na = self.assets[pos_asset], self.assets[neg_asset]
                have = self.ledger.balance(aid, pos_asset)
                px = market.price(pos_asset) * (1 - self.policy.max_discount) / market.price(neg_asset)
                if px <= 0:
                    continue
                # units of neg_asset obtained for all of pos_asset
                value_all = Fraction(have, pa.unit) * Fraction(px) * na.unit
                if value_all <= debt:
                    sell, get = have, int(value_all)
                else:
                    sell = min(have, math.ceil(Fraction(debt, na.unit) / Fraction(px) * pa.unit))
                    get = debt
                if sell <= 0 or get <= 0:
                    continue
                self.ledger.transfer(aid, liquidator, pos_asset, sell, "collateral liquidation")
                self.ledger.transfer(liquidator, aid, neg_asset, get, "collateral liquidation", allow_debt=True)
                usd = sell / pa.unit * market.price(pos_asset)
                md = self.policy.max_discount
                qty_sold = -sell / pa.unit
                rec = LiquidationRecord(ts, aid, liquidator, pos_asset, qty_sold, float(px), usd, md, "collateral")
                records.append(rec)
        for asset, bal in sorted(self.ledger.balances(aid).items()):
            if bal >= 0:
                continue
            if any(b > 0 for b in self.ledger.balances(aid).values()) and liquidator is None:
                continue  # wait for a liquidator to sell the remaining collateral
            paid = cover_from_insurance(self.ledger, aid, asset, -bal)
            usd_paid = paid / self.assets[asset].unit * market.price(asset)
            self.insurance_paid_usd += usd_paid
            self.bad_debt_usd += usd_paid
            rest = -self.ledger.balance(aid, asset)
            if rest > 0:
                self.ledger.transfer(SOCIALIZED, aid, asset, rest, "bad debt written off (socialized)", allow_debt=True)
                usd_rest = rest / self.assets[asset].unit * market.price(asset)
                self.bad_debt_usd += usd_rest
                self.socialized_usd += usd_rest
        acc.flagged_ns = None
        if any(b < 0 for b in self.ledger.balances(aid).values()):
            acc.status = AccountStatus.BANKRUPT
        return records

    @property
    def reserved(self) -> frozenset[str]:
        return RESERVED_HOLDERS

    def monitor_events(
        self, monitor: RiskMonitor, market: MarketState, *, apply: bool = False
    ) -> tuple[RiskEvent, ...]:
        """Run ``monitor`` over every account (sorted) at ``market``; events for agents to consume.

        With ``apply`` a :class:`ReduceOnly` or :class:`Liquidate` event puts the account in
        REDUCE_ONLY (it may then only reduce positions) and an account with neither returns to
        ACTIVE; frozen and bankrupt accounts keep their status.
        """
        out: list[RiskEvent] = []
        for aid in sorted(self._accounts):
            acc = self._accounts[aid]
            if not acc.positions and acc.status is not AccountStatus.FROZEN:
                if apply and acc.status is AccountStatus.REDUCE_ONLY:
                    acc.status = AccountStatus.ACTIVE
                continue
            events = monitor.check(
                market.ts_ns,
                aid,
                self.positions(aid),
                market,
                self.collateral_value(aid, market),
                self.requirement(aid, market).maintenance,
                acc.status,
                acc.frozen_reason,
            )
            if apply and acc.status in (AccountStatus.ACTIVE, AccountStatus.REDUCE_ONLY):
                risky = any(isinstance(e, ReduceOnly | Liquidate) for e in events)
                acc.status = AccountStatus.REDUCE_ONLY if risky else AccountStatus.ACTIVE
            out.extend(events)
        return tuple(out)

    def last_market(self, ts_ns: int, vols: Mapping[str, float] | None = None) -> MarketState:
        """A market state at ``ts_ns`` with the last usable oracle prices."""
        return MarketState(ts_ns, dict(self._last_prices), dict(vols or {}))

    # ------------------------------------------------------------- one account --------
    def liquidate_account(
        self,
        account_id: str,
        market: MarketState,
        bands: Mapping[str, tuple[float, float]] | None = None,
        *,
        liquidators_present: bool = True,
        depth_usd: Mapping[str, float] | None = None,
        market_prices: Mapping[str, float] | None = None,
    ) -> list[LiquidationRecord]:
        """Liquidate one account now, as :meth:`step` would (the :class:`LiquidationPolicy`:
        partial close-out back to maintenance × (1 + buffer) at the Dutch-auction or depth-penalty
        discount, fee to the insurance fund, ADL and bad-debt resolution), without marking or
        scanning the other accounts: for a caller that has already decided (e.g. a vectorized
        health scan) which account to take.

        Refused with :class:`RiskError` (nothing changed) unless the account is active and below
        maintenance at the favourable edge of every band in ``bands`` (asset -> (low, high)).
        """
        acc = self._acc(account_id)
        if acc.liquidator:
            raise ValidationError("account_id", account_id, "is a liquidator account")
        if acc.status is AccountStatus.FROZEN:
            raise RiskError(f"liquidate: account {account_id} is frozen ({acc.frozen_reason})")
        for asset, band in sorted((bands or {}).items()):
            low, high = band
            if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
                raise ValidationError(f"bands[{asset}]", band, "must be finite with 0 < low <= high")
        if not acc.positions or not self._below_maintenance(account_id, market, dict(bands or {})):
            raise RiskError(f"liquidate: account {account_id} is not below maintenance")
        records = self._liquidate(account_id, market, liquidators_present, dict(depth_usd or {}), market_prices or {})
        self.n_liquidations += sum(1 for r in records if r.kind == "liquidation")
        return records

    def reference_price(self, name: str) -> Fraction | None:
        """The price delta-one positions in ``name`` are carried at (last variation-margin mark,
        or the first trade's price before any mark); ``None`` for an instrument never traded."""
        self._instrument(name)
        return self._ref.get(name)

    def list_instrument(self, name: str, instrument: Instrument) -> None:
        """Trade ``instrument`` under ``name`` (instead of parsing the name): for instruments a
        Deribit name cannot carry exactly, e.g. an option expiring at another time than 08:00 UTC.
        Listing the same name again with a different instrument is refused."""
        if not isinstance(name, str) or not name:
            raise ValidationError("name", name, "must be a non-empty instrument name")
        if isinstance(instrument, Spot) or not isinstance(instrument, Option | Future | Perpetual):
            raise ValidationError("instrument", instrument, "must be an option, future or perpetual")
        self._asset(settlement_asset(instrument))
        listed = self._instruments.get(name)
        if listed is not None and listed != instrument:
            raise ValidationError("name", name, f"already lists {listed}")
        self._instruments[name] = instrument

    def settle_with(self, counterparty: str, asset: str, flows: Mapping[str, int], reason: str) -> None:
        """Settle exact amounts between accounts and one ``counterparty`` account (e.g. funding a
        venue accrues per account against the market maker on the other side of every position):
        ``flows[account] > 0`` is paid by the account to the counterparty, ``< 0`` received.
        Everything is validated before any transfer; settlement may create recorded debt."""
        self._acc(counterparty)
        self._asset(asset)
        if not isinstance(reason, str) or not reason:
            raise ValidationError("reason", reason, "must be a non-empty string")
        checked: list[tuple[str, int]] = []
        for aid, amount in sorted(flows.items()):
            self._acc(aid)
            if aid == counterparty:
                raise ValidationError("flows", aid, "an account cannot settle with itself")
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise ValidationError(f"flows[{aid}]", amount, "must be an int in base units")
            checked.append((aid, amount))
        for aid, amount in checked:
            self.ledger.transfer_signed(aid, counterparty, asset, amount, reason, allow_debt=True)
