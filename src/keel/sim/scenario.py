"""The simulated world's own pieces: market path, reference prices, pool feeds, the perp crowd,
the desk's risk inputs and the accountant (the REPORTING actor), and the run's result.

``keel.runtime.build_world`` wires them (one builder per config section) and
``keel.runtime.run_simulation`` runs them; nothing here wires a world.

Option legs are settled at expiry by the ``OptionExpiry`` actor (stage RISK, before the risk actor).
The accountant (stage REPORTING, the last actor each block) only records: it attributes each
block's change in desk equity to theta, gamma, vega, delta, hedging slippage, gas, MEV loss,
funding and option edge; the remainder (higher-order terms) is ``other``, so the parts sum to the
total exactly.  Margin, Greeks and risk events come from ``keel.risk.RiskActor`` (stage RISK,
before the agents); the accountant reads its last measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keel.agents.book import DeskBook
from keel.domain import NS_PER_HOUR, NS_PER_SECOND, NS_PER_YEAR, Spot, Token
from keel.engine import MARKET_DATA, SNAPSHOTS, Actor, Block, BlockSnapshot, EventRecorder, MarketData, Stage
from keel.errors import ConfigError
from keel.oracle import OracleActor
from keel.risk import RiskActor, RiskInputs
from keel.risk.perpetual import PerpVenue
from keel.sim.chain import GWEI
from keel.sim.config import ScenarioConfig, config_file, parse_utc
from keel.sim.paths import MarketPath, replay_path, synthetic_path, with_crash
from keel.venues.options import OptionsVenue, SviSlice, SviSurface
from keel.venues.uniswap_v3 import Pool

__all__ = [
    "PNL_PARTS",
    "USDC",
    "WETH",
    "Accountant",
    "DeskRiskInputs",
    "MarketDataActor",
    "OptionExpiry",
    "PerpCrowd",
    "PoolPrice",
    "ReferencePrices",
    "SimResult",
    "VolReplayScale",
    "build_path",
    "fitted_surface",
    "pool_eth_price",
    "sqrt_price_x96",
    "svi_surface",
]

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)
Q96 = 2**96
PNL_PARTS = (
    "theta",
    "gamma",
    "vega",
    "delta",
    "option_edge",
    "hedging_slippage",
    "gas",
    "mev_loss",
    "funding",
    "other",
)
_STABLES = ("USDC", "USDT", "USD", "DAI")
_STATUS_CODE = {"ok": 0.0, "degraded": 1.0, "halted": 2.0}


def build_path(config: ScenarioConfig, root: Path) -> MarketPath:
    m = config.market
    start = parse_utc(m.start)
    horizon = int(m.hours * NS_PER_HOUR)

    def resolve(name: str | None) -> Path:
        assert name is not None
        p = config_file(config, root, name)
        if not p.is_file():
            raise ConfigError("market.file", name, "no such file")
        return p

    if m.kind in ("uniswap_swaps", "binance_klines"):
        return replay_path(m.kind, resolve(m.file), start, start + horizon)
    if m.kind == "catalog":
        from keel.sim.paths import catalog_path

        assert m.pool is not None
        folder = config_file(config, root, m.catalog)
        return catalog_path(folder, m.chain_id, m.pool, start, start + horizon, base=m.asset)
    from keel.pricing import mc

    steps = max(int(m.hours * 60), 1)  # one point a minute
    model: Any
    if m.kind in ("gbm", "crash"):
        model = mc.GBM(m.s0, m.rate, m.sigma)
    elif m.kind == "merton":
        model = mc.Merton(m.s0, m.rate, m.sigma, m.jump_intensity, m.jump_mean, m.jump_sigma)
    else:
        model = mc.Heston(m.s0, m.rate, m.sigma**2, m.heston_kappa, m.sigma**2, m.heston_xi, m.heston_rho)
    path = synthetic_path(model, start, horizon, steps, config.seed, name=m.kind)
    if m.kind == "crash":
        minute = 60 * NS_PER_SECOND
        path = with_crash(
            path,
            start + int(m.crash_at_hours * NS_PER_HOUR),
            m.crash_drop,
            int(m.crash_minutes * minute),
            m.crash_recovery,
            int(m.crash_recovery_minutes * minute),
        )
    return path


@dataclass
class SimResult:
    """What a run produced: the summary (JSON-ready), the event log and per-block series."""

    summary: dict[str, Any]
    recorder: EventRecorder
    series: dict[str, np.ndarray]
    path: MarketPath
    hedge_fills: list[tuple[int, float, float]] = field(default_factory=list)


def sqrt_price_x96(eth_usd: float) -> int:
    """The USDC/WETH pool's sqrtPriceX96 at ``eth_usd`` (token0 USDC 6 decimals, token1 WETH 18:
    raw price = WETH wei per USDC unit = 1e12 / S)."""
    return int(math.sqrt(1e12 / eth_usd) * Q96)


def pool_eth_price(pool: Any) -> float:
    """USD per ETH of the USDC/WETH pool (inverse of :func:`sqrt_price_x96`), by keel.oracle.dex.

    Either token order: the simulator opens USDC as token0, a chain's pool sorts by address."""
    from keel.oracle.dex import price_from_sqrt_price_x96

    t0, t1 = pool.token0, pool.token1
    return price_from_sqrt_price_x96(int(pool.sqrt_price_x96), t0.decimals, t1.decimals, invert=t0.symbol in _STABLES)


class ReferencePrices:
    """The reference market (the path) as price callbacks: ``price(ts)`` (USD per asset, memoized for
    the last few timestamps) and ``usd(symbol, ts)`` (1.0 for stables).  A class, so a world pickles."""

    def __init__(self, path: MarketPath) -> None:
        self.path = path
        self._memo: dict[int, float] = {}

    def price(self, ts: int) -> float:
        memo = self._memo
        p = memo.get(ts)
        if p is None:
            if len(memo) > 4:
                memo.clear()
            p = memo[ts] = self.path.at(ts)
        return p

    def __call__(self, ts: int) -> float:
        return self.price(ts)

    def usd(self, symbol: str, ts: int) -> float:
        return 1.0 if symbol in _STABLES else self.price(ts)


class PoolPrice:
    """A pool's mid price in USD per ETH, as an oracle feed (``ts`` ignored: the pool's current state).

    Recomputed only when the pool's ``state_version`` changes (equal versions are equal states)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._version: int | None = None
        self._price = math.nan

    def __call__(self, ts: int = 0) -> float:
        version = getattr(self.pool, "state_version", None)
        if version is None or version != self._version:
            self._price = pool_eth_price(self.pool)
            self._version = version
        return self._price


class MarketDataActor(Actor):
    """Stage MARKET_DATA: publishes the reference price and the pools' prices after the block's transactions."""

    stage = Stage.MARKET_DATA

    def __init__(self, prices: ReferencePrices, pools: dict[str, Any]) -> None:
        super().__init__("market_data")
        self.prices = prices
        self.pools = pools
        self._pool_prices: dict[str, PoolPrice] = {}  # per pool, recomputed only when its state changed

    def _pool_price(self, name: str, pool: Any) -> float:
        price = self._pool_prices.get(name)
        if price is None or price.pool is not pool:  # a pool opened (or replaced) since the last block
            price = self._pool_prices[name] = PoolPrice(pool)
        return price()

    def on_block(self, block: Block) -> None:
        if not self.ctx.listening(MARKET_DATA):
            return
        pools = tuple((name, self._pool_price(name, pool)) for name, pool in self.pools.items())
        self.ctx.publish(MARKET_DATA, MarketData(block.number, block.ts_ns, self.prices.price(block.ts_ns), pools))


class DeskRiskInputs:
    """The desk as ``keel.risk.RiskActor`` sees it: option legs and the spot hedge as positions
    (portfolio margin revalues them together), equity in USD; or, for a perp-only desk, the perp
    venue's own margin ratio."""

    def __init__(self, book: DeskBook | None, options: OptionsVenue | None, perp: PerpVenue | None) -> None:
        self.book = book
        self.options = options
        self.perp = perp

    def equity(self, spot: float, ts: int) -> float:
        total = 0.0
        if self.book is not None and self.options is not None:
            total += self.book.equity_usd(self.options, spot, ts)
        if self.perp is not None:
            size, collateral, entry = self.perp.account("desk")
            total += collateral + size * (spot - entry)
        return total

    def __call__(self, ts: int, spot: float) -> RiskInputs | None:
        from keel.risk.accounts import MarketState, PositionView

        if not math.isfinite(spot):
            return None
        if self.perp is not None and self.book is None:
            ratio = float(self.perp.margin_ratio(spot)[self.perp._index["desk"]])
            return RiskInputs((), None, self.equity(spot, ts), margin_ratio=ratio)
        book, options = self.book, self.options
        if book is None or options is None:
            return None
        positions: list[PositionView] = []
        vols: dict[str, float] = {}
        for name in sorted(book.options):
            option, qty = book.options[name]
            if option.expiry_ns <= ts:
                continue
            positions.append(PositionView(name, option, qty))
            vols[name] = options.greeks(option, spot, ts)[4]
        if not positions:
            return RiskInputs((), None, self.equity(spot, ts))
        asset = book.asset_token.symbol.removeprefix("W")
        held = book.asset_units()
        if held != 0.0:  # the hedge offsets the options' delta inside the scan
            positions.append(PositionView(asset, Spot(asset, "USD"), held))
        market = MarketState(ts, {asset: spot}, vols={asset: float(np.median(list(vols.values())))}, option_vols=vols)
        return RiskInputs(tuple(positions), market, self.equity(spot, ts))


class Accountant(Actor):
    """Stage REPORTING: attributes the desk's PnL block by block and records the series for the report.

    It only records: margin and risk events are the :class:`keel.risk.RiskActor`'s (read, not
    recomputed).  With run subscribers attached it publishes a :class:`BlockSnapshot` per block."""

    stage = Stage.REPORTING

    def __init__(
        self,
        book: DeskBook | None,
        options: OptionsVenue | None,
        oracle: OracleActor,
        reference: ReferencePrices,
        pool: Pool | None,
        perp: PerpVenue | None,
        risk: RiskActor | None,
        edge: Callable[[], float],
        initial_equity: float,
        start_spot: float,
        pool_price: PoolPrice | None = None,
    ) -> None:
        super().__init__("accountant")
        self.book, self.options, self.oracle, self.ref, self.pool, self.perp = (
            book,
            options,
            oracle,
            reference,
            pool,
            perp,
        )
        self.risk = risk
        self._pool_price = pool_price if pool_price is not None else PoolPrice(pool) if pool is not None else None
        self.edge = edge
        self.parts = dict.fromkeys(PNL_PARTS, 0.0)
        self.rows: dict[str, list[float]] = {
            k: []
            for k in (
                "ts_ns",
                "ref",
                "pool",
                "spot",
                "equity",
                "pnl",
                "delta",
                "asset",
                "margin_ratio",
                "base_fee_gwei",
                "oracle_price",
                "oracle_confidence",
                "oracle_status",
                *("pnl_" + part for part in PNL_PARTS),
            )
        }
        self._prev: dict[str, tuple[float, float, float, float, float, float]] = {}
        self._prev_spot = start_spot
        self._prev_ts = 0
        self._prev_equity = initial_equity
        self._prev_costs = (0.0, 0.0, 0.0, 0.0, 0.0)
        self._prev_asset = book.asset_units() if book is not None else 0.0
        self._prev_perp_size = perp.account("desk")[0] if perp is not None else 0.0
        self.start_equity = initial_equity
        self.peak = 0.0
        self.max_drawdown = 0.0
        self.blocks = 0

    @property
    def min_margin_ratio(self) -> float:
        return self.risk.min_margin_ratio if self.risk is not None else math.inf

    def equity(self, spot: float, ts: int) -> float:
        total = 0.0
        if self.book is not None and self.options is not None:
            total += self.book.equity_usd(self.options, spot, ts)
        if self.perp is not None:
            size, collateral, entry = self.perp.account("desk")
            total += collateral + size * (spot - entry)
        return total

    def _legs(self, spot: float, ts: int) -> dict[str, tuple[float, float, float, float, float, float]]:
        out: dict[str, tuple[float, float, float, float, float, float]] = {}
        if self.book is None or self.options is None:
            return out
        for name in sorted(self.book.options):
            option, qty = self.book.options[name]
            if option.expiry_ns <= ts:
                continue
            v, d, g, ve, sig = self.options.greeks(option, spot, ts)
            out[name] = (qty, v, d, g, ve, sig)
        return out

    def _costs(self) -> tuple[float, float, float, float, float]:
        b = self.book
        perp_funding = 0.0
        if self.perp is not None:
            perp_funding = -float(self.perp.funding_paid[self.perp._index["desk"]])
        if b is None:
            return (0.0, 0.0, 0.0, perp_funding, self.edge())
        return (b.slippage_usd, b.mev_loss_usd, b.gas_usd, b.funding_usd + perp_funding, self.edge())

    def on_block(self, block: Block) -> None:
        ts = block.ts_ns
        spot = float(self.oracle.price(ts))
        equity = self.equity(spot, ts)
        costs = self._costs()
        legs = self._legs(spot, ts)
        dS = spot - self._prev_spot
        step = dict.fromkeys(PNL_PARTS, 0.0)
        for name, (qty, v0, d0, g0, ve0, s0) in self._prev.items():
            now = legs.get(name)
            option = self.book.options[name][0] if self.book and name in self.book.options else None
            if option is None or now is None or now[0] != qty:
                continue
            assert self.options is not None
            v_t = self.options.value(option, self._prev_spot, ts, s0)
            step["theta"] += qty * (v_t - v0)
            step["delta"] += qty * d0 * dS
            step["gamma"] += qty * 0.5 * g0 * dS * dS
            step["vega"] += qty * ve0 * (now[5] - s0)
        step["delta"] += self._prev_asset * dS + self._prev_perp_size * dS
        p = self._prev_costs
        step["hedging_slippage"] = -(costs[0] - p[0])
        step["mev_loss"] = -(costs[1] - p[1])
        step["gas"] = -(costs[2] - p[2])
        step["funding"] = costs[3] - p[3]
        step["option_edge"] = costs[4] - p[4]
        explained = sum(step[k] for k in PNL_PARTS if k != "other")
        step["other"] = (equity - self._prev_equity) - explained
        for k in PNL_PARTS:
            self.parts[k] += step[k]
        ratio = self.risk.margin_ratio if self.risk is not None else math.inf
        pnl = equity - self.start_equity
        self.peak = max(self.peak, pnl)
        self.max_drawdown = max(self.max_drawdown, self.peak - pnl)
        delta = sum(q * d for q, _, d, _, _, _ in legs.values())
        asset = self.book.asset_units() if self.book is not None else 0.0
        perp_size = self.perp.account("desk")[0] if self.perp is not None else 0.0
        row = self.rows
        row["ts_ns"].append(ts)
        row["ref"].append(self.ref.price(ts))
        row["pool"].append(self._pool_price() if self._pool_price is not None else math.nan)
        row["spot"].append(spot)
        row["equity"].append(equity)
        row["pnl"].append(pnl)
        row["delta"].append(delta + asset + perp_size)
        row["asset"].append(asset + perp_size)
        row["margin_ratio"].append(ratio)
        row["base_fee_gwei"].append(block.base_fee_wei / GWEI)
        reading = self.oracle.reading
        if reading is not None:
            row["oracle_price"].append(reading.price)
            row["oracle_confidence"].append(reading.confidence)
            row["oracle_status"].append(_STATUS_CODE[reading.status.value])
        else:
            row["oracle_price"].append(math.nan)
            row["oracle_confidence"].append(math.nan)
            row["oracle_status"].append(math.nan)
        parts = self.parts
        for part in PNL_PARTS:
            row["pnl_" + part].append(parts[part])
        self._prev, self._prev_spot, self._prev_ts = legs, spot, ts
        self._prev_equity, self._prev_costs, self._prev_asset, self._prev_perp_size = equity, costs, asset, perp_size
        self.blocks += 1
        if self.ctx.listening(SNAPSHOTS):
            self._snapshot(block, spot, legs, asset, perp_size, delta + asset + perp_size, equity, pnl, ratio)

    def _book_greeks(
        self, spot: float, ts: int, legs: dict[str, tuple[float, float, float, float, float, float]]
    ) -> tuple[float, float, float]:
        """(gamma, vega, theta per day) of the option legs (see :class:`keel.engine.BlockSnapshot`)."""
        if self.options is None or self.book is None:
            return math.nan, math.nan, math.nan
        gamma = vega = theta = 0.0
        for name, (qty, _v, _d, g, ve, sigma) in legs.items():
            gamma += qty * g
            vega += qty * ve
            theta += qty * self.options.theta(self.book.options[name][0], spot, ts, sigma)
        return gamma, vega, theta

    def _snapshot(
        self,
        block: Block,
        spot: float,
        legs: dict[str, tuple[float, float, float, float, float, float]],
        asset: float,
        perp_size: float,
        net_delta: float,
        equity: float,
        pnl: float,
        ratio: float,
    ) -> None:
        positions = [(name, leg[0]) for name, leg in legs.items()]
        if self.book is not None:
            positions.append((self.book.asset_token.symbol, asset))
        if self.perp is not None:
            positions.append(("perp", perp_size))
        reading = self.oracle.reading
        gamma, vega, theta = self._book_greeks(spot, block.ts_ns, legs)
        snapshot = BlockSnapshot(
            block_number=block.number,
            ts_ns=block.ts_ns,
            positions=tuple(positions),
            pnl={**self.parts, "total": pnl},
            net_delta=net_delta,
            margin_ratio=ratio,
            health=self.risk.health if self.risk is not None else "n/a",
            oracle_price=reading.price if reading is not None else math.nan,
            oracle_confidence=reading.confidence if reading is not None else math.nan,
            oracle_status=reading.status.value if reading is not None else "n/a",
            equity_usd=equity,
            base_fee_gwei=block.base_fee_wei / GWEI,
            gamma=gamma,
            vega=vega,
            theta=theta,
        )
        self.ctx.publish(SNAPSHOTS, snapshot)


class OptionExpiry(Actor):
    """Stage RISK, before the risk actor: cash-settles the desk's option legs that expired by the
    block's time at the oracle's last usable price (so risk, agents and reporting see the settled book)."""

    stage = Stage.RISK

    def __init__(self, book: DeskBook, oracle: OracleActor) -> None:
        super().__init__("option_expiry")
        self.book = book
        self.oracle = oracle

    def on_block(self, block: Block) -> None:
        self.book.expire(block.ts_ns, float(self.oracle.price(block.ts_ns)))


class PerpCrowd(Actor):
    """Stage MARKET_DATA: accrues funding on the perp venue every block at the reference mark."""

    stage = Stage.MARKET_DATA

    def __init__(self, venue: PerpVenue, mark: Callable[[int], float]) -> None:
        super().__init__("perp_funding")
        self.venue = venue
        self.mark = mark
        self.last_ts: int | None = None
        self.longs_paid = 0.0

    def on_block(self, block: Block) -> None:
        if self.last_ts is not None:
            self.longs_paid += self.venue.accrue_funding(self.last_ts, block.ts_ns, self.mark(block.ts_ns))
        self.last_ts = block.ts_ns


def svi_surface(config: ScenarioConfig) -> SviSurface:
    assert config.options is not None
    slices = []
    for i, s in enumerate(config.options.svi):
        try:
            slices.append(SviSlice(parse_utc(s.expiry), s.a, s.b, s.rho, s.m, s.sigma))
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"options.svi.{i}", s.expiry, str(exc)) from None
    start = parse_utc(config.market.start)
    for i, sl in enumerate(slices):
        if sl.expiry_ns <= start:
            raise ConfigError(f"options.svi.{i}.expiry", config.options.svi[i].expiry, "must be after market.start")
    return SviSurface(tuple(slices), as_of_ns=start)


def fitted_surface(config: ScenarioConfig, root: Path) -> tuple[SviSurface, dict[str, Any]]:
    """The options venue's surface from a real chain: keel.pricing.fit_surface on one snapshot,
    its SVI slices kept (sticky moneyness) with their time to expiry, the snapshot moved to
    ``market.start``.  Expiries too near or fitted worse than the config allows are dropped."""
    from keel.errors import KeelError
    from keel.marketdata import load_chain_file
    from keel.pricing import fit_surface

    assert config.options is not None and config.options.surface is not None
    sc = config.options.surface
    path = config_file(config, root, sc.chain)
    if not path.is_file():
        raise ConfigError("options.surface.chain", sc.chain, "no such file")
    try:
        chain = load_chain_file(path)
    except KeelError as exc:
        raise ConfigError("options.surface.chain", sc.chain, f"not a readable option chain: {exc}") from None
    n = len(chain.snapshots())
    if sc.snapshot >= n:
        raise ConfigError("options.surface.snapshot", sc.snapshot, f"the chain has {n} snapshot(s): 0..{n - 1}")
    try:
        fitted = fit_surface(chain, weighting=sc.weighting, snapshot=sc.snapshot)
    except KeelError as exc:
        raise ConfigError("options.surface.chain", sc.chain, f"could not be fitted: {exc}") from None
    start = parse_utc(config.market.start)
    slices: list[SviSlice] = []
    used: list[dict[str, Any]] = []
    for sl in fitted.slices:
        if sc.min_expiry_days > sl.T * 365.0 or not sl.fit.rmse_vol_pts <= sc.max_fit_vol_pts:
            continue
        prm = sl.fit.params
        slices.append(SviSlice(start + round(sl.T * NS_PER_YEAR), prm.a, prm.b, prm.rho, prm.m, prm.sigma))
        used.append(
            {
                "days": round(sl.T * 365.0, 3),
                "forward": round(sl.forward, 2),
                "rmse_vol_pts": round(sl.fit.rmse_vol_pts, 3),
            }
        )
    if not slices:
        raise ConfigError(
            "options.surface.max_fit_vol_pts",
            sc.max_fit_vol_pts,
            f"no expiry of {path.name} passes min_expiry_days={sc.min_expiry_days:g} and this fit-error limit",
        )
    info = {
        "chain": path.name,
        "underlying": fitted.underlying,
        "snapshot": sc.snapshot,
        "snapshot_ts_ns": fitted.ts_ns,
        "fitted_expiries": len(fitted.slices),
        "expiries": used,
    }
    if chain.n_dropped:  # bad rows the loader dropped (#21), by reason
        info["dropped_rows"] = dict(chain.dropped)
    return SviSurface(tuple(slices), as_of_ns=start), info


class VolReplayScale:
    """``vol_scale(ts)`` for the options venue: a replayed at-the-money vol relative to its first
    snapshot, the replay's start aligned with the run's start (a class, so a world pickles)."""

    def __init__(self, atm: MarketPath, start_ns: int) -> None:
        self.atm = atm
        self.shift = atm.start_ns - start_ns
        self.first = float(atm.price[0])

    def __call__(self, ts: int) -> float:
        return self.atm.at(ts + self.shift) / self.first
