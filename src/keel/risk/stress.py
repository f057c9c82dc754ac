"""Stress suite from real incidents, run through the clearing house step by step.

Each scenario builds price paths (from the real 1-minute BTC data where the incident is in
``data/``), oracle readings, liquidator availability and book depth, opens a deterministic
population of accounts (seeded), and runs :meth:`keel.risk.ClearingHouse.step` over the
path.  The report gives bad debt, insurance-fund drawdown, socialized loss, liquidations,
ADL volume and the exact ledger imbalance (0).

Scenarios (``SCENARIOS``):

- ``black-thursday-2020``: ETH −43% in a day with the path shape of the real BTCUSDT 1-minute
  window of 2020-03-12 (log moves scaled), the oracle up to $30 behind the market, liquidators
  absent for the 40 minutes of steepest fall.
- ``may-19-2021``: BTC −30% in 2 hours (shape of the real 2020 first leg), +30% over the rest
  of the day, implied vol doubling; option sellers under portfolio margin.
- ``ftx-2022-11``: over 7 days hourly, a venue collateral token −92%, SOL −61%, BTC −24%;
  real Binance funding rates for BTC and SOL of those days are paid every 8 hours.
- ``thin-squeeze``: a thin token pumped ×24 in 15 minutes, then −45%; the attacker's open
  interest is half the float, so open-interest caps push its margin towards 100%.
- ``oct-10-2025``: the real BTCUSDT 1-minute path (−11% in 20 minutes), alts −50% and −80% in
  5 minutes, one venue printing a stablecoin at 0.65 (the oracle's median of three venues
  holds, with a band widened by the outlier).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from keel.domain import NS_PER_HOUR, NS_PER_MINUTE, datetime_to_ns
from keel.errors import ValidationError
from keel.marketdata import load_funding_rates
from keel.oracle import OracleReading, OracleStatus
from keel.risk.accounts import STABLE_QUOTES, CollateralAsset, MarketState
from keel.risk.clearing import ClearingHouse
from keel.risk.history import default_data_dir, kline_closes
from keel.risk.ledger import INSURANCE, SOCIALIZED
from keel.risk.liquidation import CloseoutMode, LiquidationPolicy
from keel.risk.margin import (
    APCMethod,
    LiquidityTier,
    MarginModel,
    PortfolioMargin,
    PredictiveMargin,
    SizeTier,
    StandardMargin,
)
from keel.risk.scenario import ScenarioGrid
from keel.risk.volatility import VolForecast

__all__ = ["SCENARIOS", "StressPath", "StressReport", "StressScenario", "run_stress", "scenario_names"]

USDC = CollateralAsset("USDC", 6, 0.0)


@dataclass(frozen=True)
class StressPath:
    """Per-step inputs; every array has one value per step."""

    ts_ns: np.ndarray
    prices: dict[str, np.ndarray]  # where the market really trades (USD)
    oracle: dict[str, np.ndarray]  # what the oracle reports
    confidence: dict[str, np.ndarray]  # band half-width (USD)
    vols: dict[str, np.ndarray] = field(default_factory=dict)
    liquidators: np.ndarray | None = None  # bool per step
    depth_usd: dict[str, np.ndarray] = field(default_factory=dict)
    funding: dict[str, dict[int, float]] = field(default_factory=dict)  # perp name -> {step: rate}

    @property
    def n_steps(self) -> int:
        return int(self.ts_ns.size)


@dataclass(frozen=True)
class StressReport:
    """Outcome of one scenario; USD amounts are floats rounded to cents for reporting,
    ``ledger_imbalance`` is the exact integer from the ledger (0).

    ``liquidations``: (step, account) close-outs by any route (liquidator fill, ADL,
    collateral sale); ``liquidator_fills``: position slices taken by liquidators;
    ``liquidation_volume``: their notional (USD); ``adl_volume``: notional closed by ADL.
    ``bad_debt``: deficits left after close-out (paid by the fund, the rest socialized).
    """

    scenario: str
    steps: int
    accounts: int
    bad_debt: float
    insurance_fund_start: float
    insurance_fund_end: float
    insurance_drawdown: float
    socialized_loss: float
    liquidations: int
    liquidator_fills: int
    liquidated_accounts: int
    liquidation_volume: float
    adl_volume: float
    frozen_account_steps: int
    ledger_imbalance: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "steps": self.steps,
            "accounts": self.accounts,
            "bad_debt": self.bad_debt,
            "insurance_fund_start": self.insurance_fund_start,
            "insurance_fund_end": self.insurance_fund_end,
            "insurance_drawdown": self.insurance_drawdown,
            "socialized_loss": self.socialized_loss,
            "liquidations": self.liquidations,
            "liquidator_fills": self.liquidator_fills,
            "liquidated_accounts": self.liquidated_accounts,
            "liquidation_volume": self.liquidation_volume,
            "adl_volume": self.adl_volume,
            "frozen_account_steps": self.frozen_account_steps,
            "ledger_imbalance": self.ledger_imbalance,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class StressSetup:
    house: ClearingHouse
    path: StressPath
    notes: tuple[str, ...]


@dataclass(frozen=True)
class StressScenario:
    name: str
    title: str
    build: Callable[[Path, int], StressSetup]


# ------------------------------------------------------------------ helpers -----------
def _usd(x: float) -> int:
    return round(Decimal(repr(x)) * USDC.unit)


def _shape_from_btc(
    data_dir: Path, fname: str, n: int, total_log_move: float, *, first_leg: bool = False
) -> np.ndarray:
    """Cumulative log path of the real BTC window resampled to ``n`` steps, scaled so its
    minimum equals ``total_log_move`` (negative); ``first_leg`` keeps only start..low."""
    series = kline_closes(data_dir / "binance_btcusdt_1m_crashes" / fname)
    lp = np.log(series.price / series.price[0])
    if first_leg:
        lp = lp[: int(np.argmin(lp)) + 1]
    x = np.linspace(0.0, lp.size - 1, n)
    path = np.interp(x, np.arange(lp.size), lp)
    return np.asarray(path * (total_log_move / path.min()))


def _population(
    house: ClearingHouse,
    rng: np.random.Generator,
    name: str,
    price: float,
    n_traders: int,
    long_share: float,
    lev: tuple[float, float],
    collateral: tuple[float, float],
    market: MarketState,
    prefix: str,
    collateral_asset: str = "USDC",
    collateral_price: float = 1.0,
) -> None:
    """Traders opening levered positions against three well-capitalized market makers."""
    makers = [f"mm{i}" for i in range(3)]
    for i in range(n_traders):
        aid = f"{prefix}{i:03d}"
        house.open_account(aid)
        c_usd = float(rng.uniform(*collateral))
        unit = house.assets[collateral_asset].unit
        house.deposit(aid, collateral_asset, round(Decimal(repr(c_usd / collateral_price)) * unit))
        lv = float(rng.uniform(*lev))
        qty = Decimal(repr(round(c_usd * lv / price, 4)))
        if qty <= 0:
            continue
        mm = makers[i % 3]
        if rng.uniform() < long_share:
            house.trade(aid, mm, name, qty, Decimal(repr(price)), market, fee_rate="0.0005", taker=aid)
        else:
            house.trade(mm, aid, name, qty, Decimal(repr(price)), market, fee_rate="0.0005", taker=aid)


def _house(margin: MarginModel, policy: LiquidationPolicy, assets: tuple[CollateralAsset, ...]) -> ClearingHouse:
    h = ClearingHouse(assets, margin, policy, keep_entries=False)
    for i in range(3):
        h.open_account(f"mm{i}")
        h.deposit(f"mm{i}", "USDC", _usd(50_000_000.0))
    for i in range(2):
        h.open_account(f"liquidator{i}", liquidator=True)
        h.deposit(f"liquidator{i}", "USDC", _usd(200_000_000.0))
    return h


def _steepest_window(prices: np.ndarray, width: int) -> tuple[int, int]:
    lp = np.log(prices)
    drops = lp[width:] - lp[:-width]
    i = int(np.argmin(drops))
    return i, i + width


# ------------------------------------------------------------------ scenarios ---------
def _black_thursday(data_dir: Path, seed: int) -> StressSetup:
    n = 288
    shape = _shape_from_btc(data_dir, "BTCUSDT-1m-2020-03-12_0936-1423.csv", n, math.log(1 - 0.43))
    eth0 = 194.0
    true = eth0 * np.exp(shape)
    peak = np.maximum.accumulate(true)
    lag = np.array([max(true[max(0, t - 60) : t + 1]) for t in range(n)])  # an oracle an hour stale
    oracle = true + np.minimum(np.maximum(lag - true, 0.0), 30.0)
    del peak
    a, b = _steepest_window(true, 40)
    liq = np.ones(n, dtype=bool)
    liq[a:b] = False
    ts = datetime_to_ns_at("2020-03-12T09:36") + np.arange(n, dtype=np.int64) * NS_PER_MINUTE
    margin = StandardMargin(default_tier=LiquidityTier(maintenance_fraction=0.5))
    house = _house(margin, LiquidationPolicy(), (USDC,))
    rng = np.random.default_rng(seed)
    m0 = MarketState(int(ts[0]), {"ETH": eth0})
    _population(house, rng, "ETH_USDC-PERPETUAL", eth0, 80, 0.75, (2.0, 12.0), (20_000.0, 400_000.0), m0, "t")
    house.seed_insurance("USDC", _usd(1_500_000.0))
    path = StressPath(
        ts,
        {"ETH": true},
        {"ETH": oracle},
        {"ETH": np.full(n, 0.5)},
        liquidators=liq,
        depth_usd={"ETH": np.full(n, 5_000_000.0)},
    )
    notes = (
        f"ETH path: real BTCUSDT 1m shape 2020-03-12 09:36-14:23 scaled to -43% (low {true.min():.2f} from {eth0})",
        f"oracle up to $30 behind (max gap {float(np.max(oracle - true)):.2f})",
        f"liquidators absent steps {a}-{b} (40 minutes of steepest fall)",
    )
    return StressSetup(house, path, notes)


def datetime_to_ns_at(text: str) -> int:
    import datetime as dt

    return datetime_to_ns(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))


def _may_19(data_dir: Path, seed: int) -> StressSetup:
    # 1-minute steps for the 2-hour fall, then 5-minute steps for the rest of the day
    n_down, n_up = 120, 264
    down = _shape_from_btc(data_dir, "BTCUSDT-1m-2020-03-12_0936-1423.csv", n_down + 1, math.log(0.70), first_leg=True)
    rng = np.random.default_rng(seed)
    up = down[-1] + np.linspace(0.0, math.log(1.30), n_up + 1)[1:]
    up += np.concatenate([[0.0], np.cumsum(rng.normal(0.0, 0.004, n_up - 1))]) * np.linspace(1, 0, n_up)
    lp = np.concatenate([down, up])
    n = lp.size
    s0 = 43_000.0
    btc = s0 * np.exp(lp)
    iv = np.concatenate([np.linspace(0.80, 1.60, n_down + 1), np.linspace(1.60, 1.10, n_up)])
    steps = np.concatenate([np.full(n_down, NS_PER_MINUTE), np.full(n_up, 5 * NS_PER_MINUTE)]).astype(np.int64)
    ts = datetime_to_ns_at("2021-05-19T12:00") + np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
    house = _house(StandardMargin(), LiquidationPolicy(), (USDC,))
    m0 = MarketState(int(ts[0]), {"BTC": s0}, {"BTC": 0.80})
    _population(house, rng, "BTC_USDC-PERPETUAL", s0, 60, 0.7, (2.0, 10.0), (20_000.0, 500_000.0), m0, "t")
    # option sellers under portfolio margin: short puts/calls against the makers
    pm = PortfolioMargin()
    strikes = (36_000, 40_000, 46_000, 50_000)
    for i in range(12):
        aid = f"o{i:03d}"
        house.open_account(aid)
        house.set_margin_model(aid, pm)
        house.deposit(aid, "USDC", _usd(float(rng.uniform(150_000.0, 400_000.0))))
        k = strikes[i % 4]
        kind = "P" if k < s0 else "C"
        name = f"BTC_USDC-25JUN21-{k}-{kind}"
        from keel.risk.accounts import instrument_from_name, option_mark_in_settlement

        inst = instrument_from_name(name)
        mark = option_mark_in_settlement(inst, name, m0)  # type: ignore[arg-type]
        qty = Decimal(repr(round(float(rng.uniform(1.0, 2.5)), 2)))
        house.trade(f"mm{i % 3}", aid, name, qty, mark, m0)
    house.seed_insurance("USDC", _usd(1_000_000.0))
    path = StressPath(
        ts,
        {"BTC": btc},
        {"BTC": btc},
        {"BTC": btc * 0.0005},
        vols={"BTC": iv},
        liquidators=np.ones(n, dtype=bool),
        depth_usd={"BTC": np.full(n, 20_000_000.0)},
    )
    notes = (
        f"BTC {s0:.0f} -> low {btc.min():.0f} (-30%) in 2 h (1-minute steps, shape of the real 2020-03-12 first leg), "
        "then +30% by the end of the day (5-minute steps)",
        "implied vol 80% -> 160% at the low, 110% by the close; 12 option sellers on portfolio margin",
    )
    return StressSetup(house, path, notes)


def _ftx(data_dir: Path, seed: int) -> StressSetup:
    n = 7 * 24 + 1
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)

    def crash(total: float, center: float, width: float, noise: float) -> np.ndarray:
        base = math.log(1 + total) / (1 + np.exp(-(t - center) / width))
        base -= base[0]
        base *= math.log(1 + total) / base[-1]
        walk = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, noise, n - 1))])
        walk -= t * walk[-1]
        return np.asarray(base + walk)

    ftt = 22.0 * np.exp(crash(-0.92, 0.30, 0.05, 0.02))
    sol = 32.0 * np.exp(crash(-0.61, 0.40, 0.08, 0.01))
    btc = 20_600.0 * np.exp(crash(-0.24, 0.45, 0.08, 0.004))
    ts = datetime_to_ns_at("2022-11-06T00:00") + np.arange(n, dtype=np.int64) * NS_PER_HOUR
    ftt_asset = CollateralAsset("FTT", 8, 0.30)
    house = _house(StandardMargin(), LiquidationPolicy(), (USDC, ftt_asset))
    m0 = MarketState(int(ts[0]), {"BTC": float(btc[0]), "SOL": float(sol[0]), "FTT": float(ftt[0])})
    _population(house, rng, "BTC_USDC-PERPETUAL", float(btc[0]), 40, 0.7, (2.0, 8.0), (20_000.0, 300_000.0), m0, "b")
    _population(house, rng, "SOL_USDC-PERPETUAL", float(sol[0]), 40, 0.7, (2.0, 6.0), (20_000.0, 200_000.0), m0, "s")
    # accounts collateralized with the venue token, long SOL
    for i in range(20):
        aid = f"f{i:03d}"
        house.open_account(aid)
        c = float(rng.uniform(50_000.0, 300_000.0))
        house.deposit(aid, "FTT", round(Decimal(repr(c / float(ftt[0]))) * ftt_asset.unit))
        qty = Decimal(repr(round(c * 0.7 * float(rng.uniform(1.0, 3.0)) / float(sol[0]), 2)))
        house.trade(aid, f"mm{i % 3}", "SOL_USDC-PERPETUAL", qty, Decimal(repr(float(sol[0]))), m0)
    house.seed_insurance("USDC", _usd(2_000_000.0))
    funding: dict[str, dict[int, float]] = {}
    for sym, name in (("BTCUSDT", "BTC_USDC-PERPETUAL"), ("SOLUSDT", "SOL_USDC-PERPETUAL")):
        fts, rates = load_funding_rates(data_dir / "binance_perp_funding_rates" / f"{sym}.csv")
        m: dict[int, float] = {}
        for k in range(n):
            hit = np.nonzero((fts >= ts[k]) & (fts < ts[k] + NS_PER_HOUR))[0]
            if hit.size:
                m[k] = float(rates[hit[0]])
        funding[name] = m
    liq = np.ones(n, dtype=bool)
    path = StressPath(
        ts,
        {"BTC": btc, "SOL": sol, "FTT": ftt},
        {"BTC": btc, "SOL": sol, "FTT": ftt},
        {"BTC": btc * 0.0005, "SOL": sol * 0.001, "FTT": ftt * 0.005},
        liquidators=liq,
        depth_usd={"BTC": np.full(n, 30_000_000.0), "SOL": np.full(n, 5_000_000.0), "FTT": np.full(n, 500_000.0)},
        funding=funding,
    )
    n_f = sum(len(v) for v in funding.values())
    notes = (
        f"FTT {ftt[0]:.2f}->{ftt[-1]:.2f} (-92%), SOL {sol[0]:.1f}->{sol[-1]:.1f} (-61%), "
        f"BTC {btc[0]:.0f}->{btc[-1]:.0f} (-24%), hourly over 7 days",
        f"{n_f} real Binance funding payments (BTCUSDT, SOLUSDT 2022-11-06..13) settled on the perps",
        "20 accounts hold FTT (30% haircut) as their only collateral",
    )
    return StressSetup(house, path, notes)


def _thin_squeeze(data_dir: Path, seed: int) -> StressSetup:
    n_up, n_down = 15, 30
    p0 = 0.05
    up = np.linspace(0.0, math.log(24.0), n_up + 1)
    down = math.log(24.0) + np.linspace(0.0, math.log(0.55), n_down + 1)[1:]
    n_flat = 5
    lp = np.concatenate([np.zeros(n_flat), up, down])
    px = p0 * np.exp(lp)
    n = px.size
    ts = datetime_to_ns_at("2022-10-11T22:00") + np.arange(n, dtype=np.int64) * NS_PER_MINUTE
    float_tokens = 200_000_000.0  # circulating supply
    tier = LiquidityTier(
        size_tiers=(SizeTier(250_000.0, 0.10), SizeTier(1_000_000.0, 0.20), SizeTier(math.inf, 0.50)),
        maintenance_fraction=0.6,
        oi_lower_cap=500_000.0,
        oi_upper_cap=5_000_000.0,
    )
    margin = StandardMargin({"THIN": tier})
    policy = LiquidationPolicy(mode=CloseoutMode.DEPTH_PENALTY, buffer=0.25)
    house = _house(margin, policy, (USDC,))
    rng = np.random.default_rng(seed)
    name = "THIN_USDC-PERPETUAL"
    m0 = MarketState(int(ts[0]), {"THIN": p0})
    # shorts (hedgers, farmers) against the makers first
    for i in range(40):
        aid = f"s{i:03d}"
        house.open_account(aid)
        c = float(rng.uniform(5_000.0, 50_000.0))
        house.deposit(aid, "USDC", _usd(c))
        qty = Decimal(repr(round(c * float(rng.uniform(1.0, 4.0)) / p0, 0)))
        house.trade(f"mm{i % 3}", aid, name, qty, Decimal(repr(p0)), m0)
    # the attacker: long half the float, fully collateralized at entry
    attacker_qty = Decimal(repr(float_tokens / 2))
    house.open_account("attacker")
    house.deposit("attacker", "USDC", _usd(float(attacker_qty) * p0 * 1.05))
    oi_usd = float(house.open_interest(name)) * p0
    m_oi = MarketState(int(ts[0]), {"THIN": p0}, open_interest={name: float(house.open_interest(name))})
    for i in range(3):
        house.trade("attacker", f"mm{i}", name, attacker_qty / 3, Decimal(repr(p0)), m_oi)
    imf_att = tier.fractions(float(attacker_qty) * p0, oi_usd)[0]
    house.seed_insurance("USDC", _usd(3_000_000.0))
    depth = np.full(n, 300_000.0)
    path = StressPath(
        ts,
        {"THIN": px},
        {"THIN": px},
        {"THIN": px * 0.01},
        liquidators=np.ones(n, dtype=bool),
        depth_usd={"THIN": depth},
    )
    notes = (
        f"THIN {p0} -> x24 ({px.max():.2f}) in 15 min -> -45% ({px[-1]:.3f}); attacker long "
        f"{float(attacker_qty):,.0f} = half the float; open interest before the attack {oi_usd:,.0f} USD",
        f"open-interest caps 0.5M..5M USD raised the attacker's initial margin fraction to {imf_att:.0%}",
        "depth-sized liquidation penalty (thin book: 300k USD)",
    )
    return StressSetup(house, path, notes)


def _oct_10(data_dir: Path, seed: int) -> StressSetup:
    series = kline_closes(data_dir / "binance_btcusdt_1m_crashes" / "BTCUSDT-1m-2025-10-10_2028-2237.csv")
    btc = series.price.copy()
    n = btc.size
    ts = series.ts_ns.copy()
    low = int(np.argmin(btc))
    rng = np.random.default_rng(seed)

    def alt(p0: float, drop: float, beta: float) -> np.ndarray:
        lp = beta * np.log(btc / btc[0])
        crash = np.zeros(n)
        start = max(low - 5, 0)
        crash[start : low + 1] = np.linspace(0.0, math.log(1 - drop), low + 1 - start)
        recov = np.linspace(math.log(1 - drop), math.log(1 - drop) * 0.5, n - low)
        crash[low:] = recov
        return np.asarray(p0 * np.exp(lp + crash + rng.normal(0, 0.001, n)))

    alt1 = alt(0.80, 0.50, 1.5)
    alt2 = alt(2.40, 0.80, 1.8)
    # the stablecoin: three venues, one printing 0.65 around the low; the oracle takes the median
    venues = np.ones((3, n))
    venues[2, max(low - 10, 0) : low + 20] = np.linspace(1.0, 0.65, low + 20 - max(low - 10, 0))
    venues[1] += rng.normal(0.0, 0.0005, n)
    stable_oracle = np.median(venues, axis=0)
    stable_conf = np.maximum(np.abs(venues - stable_oracle).max(axis=0) / 2.0, 0.001)
    usde = CollateralAsset("USDE", 6, 0.05)
    house = _house(StandardMargin(), LiquidationPolicy(), (USDC, usde))
    m0 = MarketState(int(ts[0]), {"BTC": float(btc[0]), "ALT1": float(alt1[0]), "ALT2": float(alt2[0]), "USDE": 1.0})
    _population(house, rng, "BTC_USDC-PERPETUAL", float(btc[0]), 50, 0.7, (2.0, 15.0), (20_000.0, 500_000.0), m0, "b")
    _population(house, rng, "ALT1_USDC-PERPETUAL", float(alt1[0]), 25, 0.75, (1.5, 4.0), (10_000.0, 100_000.0), m0, "a")
    _population(house, rng, "ALT2_USDC-PERPETUAL", float(alt2[0]), 25, 0.75, (1.2, 3.0), (10_000.0, 100_000.0), m0, "z")
    _population(
        house, rng, "BTC_USDC-PERPETUAL", float(btc[0]), 20, 0.7, (2.0, 5.0), (20_000.0, 300_000.0), m0, "u", "USDE"
    )
    house.seed_insurance("USDC", _usd(3_000_000.0))
    path = StressPath(
        ts,
        {"BTC": btc, "ALT1": alt1, "ALT2": alt2, "USDE": venues[2]},
        {"BTC": btc, "ALT1": alt1, "ALT2": alt2, "USDE": stable_oracle},
        {"BTC": btc * 0.0005, "ALT1": alt1 * 0.002, "ALT2": alt2 * 0.002, "USDE": stable_conf},
        liquidators=np.ones(n, dtype=bool),
        depth_usd={"BTC": np.full(n, 50_000_000.0), "ALT1": np.full(n, 2_000_000.0), "ALT2": np.full(n, 1_000_000.0)},
    )
    drop20 = float(np.min(btc[20:] / btc[:-20]) - 1.0)
    notes = (
        f"BTC: real BTCUSDT 1m 2025-10-10 20:28-22:37 ({btc[0]:.0f} -> low {btc.min():.0f}; "
        f"worst 20-minute move {drop20:.1%})",
        "ALT1 -50% and ALT2 -80% in the 5 minutes into the BTC low",
        "USDE printed 0.65 on one of three venues; oracle median held at "
        f"{float(stable_oracle.min()):.4f}; 20 accounts hold USDE collateral",
    )
    return StressSetup(house, path, notes)


SCENARIOS: dict[str, StressScenario] = {
    s.name: s
    for s in (
        StressScenario(
            "black-thursday-2020", "ETH -43%, oracle $30 behind, liquidators absent 40 min", _black_thursday
        ),
        StressScenario("may-19-2021", "BTC -30% in 2 h, +30% in the day, implied vol doubles", _may_19),
        StressScenario("ftx-2022-11", "collateral token -92% in 7 days, SOL -61%, BTC -24%", _ftx),
        StressScenario(
            "thin-squeeze", "thin market x24 in 15 min then -45%, attacker OI half the float", _thin_squeeze
        ),
        StressScenario("oct-10-2025", "real BTC 1m -11%/20 min, alts -50..-80% in 5 min, stablecoin 0.65", _oct_10),
    )
}


def scenario_names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


def _insurance_usd(house: ClearingHouse, market: MarketState) -> float:
    return sum(b / house.assets[a].unit * market.price(a) for a, b in house.ledger.balances(INSURANCE).items())


MARGIN_MODES = ("predictive", "standard")


def _predictive(variances: dict[str, float], floor: MarginModel, horizon_min: int = 5) -> PredictiveMargin:
    forecasts = {u: VolForecast("ewma", (v,) * horizon_min) for u, v in variances.items()}
    base = PortfolioMargin(grid=ScenarioGrid(extended_moves=()))
    return PredictiveMargin(forecasts, horizon_min, 0.99, APCMethod.BUFFER, base=base, floor_model=floor)


def run_stress(
    name: str,
    *,
    data_dir: Path | None = None,
    seed: int = 7,
    margin: str = "predictive",
    check_every_step: bool = True,
) -> StressReport:
    """Run one scenario; ``check_every_step`` asserts the exact ledger identity at every step.

    ``margin``: ``standard`` keeps the scenario's static tiered margin; ``predictive`` (the
    default) makes each step's maintenance the larger of that schedule and a 99% scan over a
    5-minute horizon from an EWMA (λ = 0.94) of the oracle's per-minute log returns, with the
    25% APC buffer, seeded at 80%/year (a stated prior, not data).  Portfolio-margined
    accounts keep their own model.
    """
    if margin not in MARGIN_MODES:
        raise ValidationError("margin", margin, f"must be one of {', '.join(MARGIN_MODES)}")
    sc = SCENARIOS.get(name)
    if sc is None:
        raise ValidationError("scenario", name, f"unknown; choose one of {', '.join(SCENARIOS)}")
    root = default_data_dir() if data_dir is None else Path(data_dir)
    setup = sc.build(root, seed)
    house, path = setup.house, setup.path
    m_start = MarketState(int(path.ts_ns[0]), {a: float(v[0]) for a, v in path.oracle.items()})
    ins_start = _insurance_usd(house, m_start)
    totals0 = house.system_totals()
    liquidated: set[str] = set()
    events: set[tuple[int, str]] = set()
    n_fills = 0
    liq_volume = 0.0
    frozen_steps = 0
    floor = house.margin
    var_min = {a: 0.80**2 / 525_600.0 for a in path.oracle if a not in STABLE_QUOTES and a != "USDE"}
    for k in range(path.n_steps):
        ts = int(path.ts_ns[k])
        if margin == "predictive":
            if k > 0:
                dt_min = max((ts - int(path.ts_ns[k - 1])) / NS_PER_MINUTE, 1e-9)
                for a in var_min:
                    ret = math.log(float(path.oracle[a][k]) / float(path.oracle[a][k - 1]))
                    var_min[a] = 0.94 * var_min[a] + 0.06 * ret * ret / dt_min
            house.margin = _predictive(var_min, floor)
        readings = {
            a: OracleReading(float(path.oracle[a][k]), float(path.confidence[a][k]), OracleStatus.OK, ts, ("stress",))
            for a in sorted(path.oracle)
        }
        vols = {u: float(v[k]) for u, v in path.vols.items()}
        present = True if path.liquidators is None else bool(path.liquidators[k])
        depth = {u: float(v[k]) for u, v in path.depth_usd.items()}
        real = {a: float(v[k]) for a, v in path.prices.items()}
        rep = house.step(ts, readings, vols=vols, liquidators_present=present, depth_usd=depth, market_prices=real)
        for perp, sched in sorted(path.funding.items()):
            if k in sched:
                house.pay_funding(perp, sched[k], house.last_market(ts, vols))
        for r in rep.liquidations:
            events.add((k, r.account_id))
            liquidated.add(r.account_id)
            if r.kind == "liquidation":
                n_fills += 1
                liq_volume += r.notional_usd
        frozen_steps += len(rep.frozen)
        if check_every_step:
            imb = house.imbalance()
            if imb != 0 or house.system_totals() != totals0:
                raise AssertionError(f"ledger out of balance at step {k}: {imb}")
    m_end = house.last_market(int(path.ts_ns[-1]))
    ins_end = _insurance_usd(house, m_end)
    socialized = -sum(b / house.assets[a].unit * m_end.price(a) for a, b in house.ledger.balances(SOCIALIZED).items())
    return StressReport(
        scenario=name,
        steps=path.n_steps,
        accounts=len(house.account_ids),
        bad_debt=round(house.bad_debt_usd, 2),
        insurance_fund_start=round(ins_start, 2),
        insurance_fund_end=round(ins_end, 2),
        insurance_drawdown=round(max(ins_start - ins_end, 0.0), 2),
        socialized_loss=round(house.socialized_usd + 0.0 * socialized, 2),
        liquidations=len(events),
        liquidator_fills=n_fills,
        liquidated_accounts=len(liquidated),
        liquidation_volume=round(liq_volume, 2),
        adl_volume=round(house.adl_volume_usd, 2),
        frozen_account_steps=frozen_steps,
        ledger_imbalance=int(house.imbalance()),
        notes=setup.notes,
    )
