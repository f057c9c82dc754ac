"""Scenario configuration for ``keel simulate``: a TOML file validated by pydantic.

Every section forbids unknown keys; a bad key or value raises :class:`keel.errors.ConfigError`
whose one-line message names the key path (``hedge.policy``) and the problem.  Paths are
relative to the project root (the working directory) unless absolute.

Every number is finite (inf and NaN are refused in every section) and inside a stated range:
the field's own bounds, or, for a float field without an upper bound, at most
:data:`FLOAT_LIMIT` in magnitude.  Cross-field rules (``perp.leverage_min <= perp.leverage_max``,
the SVI slices' minimum total variance, a roll before expiry, ...) are checked by
:func:`validate_config`.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from keel.domain import datetime_to_ns
from keel.errors import ConfigError

__all__ = [
    "FLOAT_LIMIT",
    "AgentEntry",
    "AgentsConfig",
    "AlertsConfig",
    "ChainConfig",
    "CounterpartiesConfig",
    "DeskConfig",
    "HedgeSection",
    "MarketConfig",
    "MarketMakerConfig",
    "OptionsConfig",
    "OracleOutageConfig",
    "OracleSection",
    "OracleSourceConfig",
    "PerpConfig",
    "PoolConfig",
    "ScenarioConfig",
    "SviConfig",
    "load_config",
    "parse_utc",
]


FLOAT_LIMIT = 1e12  # magnitude cap of a float field that states no upper bound of its own


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _floats(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _floats(item)]
    return []


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @pydantic.field_validator("*", mode="after")
    @classmethod
    def _stated_range(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        """Floats of a field without its own upper bound stay within +-FLOAT_LIMIT."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None or any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in field.metadata):
            return value
        for v in _floats(value):
            if not abs(v) <= FLOAT_LIMIT:
                raise ValueError(f"must be finite and at most {FLOAT_LIMIT:g} in magnitude")
        return value


def parse_utc(text: str) -> int:
    """ISO-8601 UTC time ('2024-01-12T08:00:00Z') to int ns."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return datetime_to_ns(moment)


class MarketConfig(_Section):
    """``kind``: 'uniswap_swaps' (real pool swaps file), 'binance_klines' (real 1-minute file), or a
    keel.pricing.mc model ('gbm', 'merton', 'heston') run from ``start`` for ``hours``, or 'crash': a GBM
    path with a crash of ``crash_drop`` over ``crash_minutes`` at ``crash_at_hours``, then a recovery of
    ``crash_recovery`` of it over ``crash_recovery_minutes``."""

    kind: Literal["uniswap_swaps", "binance_klines", "gbm", "merton", "heston", "crash", "catalog"]
    asset: str = "ETH"
    file: str | None = None
    catalog: str = "data/catalog"  # kind 'catalog': a keel ingest catalog directory ...
    pool: str | None = None  # ... the pool address in it ...
    chain_id: int = Field(default=1, ge=1)  # ... and its chain (swaps in [start, start + hours))
    start: str = "2024-01-05T00:00:00Z"
    hours: float = Field(default=24.0, gt=0, le=24 * 30)
    s0: float = Field(default=2270.0, ge=1e-6, le=1e9)
    sigma: float = Field(default=0.5, gt=0, lt=5)
    rate: float = Field(default=0.0, ge=-1, le=1)
    jump_intensity: float = Field(default=2.0, ge=0, le=1000)
    jump_mean: float = Field(default=-0.05, ge=-2, le=2)
    jump_sigma: float = Field(default=0.08, ge=0, le=2)
    heston_kappa: float = Field(default=2.0, gt=0, le=100)
    heston_xi: float = Field(default=0.8, gt=0, le=10)
    heston_rho: float = Field(default=-0.6, gt=-1, lt=1)
    crash_at_hours: float = Field(default=6.0, ge=0, le=24 * 30)
    crash_drop: float = Field(default=0.3, gt=0, lt=1)
    crash_minutes: float = Field(default=60.0, gt=0, le=24 * 60 * 30)
    crash_recovery: float = Field(default=0.3, ge=0, le=1)
    crash_recovery_minutes: float = Field(default=240.0, ge=0, le=24 * 60 * 30)


class ChainConfig(_Section):
    block_time_s: float = Field(default=12.0, gt=0, le=60)
    base_fee_gwei: float = Field(default=20.0, gt=0, le=100_000)
    gas_limit: int = Field(default=30_000_000, gt=0, le=1_000_000_000)
    latency_ms: int = Field(default=1000, ge=0, le=600_000)
    background_utilization: float = Field(default=0.5, ge=0, le=1)


class PoolConfig(_Section):
    """The hedging pool: a Uniswap v3 USDC/WETH pool opened at the path's first price.

    ``liquidity``: active liquidity (the real pool's was 12453647101533358277 at 2024-01-05 00:00);
    ``range_pct``: the LP range around the start price (±%); ``extra_fee_tiers``: more USDC/WETH pools
    (other fee tiers) with ``extra_liquidity_share`` × that liquidity, for the router to split across."""

    fee: Literal[100, 500, 3000, 10000] = 500
    liquidity: int = Field(default=12_453_647_101_533_358_277, gt=0, le=2**128 - 1)  # uint128 in the pool
    range_pct: float = Field(default=25.0, gt=1, lt=90)
    extra_fee_tiers: list[Literal[100, 500, 3000, 10000]] = Field(default_factory=list)
    extra_liquidity_share: float = Field(default=0.25, gt=0, le=10)


class PoolSpec(_Section):
    """One more USDC/WETH pool beside ``[pool]`` (``[[pools]]`` entries): ``version`` 3 (a
    UniswapV3Pool) or 4 (a pool in a Uniswap v4 PoolManager, keel.venues.uniswap_v4); ``fee`` in
    pips (v3: a factory tier; v4: any LP fee up to 100%); ``tick_spacing`` (default: the v3 tier's);
    ``liquidity_share`` x ``[pool].liquidity`` over ``range_pct`` (default ``[pool].range_pct``)."""

    version: Literal[3, 4] = 3
    fee: int = Field(default=500, ge=0, le=1_000_000)
    tick_spacing: int | None = Field(default=None, ge=1, le=16383)
    liquidity_share: float = Field(default=0.25, gt=0, le=10)
    range_pct: float | None = Field(default=None, gt=1, lt=90)
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]+$")

    @model_validator(mode="after")
    def _v3_tiers(self) -> PoolSpec:
        if self.version == 3 and self.fee not in (100, 500, 3000, 10000):
            raise ValueError(f"fee={self.fee}: a v3 pool's fee is a factory tier (100, 500, 3000 or 10000)")
        if self.tick_spacing is None and self.fee not in (100, 500, 3000, 10000):
            raise ValueError(f"fee={self.fee}: give tick_spacing (no default for a non-tier fee)")
        return self


class SviConfig(_Section):
    """Raw SVI ``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))`` in total variance;
    its minimum ``a + b sigma sqrt(1 - rho^2)`` must be >= 0."""

    expiry: str
    a: float = Field(ge=-10, le=10)
    b: float = Field(ge=0, le=10)
    rho: float = Field(gt=-1, lt=1)
    m: float = Field(ge=-10, le=10)
    sigma: float = Field(gt=0, le=10)


class SurfaceConfig(_Section):
    """A surface fitted to a real option chain (keel.pricing.fit_surface).

    ``chain``: a Deribit ticker snapshot CSV or an IV/Greeks export (e.g. the 2026 hourly file);
    ``snapshot``: which snapshot of it (0 = first); ``weighting``: the fit's weights;
    ``min_expiry_days``: drop expiries closer than this to the snapshot; ``max_fit_vol_pts``:
    drop expiries whose fit RMSE against the chain's mark IVs (vol points) exceeds this (illiquid ones)."""

    chain: str
    snapshot: int = Field(default=0, ge=0)
    weighting: Literal["spread", "vega"] = "spread"
    min_expiry_days: float = Field(default=2.0, ge=0, le=3650)
    max_fit_vol_pts: float = Field(default=2.5, gt=0, le=1000)


class OptionsConfig(_Section):
    """Either ``svi`` (illustrative raw-SVI slices, for synthetic runs) or ``surface`` (fitted to a
    real chain; its snapshot is aligned with ``market.start``, expiries keep their distance).
    ``vol_replay``: a Deribit IV/greeks file whose at-the-money vol, relative to its first snapshot,
    scales the surface over time (its first snapshot is aligned with ``market.start``)."""

    vol_replay: str | None = None
    half_spread_vol: float = Field(default=0.01, ge=0, lt=1)
    rate: float = Field(default=0.0, ge=-1, le=1)
    svi: list[SviConfig] = Field(default_factory=list)
    surface: SurfaceConfig | None = None


class DeskConfig(_Section):
    """``strategy``: what the portfolio manager opens (and rolls ``roll_hours`` before expiry).
    ``strikes_pct``: strikes as % of the start price; ``contracts``: per leg (1 = one unit of the asset).
    Every ``margin_every_blocks`` a keel.risk.RiskMonitor checks the book: |delta| > ``max_delta`` requests
    a hedge (the hedger trades at once, band or not); maintenance/equity ≥ ``reduce_only_ratio`` puts the
    portfolio manager in reduce-only (it closes at the roll instead of reopening)."""

    strategy: Literal["short_call_strip", "covered_call", "straddle", "iron_condor", "none"] = "short_call_strip"
    strikes_pct: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [105.0, 110.0, 115.0], min_length=1, max_length=50
    )
    contracts: float = Field(default=100.0, gt=0, le=1e7)
    tenor_days: float = Field(default=7.0, gt=0, le=3650)
    roll_hours: float = Field(default=0.0, ge=0, le=24 * 3650)
    initial_usd: float = Field(default=2_000_000.0, gt=0, le=1e12)
    margin: Literal["portfolio", "standard"] = "portfolio"
    margin_every_blocks: int = Field(default=25, ge=1, le=1_000_000)
    max_delta: float | None = Field(default=None, gt=0, le=1e9)
    reduce_only_ratio: float = Field(default=0.8, gt=0, le=1)


class HedgeSection(_Section):
    """``mode``: ``"intents"`` states each hedge as a keel.execution.HedgeIntent worked by the
    ExecutionController (``max_cost_bps`` of the trade's notional caps its cost, gas included);
    ``"route"`` sends one swap quoted at submission.  ``router``: trade across every pool (else
    the main pool only)."""

    enabled: bool = True
    mode: Literal["intents", "route"] = "intents"
    router: bool = True
    max_cost_bps: float = Field(default=100.0, ge=0, le=10_000)
    policy: Literal["fixed", "whalley_wilmott", "leland"] = "whalley_wilmott"
    band: float = Field(default=2.0, ge=0, le=1e6)
    risk_aversion: float = Field(default=1e-4, gt=0, le=1e3)
    cost: float = Field(default=0.001, ge=0, lt=0.1)
    slippage: float = Field(default=0.005, gt=0, lt=0.5)
    deadline_s: int = Field(default=60, gt=0, le=86_400)
    tip_gwei: float = Field(default=1.5, ge=0, le=100_000)


class CounterpartiesConfig(_Section):
    """The market's other participants: an arbitrageur per pool (top of block, to the reference
    price), ``sandwich_bots`` MEV bots, and noise traders (``noise_swaps_per_block`` Poisson swaps
    of lognormal USD size around ``noise_median_usd``, ``noise_loose_share`` of them with a loose
    min-out).  Written ``[counterparties]``; the older ``[agents]`` table is read as this section."""

    arbitrageur: bool = True
    sandwich_bots: int = Field(default=1, ge=0, le=5)
    noise_swaps_per_block: float = Field(default=0.3, ge=0, le=20)
    noise_median_usd: float = Field(default=15_000.0, gt=0, le=1e9)
    noise_loose_share: float = Field(default=0.2, ge=0, le=1)


AgentsConfig = CounterpartiesConfig  # the section's former name


class AgentEntry(_Section):
    """One ``[[agents]]`` entry: ``class = "package.module:ClassName"`` (a user strategy, or a built-in
    such as ``keel.agents:DeltaHedger``), its ``name`` (default: the class name in snake case) and
    ``params``, validated by the class's own pydantic model (``ClassName.Params``).  ``fund``:
    whole tokens credited to the agent's account on the simulated chain (``{USDC = 1e6}``);
    a live chain's balances are its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class_: str = Field(alias="class", pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    params: dict[str, Any] = Field(default_factory=dict)
    fund: dict[str, float] = Field(default_factory=dict)


class OracleSourceConfig(_Section):
    """One oracle source: ``feed`` is what it reads (``"reference"``: the market path, a CEX-like
    feed; ``"pool"``: the main Uniswap pool's mid price; ``"pool:NAME"``: another pool),
    ``weight`` in the weighted median, ``max_age_s`` its staleness limit, ``confidence_bps`` the
    band assumed for its samples."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    feed: str = "reference"
    weight: float = Field(default=1.0, gt=0, le=1e6)
    max_age_s: float = Field(default=120.0, gt=0, le=1e9)  # int64 nanoseconds hold ~292 years
    confidence_bps: float = Field(default=0.0, ge=0, le=10_000)


class OracleOutageConfig(_Section):
    """Sources (empty: all) that send nothing for ``blocks`` blocks from ``start_block`` (a feed outage)."""

    start_block: int = Field(ge=1, le=2**40)
    blocks: int = Field(gt=0, le=2**40)
    sources: list[str] = Field(default_factory=list)


def _default_sources() -> list[OracleSourceConfig]:
    return [
        OracleSourceConfig(name="cex", feed="reference", weight=2.0, max_age_s=120.0),
        OracleSourceConfig(name="pool", feed="pool", weight=1.0, max_age_s=120.0),
    ]


class OracleSection(_Section):
    """The desk's price oracle (keel.oracle.Aggregator), read once per block by keel.oracle.OracleActor.

    Defaults are the former fixed wiring: the reference market (weight 2) and the main pool
    (weight 1), 120 s staleness, quorum 1.  ``quorum`` (None: strict majority); ``outlier_mad_k``
    and ``outlier_min_bps`` (deviation filter); ``breaker_band_bps`` around a ``twap_window_s`` TWAP
    (circuit breaker); ``ema_window_s``; ``max_confidence_bps`` (wider is DEGRADED);
    ``outages``: scripted feed outages."""

    sources: list[OracleSourceConfig] = Field(default_factory=_default_sources, min_length=1)
    quorum: int | None = Field(default=1, ge=1, le=1000)
    outlier_mad_k: float = Field(default=5.0, gt=0, le=1e6)
    outlier_min_bps: float = Field(default=50.0, ge=0, le=1e6)
    breaker_band_bps: float = Field(default=2500.0, gt=0, le=1e6)
    twap_window_s: float = Field(default=900.0, gt=0, le=1e9)  # int64 nanoseconds hold ~292 years
    ema_window_s: float = Field(default=300.0, gt=0, le=1e9)
    max_confidence_bps: float = Field(default=200.0, gt=0, le=1e6)
    outages: list[OracleOutageConfig] = Field(default_factory=list)


class MarketMakerConfig(_Section):
    """An options market maker on the options venue: quotes every listed option at the surface
    mark ± ``half_spread_vol``, skewed by ``skew_vol_per_vega`` per unit of inventory vega;
    takers arrive at ``takers_per_block`` (Poisson) and trade ``taker_size`` contracts."""

    strikes_pct: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [90.0, 95.0, 100.0, 105.0, 110.0], min_length=1, max_length=50
    )
    half_spread_vol: float = Field(default=0.015, gt=0, lt=0.5)
    skew_vol_per_vega: float = Field(default=2e-6, ge=0, le=1)
    max_vega: float = Field(default=20_000.0, gt=0, le=1e9)
    takers_per_block: float = Field(default=0.05, ge=0, le=10)
    taker_size: float = Field(default=10.0, gt=0, le=1e6)
    taker_edge_vol: float = Field(default=0.02, ge=0, lt=0.5)


class PerpConfig(_Section):
    """A perpetual venue on the path with funding from real Binance rates, a crowd of leveraged
    accounts, the desk's own leveraged book, and liquidators."""

    funding_file: str
    accounts: int = Field(default=300, ge=0, le=100_000)
    long_share: float = Field(default=0.7, ge=0, le=1)
    leverage_min: float = Field(default=2.0, ge=1, le=200)
    leverage_max: float = Field(default=50.0, ge=1, le=200)
    median_notional_usd: float = Field(default=50_000.0, gt=0, le=1e9)
    maintenance_margin: float = Field(default=0.005, gt=0, lt=0.5)
    liquidation_fee: float = Field(default=0.01, ge=0, lt=0.5)
    insurance_fund_usd: float = Field(default=2_000_000.0, ge=0, le=1e12)
    liquidators: int = Field(default=2, ge=0, le=10)
    liquidator_delay_blocks: int = Field(default=1, ge=0, le=10_000)
    desk_leverage: float = Field(default=8.0, gt=0, le=100)
    desk_collateral_usd: float = Field(default=1_000_000.0, gt=0, le=1e12)
    desk_side: Literal["long", "short"] = "long"


class AlertsConfig(_Section):
    """Alert rules checked every block by keel.runtime.alerts; each alert fires once when its condition
    starts to hold (again after it has cleared), is stored, shown by ``keel serve`` and POSTed as JSON to
    every URL in ``webhooks`` (retried with backoff in the background; the run never waits for it).

    ``margin_ratio_below``: equity / maintenance margin under this value; ``oracle_halted``: the oracle
    reading is HALTED; ``hedge_failed``: a hedge transaction reverted or its intent was refused;
    ``drawdown_usd``: PnL this many USD below its running peak; ``tx_stuck_blocks``: a submitted
    transaction still without a receipt after this many blocks."""

    margin_ratio_below: float | None = Field(default=None, gt=0, le=1e6, allow_inf_nan=False)
    oracle_halted: bool = True
    hedge_failed: bool = True
    drawdown_usd: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)
    tx_stuck_blocks: int | None = Field(default=None, ge=1, le=1_000_000)
    webhooks: list[str] = Field(default_factory=list, max_length=20)
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, allow_inf_nan=False)
    webhook_retries: int = Field(default=5, ge=0, le=20)

    @pydantic.field_validator("webhooks")
    @classmethod
    def _webhook_urls(cls, urls: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
                raise ValueError(f"webhook {url!r} is not an http(s) URL with a host")
        return urls


class ScenarioConfig(_Section):
    # the folder of the TOML file it was read from (load_config), where relative file paths are looked for when
    # the working directory does not have them; None for a config built in code
    _source_dir: Path | None = pydantic.PrivateAttr(default=None)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    market: MarketConfig
    chain: ChainConfig = ChainConfig()
    pool: PoolConfig = PoolConfig()
    pools: list[PoolSpec] = Field(default_factory=list)
    options: OptionsConfig | None = None
    desk: DeskConfig | None = None
    hedge: HedgeSection = HedgeSection()
    counterparties: CounterpartiesConfig = CounterpartiesConfig()
    oracle: OracleSection = OracleSection()
    agents: list[AgentEntry] = Field(default_factory=list)
    market_maker: MarketMakerConfig | None = None
    perp: PerpConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_agents_table(cls, data: Any) -> Any:
        """``[agents]`` as a table (arbitrageur, sandwich bots, noise) is the former name of ``[counterparties]``."""
        if isinstance(data, dict) and isinstance(data.get("agents"), dict):
            if "counterparties" in data:
                raise ValueError("give [counterparties] (the market's bots); [agents] is a list of [[agents]] entries")
            data = dict(data)
            data["counterparties"] = data.pop("agents")
        return data

    alerts: AlertsConfig | None = None


def _describe(error: Any) -> ConfigError:
    loc = ".".join(str(p) for p in error.get("loc", ())) or "config"
    kind = error.get("type", "")
    value = error.get("input")
    if kind == "extra_forbidden":
        return ConfigError(loc, value, "unknown key")
    if kind == "missing":
        return ConfigError(loc, None, "required key is missing")
    if kind == "finite_number":
        return ConfigError(loc, value, "must be a finite number (inf and nan are refused)")
    msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return ConfigError(loc, value, msg)


def validate_config(data: dict[str, Any]) -> ScenarioConfig:
    """Validate a parsed TOML mapping; the first problem becomes one ConfigError."""
    try:
        config = ScenarioConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        error: dict[str, Any] = dict(exc.errors()[0])
        loc: tuple[Any, ...] = tuple(error.get("loc", ()))
        if loc[:1] == ("counterparties",) and isinstance(data.get("agents"), dict) and "counterparties" not in data:
            error["loc"] = ("agents", *loc[1:])  # the key as the user wrote it (the legacy [agents] table)
        raise _describe(error) from None
    needs_options = (config.desk is not None and config.desk.strategy != "none") or config.market_maker is not None
    if needs_options and config.options is None:
        raise ConfigError(
            "options", None, "a desk strategy or market maker needs an [options] section (svi slices or a surface)"
        )
    if config.perp is None and config.desk is None and config.market_maker is None and not config.agents:
        raise ConfigError("desk", None, "give at least one of [desk], [market_maker], [perp] or [[agents]]")
    names = [s.name for s in config.oracle.sources]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"oracle.sources.{i}.name", name, "duplicates another source's name")
    for i, src in enumerate(config.oracle.sources):
        if src.feed not in ("reference", "pool") and not src.feed.startswith("pool:"):
            raise ConfigError(f"oracle.sources.{i}.feed", src.feed, "must be 'reference', 'pool' or 'pool:NAME'")
    if config.oracle.quorum is not None and config.oracle.quorum > len(names):
        raise ConfigError("oracle.quorum", config.oracle.quorum, f"exceeds the {len(names)} configured sources")
    for i, outage in enumerate(config.oracle.outages):
        for source in outage.sources:
            if source not in names:
                raise ConfigError(f"oracle.outages.{i}.sources", source, "no such oracle source")
    if config.options is not None and bool(config.options.svi) == (config.options.surface is not None):
        problem = (
            "give [[options.svi]] slices or [options.surface], not both"
            if config.options.svi
            else ("give [[options.svi]] slices or [options.surface] (a real chain to fit)")
        )
        raise ConfigError("options.surface", None, problem)
    for i, sl in enumerate(config.options.svi if config.options else []):
        try:
            parse_utc(sl.expiry)
        except ValueError:
            raise ConfigError(f"options.svi.{i}.expiry", sl.expiry, "not an ISO-8601 UTC time") from None
    try:
        parse_utc(config.market.start)
    except ValueError:
        raise ConfigError("market.start", config.market.start, "not an ISO-8601 UTC time") from None
    if config.market.kind in ("uniswap_swaps", "binance_klines") and not config.market.file:
        raise ConfigError("market.file", None, f"market kind {config.market.kind!r} replays a file: give its path")
    if config.market.kind == "catalog" and not config.market.pool:
        raise ConfigError(
            "market.pool", None, "market kind 'catalog' replays a pool from the catalog: give its address"
        )
    _cross_field_rules(config)
    return config


def _cross_field_rules(config: ScenarioConfig) -> None:
    """Rules between fields (each error names the key the user wrote)."""
    m = config.market
    if m.kind == "crash" and not m.crash_at_hours < m.hours:
        raise ConfigError(
            "market.crash_at_hours", m.crash_at_hours, f"must be before the end (market.hours = {m.hours:g})"
        )
    for i, sl in enumerate(config.options.svi if config.options else []):
        floor = sl.a + sl.b * sl.sigma * math.sqrt(1.0 - sl.rho * sl.rho)
        if floor < 0.0:
            raise ConfigError(
                f"options.svi.{i}.a", sl.a, f"a + b*sigma*sqrt(1-rho^2) = {floor:.6g} < 0: total variance goes negative"
            )
    d = config.desk
    if d is not None:
        if d.roll_hours >= d.tenor_days * 24.0:
            raise ConfigError("desk.roll_hours", d.roll_hours, f"must be less than the tenor ({d.tenor_days:g} days)")
        if d.strategy == "iron_condor":
            if len(d.strikes_pct) < 3:
                raise ConfigError("desk.strikes_pct", d.strikes_pct, "iron_condor needs [inner %, (unused), wing %]")
            for j in (0, 2):
                if not 0.0 < d.strikes_pct[j] < 200.0:
                    raise ConfigError(
                        f"desk.strikes_pct.{j}", d.strikes_pct[j], "iron_condor strikes must be in (0, 200) %"
                    )
    p = config.perp
    if p is not None and p.leverage_min > p.leverage_max:
        raise ConfigError(
            "perp.leverage_min", p.leverage_min, f"must not exceed perp.leverage_max = {p.leverage_max:g}"
        )


def load_config(path: Path) -> ScenarioConfig:
    """Read and validate a scenario TOML file."""
    if not path.is_file():
        raise ConfigError("config", str(path), "no such file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("config", str(path), f"not UTF-8 text (byte {exc.start}): not a TOML file") from None
    except OSError as exc:
        raise ConfigError("config", str(path), f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", str(path), f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError("config", str(path), "not valid TOML: nested too deeply") from None
    if not data:
        raise ConfigError("config", str(path), "is empty: a scenario needs at least name and [market]")
    try:
        config = validate_config(data)
    except ConfigError as exc:  # name the file the user wrote as well as the key
        exc.args = (f"{path}: {exc.args[0]}",)
        raise
    config._source_dir = path.resolve().parent
    return config


def files_beside_the_config(config: ScenarioConfig, root: Path) -> dict[str, str]:
    """``{dotted key: absolute path}`` of the config's relative file paths that :func:`config_file` finds beside
    the config file and not under ``root``: what a copy of the config as plain data (a sweep's tasks) needs to
    find the same files."""
    named = {
        "market.file": config.market.file,
        "market.catalog": config.market.catalog,
        "options.surface.chain": config.options.surface.chain if config.options and config.options.surface else None,
        "options.vol_replay": config.options.vol_replay if config.options is not None else None,
        "perp.funding_file": config.perp.funding_file if config.perp is not None else None,
    }
    out = {}
    for key, name in named.items():
        if name and not Path(name).is_absolute() and not (root / name).exists():
            found = config_file(config, root, name)
            if found.exists():
                out[key] = str(found)
    return out


def config_file(config: ScenarioConfig, root: Path, name: str) -> Path:
    """A file or folder the config names: an absolute path as it is; a relative one from ``root`` (the working
    directory of a command), else from the folder of the config file when it is there and not under ``root``
    (so ``keel simulate /elsewhere/desk.toml`` finds ``/elsewhere/data/...``).  The caller says when it is missing."""
    p = Path(name)
    if p.is_absolute():
        return p
    first = root / p
    source = config._source_dir
    if first.exists() or source is None:
        return first
    second = source / p
    return second if second.exists() else first
