"""One world builder for simulation and live: ``build_world(config, environment)``.

A world is built section by section, one registered builder per config section, in this order:

============== ===============================================================================
section        what its builder adds
============== ===============================================================================
market         the reference market path (real replay or a keel.pricing.mc model) and its prices
pools          the AMM pools the desk trades on (opened in a simulated environment, adopted from a
               live one), and the MARKET_DATA actor
oracle         ``keel.oracle.OracleActor`` over the ``[oracle]`` sources (stage ORACLE)
venues         the options venue (SVI or a fitted real chain), the desk's book, the perpetual venue
counterparties arbitrageurs and sandwich bots (simulated chain only), noise traders, perp liquidators
margin         the margin model and ``keel.risk.RiskActor`` (stage RISK)
agents         the built-in agents from ``[desk]``/``[market_maker]``/``[hedge]`` and every ``[[agents]]``
               entry (``keel.runtime.strategies``), all at stage AGENTS
============== ===============================================================================

then the accountant (stage REPORTING).  ``register_builder(section, fn)`` replaces a section's
builder (a new venue kind, margin model or environment plugs in there).  The environment is
anything with the :class:`keel.engine.Environment` protocol plus an ``engine``
(``keel.sim.ChainSim``; the live EVM environment).  Every callback stored in the world is a
bound method or a small class, never a closure, so a simulated world pickles (checkpoints).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keel.agents import DeltaHedger, DeskBook, Liquidator, OptionsMarketMaker, PortfolioManager, strategy_legs
from keel.agents.hedger import BandPolicy, HedgeConfig
from keel.agents.liquidator import Liquidate
from keel.domain import NS_PER_HOUR, NS_PER_SECOND, Perpetual, Settlement, Token
from keel.engine import Engine
from keel.errors import ConfigError
from keel.execution import SmartRouter
from keel.oracle import AggregatorConfig, OracleActor, OracleOutage, OracleReading, SourceConfig
from keel.risk import RiskActor
from keel.risk.perpetual import PerpVenue
from keel.runtime.strategies import AgentSpec, agent_name, register_agent, resolve_agent, validate_params
from keel.sim.chain import GWEI
from keel.sim.config import DeskConfig, HedgeSection, MarketMakerConfig, ScenarioConfig, config_file, parse_utc
from keel.sim.mev import NoiseTrader, PoolArbitrageur, SandwichBot
from keel.sim.scenario import (
    USDC,
    WETH,
    Accountant,
    DeskRiskInputs,
    MarketDataActor,
    OptionExpiry,
    PerpCrowd,
    PoolPrice,
    ReferencePrices,
    VolReplayScale,
    build_path,
    fitted_surface,
    sqrt_price_x96,
    svi_surface,
)
from keel.venues.options import OptionsVenue
from keel.venues.uniswap_v3 import Pool

__all__ = ["BUILDERS", "SECTIONS", "World", "build_world", "register_builder"]

TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}
# v4 pools are keyed by currency addresses: mainnet USDC and WETH (USDC sorts first, as token0 in the simulator)
USDC_ADDRESS = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
WETH_ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
SECTIONS = ("market", "pools", "oracle", "venues", "counterparties", "margin", "agents")


@dataclass
class World:
    """Everything a run holds: the config, the engine and environment, and what each builder added."""

    config: ScenarioConfig
    root: Path
    engine: Engine
    environment: Any
    start_ns: int
    block_ns: int
    n_blocks: int
    path: Any = None
    prices: ReferencePrices | None = None
    s0: float = math.nan
    pool: Pool | None = None
    venues: dict[str, Any] = field(default_factory=dict)
    oracle: OracleActor | None = None
    options: OptionsVenue | None = None
    surface_info: dict[str, Any] | None = None
    book: DeskBook | None = None
    perp: PerpVenue | None = None
    crowd: PerpCrowd | None = None
    liquidators: list[Liquidator] = field(default_factory=list)
    arbitrageurs: list[PoolArbitrageur] = field(default_factory=list)
    sandwich_bots: list[SandwichBot] = field(default_factory=list)
    margin_model: Any = None
    risk: RiskActor | None = None
    portfolio_manager: PortfolioManager | None = None
    market_maker: OptionsMarketMaker | None = None
    hedger: DeltaHedger | None = None
    agents: dict[str, Any] = field(default_factory=dict)  # every AGENTS-stage strategy by name, built-ins included
    accountant: Accountant | None = None
    initial_equity: float = 0.0
    funded: dict[str, dict[str, int]] = field(default_factory=dict)  # holder -> token -> base units at the start
    pool_prices: dict[str, PoolPrice] = field(default_factory=dict)

    @property
    def needs_pools(self) -> bool:
        c = self.config
        return c.desk is not None or c.market_maker is not None or bool(c.agents)

    def option_edge(self) -> float:
        """USD earned (+) or paid (−) against the mark by the desk's option trades."""
        pm, mm = self.portfolio_manager, self.market_maker
        return (pm.edge_usd if pm is not None else 0.0) + (mm.edge_usd if mm is not None else 0.0)

    def pool_price(self, venue: Any) -> PoolPrice:
        """One shared USD-price feed per pool (recomputed once per pool state, whoever asks)."""
        feed = self.pool_prices.get(venue.name)
        if feed is None:
            feed = self.pool_prices[venue.name] = PoolPrice(venue)
        return feed

    def add(self, actor: Any) -> Any:
        self.engine.add_actor(actor)
        return actor

    def fund(self, holder: str, token: str, amount: int) -> None:
        """Credit ``holder`` on a simulated chain (a live chain's balances are its own)."""
        fund = getattr(self.environment, "fund", None)
        if fund is None:
            return
        fund(holder, token, amount)
        held = self.funded.setdefault(holder, {})
        held[token] = held.get(token, 0) + amount


Builder = Callable[[World], None]
BUILDERS: dict[str, Builder] = {}


def register_builder(section: str, fn: Builder) -> None:
    """Use ``fn(world)`` to build ``section`` (one of :data:`SECTIONS`)."""
    if section not in SECTIONS:
        raise ConfigError("section", section, f"not a world section: {', '.join(SECTIONS)}")
    BUILDERS[section] = fn


def _builder(section: str) -> Callable[[Builder], Builder]:
    def wrap(fn: Builder) -> Builder:
        register_builder(section, fn)
        return fn

    return wrap


def build_world(
    config: ScenarioConfig, environment: Any, *, root: Path = Path("."), engine: Engine | None = None
) -> World:
    """Build every section of ``config`` on ``environment`` (its ``engine`` unless one is given)."""
    eng = engine if engine is not None else environment.engine
    start = parse_utc(config.market.start)
    end = start + int(config.market.hours * NS_PER_HOUR)
    block_ns = int(config.chain.block_time_s * NS_PER_SECOND)
    world = World(config, root, eng, environment, start, block_ns, (end - start) // block_ns)
    for section in SECTIONS:
        BUILDERS[section](world)
    _reporting(world)
    return world


def _resolve(config: ScenarioConfig, root: Path, name: str, key: str) -> Path:
    p = config_file(config, root, name)
    if not p.is_file():
        raise ConfigError(key, name, "no such file")
    return p


# ---------------------------------------------------------------------------------------- market
@_builder("market")
def build_market(world: World) -> None:
    world.path = build_path(world.config, world.root)
    world.prices = ReferencePrices(world.path)
    world.s0 = world.prices.price(world.start_ns)


# ----------------------------------------------------------------------------------------- pools
@_builder("pools")
def build_pools(world: World) -> None:
    env_venues = world.environment.venues
    if world.needs_pools and not env_venues:
        pc = world.config.pool
        s0 = world.s0
        spacing = TICK_SPACING[pc.fee]
        pool = Pool(pc.fee, spacing, sqrt_price_x96(s0), token0=USDC, token1=WETH, name="uniswap_v3_usdc_weth")
        width = int(math.log(1 + pc.range_pct / 100) / math.log(1.0001)) // spacing * spacing
        lower = (pool.tick - width) // spacing * spacing
        pool.mint("lp", lower, lower + 2 * width, pc.liquidity)
        env_venues[pool.name] = pool
        for fee in pc.extra_fee_tiers:
            sp = TICK_SPACING[fee]
            extra = Pool(fee, sp, sqrt_price_x96(s0), token0=USDC, token1=WETH, name=f"uniswap_v3_usdc_weth_{fee}")
            w = width // sp * sp
            low = (extra.tick - w) // sp * sp
            if extra.name in env_venues:
                raise ConfigError("pool.extra_fee_tiers", fee, "duplicates a pool already opened")
            extra.mint("lp", low, low + 2 * w, max(int(pc.liquidity * pc.extra_liquidity_share), 1))
            env_venues[extra.name] = extra
        for i, spec in enumerate(world.config.pools):  # [[pools]]: v3 or v4 pools beside the main one
            sp = spec.tick_spacing or TICK_SPACING[spec.fee]
            name = spec.name or f"uniswap_v{spec.version}_usdc_weth_{spec.fee}_{i}"
            if name in env_venues:
                raise ConfigError(f"pools.{i}.name", name, "duplicates a pool already opened")
            pct = spec.range_pct if spec.range_pct is not None else pc.range_pct
            w = int(math.log(1 + pct / 100) / math.log(1.0001)) // sp * sp
            liq = max(int(pc.liquidity * spec.liquidity_share), 1)
            extra_pool: Any
            if spec.version == 4:
                from keel.venues.uniswap_v4 import V4Pool

                extra_pool = V4Pool.open(
                    USDC, WETH, fee=spec.fee, tick_spacing=sp, sqrt_price_x96=sqrt_price_x96(s0), liquidity=liq,
                    tick_lower=pool.tick - w, tick_upper=pool.tick + w, currency0=USDC_ADDRESS,
                    currency1=WETH_ADDRESS, name=name,
                )  # fmt: skip
            else:
                extra_pool = Pool(spec.fee, sp, sqrt_price_x96(s0), token0=USDC, token1=WETH, name=name)
                low = (extra_pool.tick - w) // sp * sp
                extra_pool.mint("lp", low, low + 2 * w, liq)
            env_venues[name] = extra_pool
    world.venues = env_venues
    if world.needs_pools and env_venues:
        world.pool = next(iter(env_venues.values()))
    assert world.prices is not None
    world.add(MarketDataActor(world.prices, world.venues))


# ---------------------------------------------------------------------------------------- oracle
@_builder("oracle")
def build_oracle(world: World) -> None:
    oc = world.config.oracle
    explicit = "sources" in oc.model_fields_set
    assert world.prices is not None
    sources: dict[str, SourceConfig] = {}
    feeds: dict[str, Callable[[int], float]] = {}
    for i, src in enumerate(oc.sources):
        feed: Callable[[int], float]
        if src.feed == "reference":
            feed = world.prices
        else:
            venue_name = src.feed.removeprefix("pool").removeprefix(":")
            venue = world.venues.get(venue_name) if venue_name else world.pool
            if venue is None:
                if explicit:
                    raise ConfigError(f"oracle.sources.{i}.feed", src.feed, "no such pool in this world")
                continue  # the default pool source, in a world without pools
            feed = world.pool_price(venue)
        sources[src.name] = SourceConfig(
            weight=src.weight, max_age_ns=int(src.max_age_s * NS_PER_SECOND), default_confidence_bps=src.confidence_bps
        )
        feeds[src.name] = feed
    quorum = None if oc.quorum is None else min(oc.quorum, len(sources))
    config = AggregatorConfig(
        sources=sources,
        quorum=quorum,
        outlier_mad_k=oc.outlier_mad_k,
        outlier_min_bps=oc.outlier_min_bps,
        breaker_band_bps=oc.breaker_band_bps,
        twap_window_ns=int(oc.twap_window_s * NS_PER_SECOND),
        ema_window_ns=int(oc.ema_window_s * NS_PER_SECOND),
        max_confidence_bps=oc.max_confidence_bps,
    )
    outages = [OracleOutage(o.start_block, o.blocks, tuple(o.sources)) for o in oc.outages]
    oracle = OracleActor("oracle", config, feeds, outages, initial_price=world.s0)
    world.oracle = world.add(oracle)
    oracle.update(world.start_ns, 0)  # the reading before the first block


# ---------------------------------------------------------------------------------------- venues
@_builder("venues")
def build_venues(world: World) -> None:
    config = world.config
    if config.options is not None and (config.desk is not None or config.market_maker is not None):
        if config.options.surface is not None:
            surface, world.surface_info = fitted_surface(config, world.root)
        else:
            surface = svi_surface(config)
        options = OptionsVenue("options", surface, config.options.half_spread_vol, config.options.rate)
        if config.options.vol_replay is not None:
            from keel.marketdata import load_deribit_atm_iv

            vpath = _resolve(config, world.root, config.options.vol_replay, "options.vol_replay")
            options.vol_scale = VolReplayScale(load_deribit_atm_iv(vpath), world.start_ns)
        world.options = options
        initial = config.desk.initial_usd if config.desk is not None else 2_000_000.0
        world.book = DeskBook(USDC, WETH, cash=int(initial) * USDC.unit)
    if config.perp is not None:
        _perp_venue(world)


def _perp_venue(world: World) -> None:
    from keel.marketdata import load_funding_rates

    config = world.config
    pc = config.perp
    assert pc is not None and world.prices is not None
    f_ts, f_rate = load_funding_rates(_resolve(world.config, world.root, pc.funding_file, "perp.funding_file"))
    inst = Perpetual(config.market.asset, "USD", Settlement.LINEAR)
    perp = PerpVenue("perp", inst, f_ts, f_rate, pc.maintenance_margin, pc.liquidation_fee, pc.insurance_fund_usd)
    s0 = world.s0
    rng = world.engine.stream("perp:crowd")
    for i in range(pc.accounts):
        notional = pc.median_notional_usd * float(rng.lognormal(0.0, 1.0))
        lev = float(np.exp(rng.uniform(np.log(pc.leverage_min), np.log(pc.leverage_max))))
        side = 1.0 if rng.random() < pc.long_share else -1.0
        perp.open(f"trader_{i:05d}", notional / lev, side * notional / s0, s0)
    desk_side = 1.0 if pc.desk_side == "long" else -1.0
    perp.open("desk", pc.desk_collateral_usd, desk_side * pc.desk_collateral_usd * pc.desk_leverage / s0, s0)
    world.perp = perp
    world.crowd = world.add(PerpCrowd(perp, world.prices))
    handler = PerpLiquidation(world.engine, perp, world.prices)
    handler.oracle = world.oracle
    world.engine.on_action(Liquidate, handler)


class PerpLiquidation:
    """Carries out a liquidator's ``Liquidate`` action on the perp venue at the reference mark."""

    def __init__(self, engine: Engine, perp: PerpVenue, prices: ReferencePrices) -> None:
        self.engine = engine
        self.perp = perp
        self.prices = prices
        self.oracle: OracleActor | None = None  # its reading's band is re-checked by the venue

    def __call__(self, who: str, action: Liquidate) -> Any:
        ts = self.engine.clock.now_ns
        reading = self.oracle.reading if self.oracle is not None else None
        result = self.perp.liquidate(action.owner, who, self.prices.price(ts), ts, reading=reading)
        self.engine.recorder.record(
            ts, who, "liquidation", action.owner, result.size, result.price, result.bad_debt_usd
        )
        return result


# -------------------------------------------------------------------------------- counterparties
@_builder("counterparties")
def build_counterparties(world: World) -> None:
    config = world.config
    cp = config.counterparties
    env = world.environment
    prices = world.prices
    assert prices is not None
    simulated = hasattr(env, "top_of_block") and hasattr(env, "attackers")
    if world.pool is not None and simulated:
        if cp.arbitrageur:
            for i, name in enumerate(world.venues):
                searcher = PoolArbitrageur("arbitrageur" if i == 0 else f"arbitrageur_{i}", name, prices.usd)
                world.arbitrageurs.append(searcher)
                env.top_of_block.append(searcher)
        for i in range(cp.sandwich_bots):
            bot = SandwichBot(f"sandwich_{i}", prices.usd, tip_wei=(3 + i) * GWEI)
            world.sandwich_bots.append(bot)
            env.attackers.append(bot)
        if cp.noise_swaps_per_block > 0:
            noise = NoiseTrader(
                "noise",
                world.pool.name,
                env,
                prices.usd,
                swaps_per_block=cp.noise_swaps_per_block,
                median_usd=cp.noise_median_usd,
                loose_share=cp.noise_loose_share,
            )
            world.add(noise)
    if world.perp is not None and config.perp is not None:
        assert world.oracle is not None
        for i in range(config.perp.liquidators):
            liquidator = Liquidator(
                f"liquidator_{i}",
                world.perp,
                prices,
                config.perp.liquidator_delay_blocks + i,
                reading=world.oracle.latest,
            )
            world.liquidators.append(world.add(liquidator))


# ---------------------------------------------------------------------------------------- margin
@_builder("margin")
def build_margin(world: World) -> None:
    config = world.config
    if config.desk is not None or config.market_maker is not None:
        from keel.risk.margin import PortfolioMargin, StandardMargin

        kind = config.desk.margin if config.desk is not None else "portfolio"
        world.margin_model = PortfolioMargin() if kind == "portfolio" else StandardMargin()
    if world.book is None and world.perp is None:
        return
    monitor = None
    if config.desk is not None and world.book is not None:
        from keel.risk.monitors import MonitorThresholds, RiskMonitor

        max_delta = {} if config.desk.max_delta is None else {config.market.asset: config.desk.max_delta}
        monitor = RiskMonitor(MonitorThresholds(max_delta=max_delta, reduce_only_ratio=config.desk.reduce_only_ratio))
    if world.book is not None and world.options is not None and world.oracle is not None:
        world.add(OptionExpiry(world.book, world.oracle))  # expiries settle before risk is measured
    every = config.desk.margin_every_blocks if config.desk is not None else (25 if config.market_maker else 1)
    inputs = DeskRiskInputs(world.book, world.options, world.perp)
    world.risk = world.add(RiskActor("risk", "desk", inputs, world.margin_model, monitor, every))


# ---------------------------------------------------------------------------------------- agents
def _need_desk(world: World, key: str) -> tuple[DeskBook, OptionsVenue]:
    if world.book is None or world.options is None:
        raise ConfigError(
            key, None, "needs the desk's book and an options venue ([options] with [desk] or [market_maker])"
        )
    return world.book, world.options


def build_portfolio_manager(world: World, name: str, params: Any) -> PortfolioManager:
    d: DeskConfig = params
    book, options = _need_desk(world, "desk")
    assert world.oracle is not None
    first_expiry = min(s.expiry_ns for s in options.surface.slices)
    pm = PortfolioManager(
        name,
        book,
        options,
        world.oracle.price,
        d.strategy,
        list(d.strikes_pct),
        d.contracts,
        int(d.tenor_days * 24 * NS_PER_HOUR),
        int(d.roll_hours * NS_PER_HOUR),
        first_expiry_ns=first_expiry if first_expiry > world.start_ns else None,
    )
    if d.strategy == "covered_call":
        book.book_swap(USDC, int(d.contracts * world.s0 * USDC.unit), int(d.contracts * WETH.unit), hedge=False)
    world.portfolio_manager = pm
    return pm


def build_market_maker(world: World, name: str, params: Any) -> OptionsMarketMaker:
    mmc: MarketMakerConfig = params
    book, options = _need_desk(world, "market_maker")
    assert world.oracle is not None
    start = world.start_ns
    expiry = min(s.expiry_ns for s in options.surface.slices if s.expiry_ns > start)
    listed = [
        leg
        for pct in mmc.strikes_pct
        for leg, _ in strategy_legs("straddle", world.s0, [pct], 1.0, world.config.market.asset, expiry)
    ]
    mm = OptionsMarketMaker(
        name,
        book,
        options,
        world.oracle.price,
        listed,
        mmc.half_spread_vol,
        mmc.skew_vol_per_vega,
        mmc.max_vega,
        mmc.takers_per_block,
        mmc.taker_size,
        mmc.taker_edge_vol,
    )
    world.market_maker = mm
    return mm


class GasTokenPrice:
    """Whole ``token`` per whole ETH at the oracle's last usable price (the router's gas valuation)."""

    def __init__(self, oracle: OracleActor) -> None:
        self.oracle = oracle

    def __call__(self, token: Token) -> float:
        return 1.0 if token.symbol == "WETH" else self.oracle.last_price


def build_hedger(world: World, name: str, params: Any) -> DeltaHedger:
    h: HedgeSection = params
    book, options = _need_desk(world, "hedge")
    if world.pool is None or world.oracle is None:
        raise ConfigError("hedge", None, "needs a pool to trade on")
    pool = world.pool
    cfg = HedgeConfig(
        BandPolicy(h.policy),
        h.band,
        h.risk_aversion,
        h.cost,
        world.block_ns,
        h.slippage,
        h.deadline_s,
        h.tip_gwei,
        mode=h.mode,
        max_cost_bps=h.max_cost_bps,
    )
    venues = list(world.venues.values())
    router = None
    if h.router and h.mode == "route":
        router = SmartRouter(
            venues, gas_price_wei=world.environment.base_fee, gas_token_price=GasTokenPrice(world.oracle)
        )
    hedger = DeltaHedger(
        name, book, options, pool, pool.name, world.oracle.price, cfg, router, venues if h.router else [pool]
    )
    world.hedger = hedger
    return hedger


register_agent(AgentSpec("keel.agents:PortfolioManager", DeskConfig, build_portfolio_manager, "portfolio_manager"))
register_agent(AgentSpec("keel.agents:OptionsMarketMaker", MarketMakerConfig, build_market_maker, "market_maker"))
register_agent(AgentSpec("keel.agents:DeltaHedger", HedgeSection, build_hedger, "hedger"))


@_builder("agents")
def build_agents(world: World) -> None:
    config = world.config
    planned: list[tuple[AgentSpec, str, Any, dict[str, float], str]] = []
    if config.desk is not None and world.book is not None and config.desk.strategy != "none":
        planned.append((resolve_agent("keel.agents:PortfolioManager"), "portfolio_manager", config.desk, {}, "desk"))
    if config.market_maker is not None and world.book is not None:
        spec = resolve_agent("keel.agents:OptionsMarketMaker")
        planned.append((spec, "market_maker", config.market_maker, {}, "market_maker"))
    if world.book is not None and world.pool is not None and config.hedge.enabled:
        planned.append((resolve_agent("keel.agents:DeltaHedger"), "hedger", config.hedge, {}, "hedge"))
    for i, entry in enumerate(config.agents):
        key = f"agents.{i}"
        spec = resolve_agent(entry.class_, world.root, key=f"{key}.class")
        params = validate_params(spec, entry.params, f"{key}.params")
        name = entry.name or agent_name(spec)
        planned.append((spec, name, params, entry.fund, key))
    for spec, name, params, fund, key in planned:
        if name in world.agents:
            raise ConfigError(f"{key}.name", name, "another agent has this name")
        agent = spec.build(world, name, params)
        world.agents[name] = world.add(agent)
        for symbol in sorted(fund):
            token = _token(world, symbol, f"{key}.fund")
            amount = fund[symbol]
            if not (math.isfinite(amount) and amount >= 0):
                raise ConfigError(f"{key}.fund.{symbol}", amount, "must be a finite amount >= 0 (whole tokens)")
            world.fund(name, symbol, round(amount * token.unit))
    hedger = world.hedger
    if hedger is not None and world.book is not None:
        # the desk's on-chain account: its receipts move the chain's balances and the book alike
        world.fund(hedger.name, world.book.cash_token.symbol, world.book.cash)
        world.fund(hedger.name, world.book.asset_token.symbol, world.book.asset)


def _token(world: World, symbol: str, key: str) -> Token:
    for venue in world.venues.values():
        for token in (getattr(venue, "token0", None), getattr(venue, "token1", None)):
            if isinstance(token, Token) and token.symbol == symbol:
                return token
    if symbol == "ETH":
        return Token("ETH", 18)
    raise ConfigError(key, symbol, "no pool in this world trades this token")


# ------------------------------------------------------------------------------------- reporting
def _reporting(world: World) -> None:
    assert world.oracle is not None and world.prices is not None
    if world.book is not None:
        world.initial_equity += world.book.cash_units() + world.book.asset_units() * world.s0
    if world.perp is not None:
        world.initial_equity += world.perp.account("desk")[1]
    world.accountant = world.add(
        Accountant(
            world.book,
            world.options,
            world.oracle,
            world.prices,
            world.pool,
            world.perp,
            world.risk,
            world.option_edge,
            world.initial_equity,
            world.s0,
            world.pool_price(world.pool) if world.pool is not None else None,
        )
    )


def oracle_reading(world: World) -> OracleReading | None:
    return world.oracle.reading if world.oracle is not None else None
