"""Build a simulated world from a :class:`ScenarioConfig`, run it block by block, and account for it.

The world: a reference market path (real replay or keel.pricing.mc), a chain (blocks, mempool,
EIP-1559), a Uniswap v3 USDC/WETH pool realigned by an arbitrageur and attacked by sandwich
bots, noise traders, an oracle (keel.oracle Aggregator over the reference and the pool), an
options venue on an SVI surface, a perpetual venue with real funding, and the agents of
keel.agents.  An accountant (the last actor each block) attributes the desk's PnL to theta,
gamma, vega, delta, hedging slippage, gas, MEV loss, funding and option edge; the remainder
(higher-order terms) is reported as ``other``, so the parts sum to the total exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keel.agents.book import DeskBook
from keel.agents.hedger import BandPolicy, DeltaHedger, HedgeConfig
from keel.agents.liquidator import Liquidate, Liquidator
from keel.agents.market_maker import OptionsMarketMaker
from keel.agents.portfolio import PortfolioManager, strategy_legs
from keel.domain import NS_PER_HOUR, NS_PER_SECOND, NS_PER_YEAR, Perpetual, Settlement, Spot, Token
from keel.engine import Actor, Block, Engine, EventRecorder, Topic
from keel.errors import ConfigError
from keel.execution import SmartRouter
from keel.oracle import Aggregator, AggregatorConfig, OracleReading, SourceConfig
from keel.sim.chain import GWEI, ChainParams, ChainSim
from keel.sim.config import ScenarioConfig, parse_utc
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
from keel.venues.options import OptionsVenue, SviSlice, SviSurface
from keel.venues.perpetual import PerpVenue
from keel.venues.uniswap_v3 import Pool

__all__ = ["PNL_PARTS", "RISK_EVENTS", "SimResult", "build_path", "run_scenario"]

RISK_EVENTS: Topic[object] = Topic("risk_event", object)  # keel.risk.monitors events (HedgeRequested, ...)

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)
Q96 = 2**96
TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}
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


def build_path(config: ScenarioConfig, root: Path) -> MarketPath:
    m = config.market
    start = parse_utc(m.start)
    horizon = int(m.hours * NS_PER_HOUR)

    def resolve(name: str | None) -> Path:
        assert name is not None
        p = Path(name)
        p = p if p.is_absolute() else root / p
        if not p.is_file():
            raise ConfigError("market.file", name, "no such file")
        return p

    if m.kind == "uniswap_swaps":
        return load_uniswap_swap_path(resolve(m.file))
    if m.kind == "binance_klines":
        return load_binance_klines(resolve(m.file))
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


def _sqrt_price_x96(eth_usd: float) -> int:
    # token0 USDC (6), token1 WETH (18): raw price = WETH wei per USDC unit = 1e12 / S
    return int(math.sqrt(1e12 / eth_usd) * Q96)


def _pool_eth_price(pool: Pool) -> float:
    raw = (pool.sqrt_price_x96 / Q96) ** 2
    return 1e12 / raw


class _Oracle(Actor):
    """Feeds the aggregator each block from the reference market and the pool; serves the desk's spot."""

    def __init__(self, path: MarketPath, pool: Pool | None, asset: str) -> None:
        super().__init__("oracle")
        self.path = path
        self.pool = pool
        sources = {"cex": SourceConfig(weight=2.0, max_age_ns=120 * NS_PER_SECOND)}
        if pool is not None:
            sources["pool"] = SourceConfig(weight=1.0, max_age_ns=120 * NS_PER_SECOND)
        self.agg = Aggregator(AggregatorConfig(sources=sources, quorum=1))
        self.last = path.at(path.start_ns)
        self.reading: OracleReading | None = None
        self.halted = 0

    def update(self, ts: int) -> None:
        self.agg.update("cex", self.path.at(ts), ts)
        if self.pool is not None:
            self.agg.update("pool", _pool_eth_price(self.pool), ts)
        reading = self.agg.read(ts)
        self.reading = reading
        if reading.usable:
            self.last = reading.price
        else:
            self.halted += 1

    def on_block(self, block: Block) -> None:
        self.update(block.ts_ns)

    def price(self, ts: int) -> float:
        return self.last


class _Accountant(Actor):
    """Attributes the desk's PnL block by block and records the series for the report."""

    def __init__(
        self,
        book: DeskBook | None,
        options: OptionsVenue | None,
        spot: Callable[[int], float],
        reference: MarketPath,
        pool: Pool | None,
        perp: PerpVenue | None,
        margin_every: int,
        margin_model: Any,
        edge: Callable[[], float],
        initial_equity: float,
        start_spot: float,
    ) -> None:
        super().__init__("accountant")
        self.book, self.options, self.spot, self.ref, self.pool, self.perp = book, options, spot, reference, pool, perp
        self.margin_every = margin_every
        self.margin_model = margin_model
        self.monitor: Any = None  # a keel.risk.RiskMonitor, checked with the margin
        self.risk_events: dict[str, int] = {}
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
        self.min_margin_ratio = math.inf
        self.last_margin_ratio = math.nan
        self.peak = 0.0
        self.max_drawdown = 0.0
        self.blocks = 0

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
        spot = float(self.spot(ts))
        if self.book is not None and self.options is not None:
            self.book.expire(ts, spot)
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
        ratio = self.last_margin_ratio
        if self.blocks % self.margin_every == 0:
            ratio = self._margin_ratio(spot, ts, equity, legs)
            self.last_margin_ratio = ratio
            if math.isfinite(ratio):
                self.min_margin_ratio = min(self.min_margin_ratio, ratio)
        pnl = equity - self.start_equity
        self.peak = max(self.peak, pnl)
        self.max_drawdown = max(self.max_drawdown, self.peak - pnl)
        delta = sum(q * d for q, _, d, _, _, _ in legs.values())
        asset = self.book.asset_units() if self.book is not None else 0.0
        perp_size = self.perp.account("desk")[0] if self.perp is not None else 0.0
        row = self.rows
        row["ts_ns"].append(ts)
        row["ref"].append(self.ref.at(ts))
        row["pool"].append(_pool_eth_price(self.pool) if self.pool is not None else math.nan)
        row["spot"].append(spot)
        row["equity"].append(equity)
        row["pnl"].append(pnl)
        row["delta"].append(delta + asset + perp_size)
        row["asset"].append(asset + perp_size)
        row["margin_ratio"].append(ratio)
        row["base_fee_gwei"].append(block.base_fee_wei / GWEI)
        self._prev, self._prev_spot, self._prev_ts = legs, spot, ts
        self._prev_equity, self._prev_costs, self._prev_asset, self._prev_perp_size = equity, costs, asset, perp_size
        self.blocks += 1

    def _margin_ratio(self, spot: float, ts: int, equity: float, legs: dict[str, Any]) -> float:
        if self.perp is not None and self.book is None:
            return float(self.perp.margin_ratio(spot)[self.perp._index["desk"]])
        if self.margin_model is None or self.book is None or not legs:
            return math.inf
        from keel.risk.accounts import MarketState, PositionView

        positions = [PositionView(name, self.book.options[name][0], qty) for name, (qty, *_rest) in legs.items()]
        vols = {name: sig for name, (*_r, sig) in legs.items()}
        asset = self.book.asset_token.symbol.removeprefix("W")
        held = self.book.asset_units()
        if held != 0.0:  # the hedge offsets the options' delta inside the scan
            positions.append(PositionView(asset, Spot(asset, "USD"), held))
        market = MarketState(ts, {asset: spot}, vols={asset: float(np.median(list(vols.values())))}, option_vols=vols)
        req = self.margin_model.requirement(positions, market)
        if self.monitor is not None:
            for event in self.monitor.check(ts, "desk", positions, market, equity, req.maintenance):
                kind = type(event).__name__
                self.risk_events[kind] = self.risk_events.get(kind, 0) + 1
                self.ctx.record("risk_" + kind, asset, value=float(getattr(event, "value", math.nan)))
                self.ctx.publish(RISK_EVENTS, event)
        return equity / req.maintenance if req.maintenance > 0 else math.inf


class _PerpCrowd(Actor):
    """Accrues funding on the perp venue every block at the reference mark."""

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


def _svi_surface(config: ScenarioConfig) -> SviSurface:
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


def _fitted_surface(config: ScenarioConfig, root: Path) -> tuple[SviSurface, dict[str, Any]]:
    """The options venue's surface from a real chain: keel.pricing.fit_surface on one snapshot,
    its SVI slices kept (sticky moneyness) with their time to expiry, the snapshot moved to
    ``market.start``.  Expiries too near or fitted worse than the config allows are dropped."""
    from keel.errors import KeelError
    from keel.marketdata import load_chain_file
    from keel.pricing import fit_surface

    assert config.options is not None and config.options.surface is not None
    sc = config.options.surface
    path = Path(sc.chain)
    path = path if path.is_absolute() else root / path
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
    return SviSurface(tuple(slices), as_of_ns=start), info


def run_scenario(
    config: ScenarioConfig, root: Path = Path("."), progress: Callable[[int, int], None] | None = None
) -> SimResult:
    """Run the scenario; ``progress(done_blocks, total_blocks)`` is called as blocks are produced."""
    path = build_path(config, root)
    start = parse_utc(config.market.start)
    end = start + int(config.market.hours * NS_PER_HOUR)
    block_ns = int(config.chain.block_time_s * NS_PER_SECOND)
    n_blocks = (end - start) // block_ns
    engine = Engine(seed=config.seed, start_ns=start)

    memo: dict[int, float] = {}

    def ref_price(ts: int) -> float:
        p = memo.get(ts)
        if p is None:
            if len(memo) > 4:
                memo.clear()
            p = memo[ts] = path.at(ts)
        return p

    def usd_price(symbol: str, ts: int) -> float:
        return 1.0 if symbol in ("USDC", "USDT", "USD", "DAI") else ref_price(ts)

    needs_pool = config.desk is not None or config.market_maker is not None
    pool: Pool | None = None
    venues: dict[str, Any] = {}
    s0 = ref_price(start)
    if needs_pool:
        pc = config.pool
        spacing = TICK_SPACING[pc.fee]
        pool = Pool(pc.fee, spacing, _sqrt_price_x96(s0), token0=USDC, token1=WETH, name="uniswap_v3_usdc_weth")
        tick = pool.tick
        width = int(math.log(1 + pc.range_pct / 100) / math.log(1.0001)) // spacing * spacing
        lower = (tick - width) // spacing * spacing
        pool.mint("lp", lower, lower + 2 * width, pc.liquidity)
        venues[pool.name] = pool
        for fee in pc.extra_fee_tiers:
            sp = TICK_SPACING[fee]
            extra = Pool(fee, sp, _sqrt_price_x96(s0), token0=USDC, token1=WETH, name=f"uniswap_v3_usdc_weth_{fee}")
            w = width // sp * sp
            low = (extra.tick - w) // sp * sp
            if extra.name in venues:
                raise ConfigError("pool.extra_fee_tiers", fee, "duplicates a pool already opened")
            extra.mint("lp", low, low + 2 * w, max(int(pc.liquidity * pc.extra_liquidity_share), 1))
            venues[extra.name] = extra
    chain_params = ChainParams(
        block_time_ns=block_ns,
        gas_limit=config.chain.gas_limit,
        base_fee_wei=int(config.chain.base_fee_gwei * GWEI),
        latency_ns=config.chain.latency_ms * 1_000_000,
        background_utilization=config.chain.background_utilization,
    )
    chain = ChainSim(engine, chain_params, venues)
    oracle = _Oracle(path, pool, config.market.asset)
    engine.add_actor(oracle)
    arbs: list[PoolArbitrageur] = []
    bots: list[SandwichBot] = []
    if pool is not None:
        if config.agents.arbitrageur:
            for i, name in enumerate(venues):
                searcher = PoolArbitrageur("arbitrageur" if i == 0 else f"arbitrageur_{i}", name, usd_price)
                arbs.append(searcher)
                chain.top_of_block.append(searcher)
        for i in range(config.agents.sandwich_bots):
            bot = SandwichBot(f"sandwich_{i}", usd_price, tip_wei=(3 + i) * GWEI)
            bots.append(bot)
            chain.attackers.append(bot)
        if config.agents.noise_swaps_per_block > 0:
            engine.add_actor(
                NoiseTrader(
                    "noise",
                    pool.name,
                    chain,
                    usd_price,
                    swaps_per_block=config.agents.noise_swaps_per_block,
                    median_usd=config.agents.noise_median_usd,
                    loose_share=config.agents.noise_loose_share,
                )
            )

    book: DeskBook | None = None
    options: OptionsVenue | None = None
    surface_info: dict[str, Any] | None = None
    pm: PortfolioManager | None = None
    mm: OptionsMarketMaker | None = None
    hedger: DeltaHedger | None = None
    if config.options is not None and (config.desk is not None or config.market_maker is not None):
        if config.options.surface is not None:
            surface, surface_info = _fitted_surface(config, root)
        else:
            surface = _svi_surface(config)
        options = OptionsVenue("options", surface, config.options.half_spread_vol, config.options.rate)
        if config.options.vol_replay is not None:
            vpath = Path(config.options.vol_replay)
            vpath = vpath if vpath.is_absolute() else root / vpath
            if not vpath.is_file():
                raise ConfigError("options.vol_replay", config.options.vol_replay, "no such file")
            atm = load_deribit_atm_iv(vpath)
            shift = atm.start_ns - start
            first = float(atm.price[0])

            def vol_scale(ts: int) -> float:
                return atm.at(ts + shift) / first

            options.vol_scale = vol_scale
        initial = config.desk.initial_usd if config.desk is not None else 2_000_000.0
        book = DeskBook(USDC, WETH, cash=int(initial) * USDC.unit)
    if config.desk is not None and book is not None and options is not None and config.desk.strategy != "none":
        d = config.desk
        first_expiry = min(s.expiry_ns for s in options.surface.slices)
        pm = PortfolioManager(
            "portfolio_manager",
            book,
            options,
            oracle.price,
            d.strategy,
            list(d.strikes_pct),
            d.contracts,
            int(d.tenor_days * 24 * NS_PER_HOUR),
            int(d.roll_hours * NS_PER_HOUR),
            first_expiry_ns=first_expiry if first_expiry > start else None,
        )
        engine.add_actor(pm)
        if d.strategy == "covered_call":
            amount = int(d.contracts * WETH.unit)
            book.asset += amount
            book.cash -= int(d.contracts * s0 * USDC.unit)
    if config.market_maker is not None and book is not None and options is not None:
        mmc = config.market_maker
        expiry = min(s.expiry_ns for s in options.surface.slices if s.expiry_ns > start)
        listed = [
            leg
            for pct in mmc.strikes_pct
            for leg, _ in strategy_legs("straddle", s0, [pct], 1.0, config.market.asset, expiry)
        ]
        mm = OptionsMarketMaker(
            "market_maker",
            book,
            options,
            oracle.price,
            listed,
            mmc.half_spread_vol,
            mmc.skew_vol_per_vega,
            mmc.max_vega,
            mmc.takers_per_block,
            mmc.taker_size,
            mmc.taker_edge_vol,
        )
        engine.add_actor(mm)
    if book is not None and options is not None and pool is not None and config.hedge.enabled:
        h = config.hedge
        hedge_cfg = HedgeConfig(
            BandPolicy(h.policy),
            h.band,
            h.risk_aversion,
            h.cost,
            block_ns,
            h.slippage,
            h.deadline_s,
            h.tip_gwei,
            mode=h.mode,
            max_cost_bps=h.max_cost_bps,
        )
        router = None
        hedge_venues = [venues[name] for name in venues] if h.router else [pool]
        if h.router and h.mode == "route":
            eth = oracle.price

            def gas_token_price(token: Token) -> float:  # whole token per whole ETH
                return 1.0 if token.symbol == "WETH" else eth(engine.clock.now_ns)

            router = SmartRouter(
                [venues[name] for name in venues], gas_price_wei=chain.base_fee, gas_token_price=gas_token_price
            )
        hedger = DeltaHedger("hedger", book, options, pool, pool.name, oracle.price, hedge_cfg, router, hedge_venues)
        engine.add_actor(hedger)

    perp: PerpVenue | None = None
    crowd: _PerpCrowd | None = None
    liquidators: list[Liquidator] = []
    if config.perp is not None:
        pc2 = config.perp
        fpath = Path(pc2.funding_file)
        fpath = fpath if fpath.is_absolute() else root / fpath
        if not fpath.is_file():
            raise ConfigError("perp.funding_file", pc2.funding_file, "no such file")
        f_ts, f_rate = load_funding_rates(fpath)
        inst = Perpetual(config.market.asset, "USD", Settlement.LINEAR)
        perp = PerpVenue(
            "perp", inst, f_ts, f_rate, pc2.maintenance_margin, pc2.liquidation_fee, pc2.insurance_fund_usd
        )
        rng = engine.stream("perp:crowd")
        for i in range(pc2.accounts):
            notional = pc2.median_notional_usd * float(rng.lognormal(0.0, 1.0))
            lev = float(np.exp(rng.uniform(np.log(pc2.leverage_min), np.log(pc2.leverage_max))))
            side = 1.0 if rng.random() < pc2.long_share else -1.0
            perp.open(f"trader_{i:05d}", notional / lev, side * notional / s0, s0)
        desk_side = 1.0 if pc2.desk_side == "long" else -1.0
        perp.open("desk", pc2.desk_collateral_usd, desk_side * pc2.desk_collateral_usd * pc2.desk_leverage / s0, s0)
        crowd = _PerpCrowd(perp, ref_price)
        engine.add_actor(crowd)
        perp_venue = perp

        def do_liquidate(who: str, action: Liquidate) -> Any:
            ts = engine.clock.now_ns
            result = perp_venue.liquidate(action.owner, who, ref_price(ts), ts)
            engine.recorder.record(ts, who, "liquidation", action.owner, result.size, result.price, result.bad_debt_usd)
            return result

        engine.on_action(Liquidate, do_liquidate)

        def oracle_reading(ts: int) -> OracleReading:
            assert oracle.reading is not None
            return oracle.reading

        for i in range(pc2.liquidators):
            liquidators.append(
                Liquidator(f"liquidator_{i}", perp, ref_price, pc2.liquidator_delay_blocks + i, reading=oracle_reading)
            )
            engine.add_actor(liquidators[-1])

    initial_equity = 0.0
    if book is not None:
        initial_equity += book.cash_units() + book.asset_units() * s0
    if perp is not None:
        initial_equity += perp.account("desk")[1]
    margin_model: Any = None
    if config.desk is not None or config.market_maker is not None:
        from keel.risk.margin import PortfolioMargin, StandardMargin

        kind = config.desk.margin if config.desk is not None else "portfolio"
        margin_model = PortfolioMargin() if kind == "portfolio" else StandardMargin()

    def edge() -> float:
        return (pm.edge_usd if pm is not None else 0.0) + (mm.edge_usd if mm is not None else 0.0)

    accountant = _Accountant(
        book,
        options,
        oracle.price,
        path,
        pool,
        perp,
        config.desk.margin_every_blocks if config.desk is not None else (25 if config.market_maker else 1),
        margin_model,
        edge,
        initial_equity,
        s0,
    )
    if config.desk is not None and book is not None:
        from keel.risk.monitors import MonitorThresholds, RiskMonitor

        max_delta = {} if config.desk.max_delta is None else {config.market.asset: config.desk.max_delta}
        accountant.monitor = RiskMonitor(
            MonitorThresholds(max_delta=max_delta, reduce_only_ratio=config.desk.reduce_only_ratio)
        )
    engine.add_actor(accountant)
    for agent in (hedger, pm):
        if agent is not None:
            agent.ctx.subscribe(RISK_EVENTS)

    if progress is not None:
        engine.every(start + block_ns, block_ns * 50, lambda ts: progress((ts - start) // block_ns, n_blocks), 99)
    oracle.update(start)
    chain.start(start + block_ns, start + n_blocks * block_ns)
    engine.run(until_ns=start + n_blocks * block_ns)
    engine.stop()
    if progress is not None:
        progress(n_blocks, n_blocks)

    series = {k: np.asarray(v, dtype=np.float64 if k != "ts_ns" else np.int64) for k, v in accountant.rows.items()}
    hedge_fills: list[tuple[int, float, float]] = []
    frame = engine.recorder.to_frame()
    fills = frame.filter(frame["kind"] == "hedge_fill")
    for ts_v, qty, price in zip(
        fills["ts_ns"].to_list(), fills["quantity"].to_list(), fills["price"].to_list(), strict=True
    ):
        hedge_fills.append((int(ts_v), float(qty), float(price)))

    def r(x: float, nd: int = 2) -> float | None:
        return None if not math.isfinite(x) else round(float(x), nd)

    pnl_total = accountant.rows["pnl"][-1] if accountant.rows["pnl"] else 0.0
    ref = series["ref"]
    summary: dict[str, Any] = {
        "name": config.name,
        "seed": config.seed,
        "market": {
            "kind": config.market.kind,
            "source": path.source,
            "asset": config.market.asset,
            "start_utc": config.market.start,
            "hours": config.market.hours,
            "price_start": r(float(ref[0]) if len(ref) else s0),
            "price_end": r(float(ref[-1]) if len(ref) else s0),
            "price_min": r(float(ref.min()) if len(ref) else s0),
            "price_max": r(float(ref.max()) if len(ref) else s0),
        },
        "blocks": int(n_blocks),
        "block_time_s": config.chain.block_time_s,
        "pnl": {"total": r(pnl_total), **{k: r(v) for k, v in accountant.parts.items()}},
        "start_equity_usd": r(accountant.start_equity),
        "end_equity_usd": r(accountant.rows["equity"][-1] if accountant.rows["equity"] else 0.0),
        "max_drawdown_usd": r(accountant.max_drawdown),
        "min_margin_ratio": r(accountant.min_margin_ratio, 4),
        "liquidations": len(perp.liquidations) if perp is not None else 0,
        "chain": {
            "transactions": chain.stats.txs,
            "reverts": chain.stats.reverts,
            "sandwiches": chain.stats.sandwiches,
            "arbitrages": chain.stats.arbitrages,
            "base_fee_gwei_mean": r(float(np.mean(chain.stats.base_fees)) / GWEI if chain.stats.base_fees else 0.0, 4),
            "base_fee_gwei_max": r(float(np.max(chain.stats.base_fees)) / GWEI if chain.stats.base_fees else 0.0, 4),
            "gas_fees_eth": r(chain.stats.gas_fees_wei / 1e18, 6),
        },
        "events": len(engine.recorder),
        "risk_events": dict(sorted(accountant.risk_events.items())),
        "oracle_halted_blocks": oracle.halted,
    }
    if book is not None:
        summary["desk"] = {
            "hedge_trades": book.hedge_trades,
            "option_trades": book.option_trades,
            "final_asset_units": r(book.asset_units(), 6),
            "final_cash_units": r(book.cash_units(), 2),
            "open_legs": sorted(book.options),
            "gas_usd": r(book.gas_usd),
            "mev_loss_usd": r(book.mev_loss_usd),
            "hedging_slippage_usd": r(book.slippage_usd),
        }
    if surface_info is not None:
        summary["options_surface"] = surface_info
    if hedger is not None:
        summary["hedge_policy"] = hedger.cfg.policy.value
        summary["hedge_mode"] = hedger.cfg.mode
        if hedger.cfg.mode == "intents":
            summary["hedge_intents"] = hedger.intent_stats.as_dict()
    if pm is not None:
        summary["portfolio_manager"] = {"strategy": pm.strategy, "opened": pm.opened, "rolls": pm.rolls}
    if mm is not None:
        summary["market_maker"] = {"fills": mm.fills, "edge_usd": r(mm.edge_usd)}
    if arbs:
        summary["arbitrageur"] = {
            "count": sum(a.stats.count for a in arbs),
            "profit_usd": r(sum(a.stats.profit_usd for a in arbs)),
        }
    if bots:
        summary["sandwich_bots"] = {
            "attacks": sum(b.stats.count for b in bots),
            "profit_usd": r(sum(b.stats.profit_usd for b in bots)),
            "victim_loss_usd": r(sum(b.stats.victim_loss_usd for b in bots)),
        }
    if perp is not None:
        liq = perp.liquidations
        summary["perp"] = {
            "accounts": len(perp.owners),
            "liquidations": len(liq),
            "liquidated_notional_usd": r(sum(abs(x.size) * x.price for x in liq)),
            "desk_liquidated": any(x.owner == "desk" for x in liq),
            "bad_debt_usd": r(perp.bad_debt),
            "insurance_fund_start_usd": r(perp.insurance_start),
            "insurance_fund_end_usd": r(perp.insurance_fund),
            "funding_paid_by_longs_usd": r(crowd.longs_paid if crowd is not None else 0.0),
            "liquidator_fees_usd": r(sum(x.fee_usd for x in liq)),
            "liquidation_rule": "keel.risk health_scan at the favourable oracle band edge; frozen on a halted oracle",
            "liquidator_frozen_blocks": sum(x.frozen_blocks for x in liquidators),
        }
    return SimResult(summary, engine.recorder, series, path, hedge_fills)
