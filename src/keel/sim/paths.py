"""Market paths: the reference price the simulated world follows (real replays and synthetic models).

A market path is a :class:`keel.marketdata.PriceSeries` (the one price-series type): int ns
UTC timestamps (non-decreasing) and float64 prices; the price at time ``t`` is the last
observation at or before ``t``.  Real files are read by :mod:`keel.marketdata` (one loader
per format) and pool prices converted by :func:`keel.oracle.dex.price_from_sqrt_price_x96`;
a replay must cover the simulated window (never padded with the first or last price).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from keel.domain import NS_PER_YEAR
from keel.errors import ConfigError, ValidationError
from keel.marketdata import PriceSeries, format_utc, load_binance_klines, load_uniswap_swaps
from keel.oracle.dex import price_from_sqrt_price_x96

__all__ = [
    "MarketPath",
    "catalog_path",
    "replay_path",
    "synthetic_path",
    "uniswap_swap_path",
    "with_crash",
]

MarketPath = PriceSeries  # the simulator's name for the one price-series type


def uniswap_swap_path(tick_csv: str | Path, token0_decimals: int = 6, token1_decimals: int = 18) -> PriceSeries:
    """Price of token1 in token0 after every real swap in a decoded Uniswap v3 event file
    (demeter ``tick.csv``); for USDC/WETH this is USD per ETH."""
    swaps = load_uniswap_swaps(tick_csv)
    px = np.array(
        [price_from_sqrt_price_x96(s, token0_decimals, token1_decimals, invert=True) for s in swaps.sqrt_price_x96]
    )
    return PriceSeries(swaps.name, swaps.ts_ns, px, source=swaps.source)


def catalog_path(
    folder: str | Path, chain_id: int, pool: str, start_ns: int, end_ns: int, base: str | None = None
) -> PriceSeries:
    """``market.kind = "catalog"``: the price after each swap of ``pool`` in ``[start_ns, end_ns)`` (led by the
    last one before the start) from a keel ingest catalog or its NATS stream
    (:func:`keel.marketdata.catalog.catalog_swaps`).  ``base``: the token priced (symbol, 'ETH' matches 'WETH'),
    in the other; default token1 in token0 (USD per ETH for USDC/WETH, as :func:`uniswap_swap_path`)."""
    from fractions import Fraction

    from keel.marketdata.catalog import catalog_swaps

    swaps = catalog_swaps(folder, chain_id, pool, start_ns, end_ns)
    meta = swaps.meta
    names = {meta.token0_symbol.upper(): 0, meta.token1_symbol.upper(): 1}
    priced = 1 if base is None else names.get(base.upper(), names.get("W" + base.upper()))
    if priced is None:
        raise ConfigError("market.asset", base, f"is neither {meta.token0_symbol} nor {meta.token1_symbol}")
    d0, d1 = meta.token0_decimals, meta.token1_decimals
    if meta.kind == "uniswap_v3":
        px = [price_from_sqrt_price_x96(s, d0, d1, invert=priced == 1) for s in swaps.sqrt_price_x96]
    else:  # token1 per token0 = (r1 / 10**d1) / (r0 / 10**d0), one rounding
        ratios = [Fraction(r1 * 10**d0, r0 * 10**d1) for r0, r1 in zip(swaps.reserve0, swaps.reserve1, strict=True)]
        px = [float(1 / q) if priced == 1 else float(q) for q in ratios]
    quote, asset = (meta.token0_symbol, meta.token1_symbol) if priced == 1 else (meta.token1_symbol, meta.token0_symbol)
    return PriceSeries(
        f"{meta.address} {quote}/{asset}",
        swaps.ts_ns,
        np.asarray(px, dtype=np.float64),
        source=f"catalog chain {meta.chain_id} pool {meta.address}",
    )


def replay_path(kind: str, path: str | Path, start_ns: int, end_ns: int) -> PriceSeries:
    """A real replay (``uniswap_swaps`` or ``binance_klines``) that must cover ``[start_ns, end_ns]``.

    The window may reach past the first or last observation by at most the longest gap between
    two observations inside the file (the data's own staleness); anything further is refused
    with a :class:`ConfigError` naming ``market.start`` or ``market.hours`` and the range the
    file covers: the path is never padded with the first or last price.
    """
    try:
        series = uniswap_swap_path(path) if kind == "uniswap_swaps" else load_binance_klines(path).path()
    except ValidationError as exc:
        raise ConfigError("market.file", str(path), str(exc)) from None
    gap = int(np.diff(series.ts_ns).max()) if len(series) > 1 else 0
    covers = f"{series.source} covers {format_utc(series.start_ns)} .. {format_utc(series.end_ns)}"
    if not series.start_ns - gap <= start_ns <= series.end_ns + gap:
        raise ConfigError("market.start", format_utc(start_ns), f"outside the data: {covers}")
    if end_ns > series.end_ns + gap:
        raise ConfigError("market.hours", format_utc(end_ns), f"the run ends past the data: {covers}")
    return series


def synthetic_path(
    model: Any, start_ns: int, horizon_ns: int, n_steps: int, seed: int, name: str = "synthetic"
) -> MarketPath:
    """One path of a keel.pricing.mc model (GBM, Merton, Heston, ...) on an even grid from ``start_ns``."""
    from keel.pricing import mc

    if n_steps < 1 or horizon_ns <= 0:
        raise ValidationError("n_steps", n_steps, "need n_steps >= 1 and a positive horizon")
    if n_steps >= 3_000_000_000 or start_ns + horizon_ns >= 2**63:
        raise ValidationError("n_steps", n_steps, "too many steps or too long a horizon for int64 ns")
    paths = np.asarray(mc.sample_paths(model, horizon_ns / NS_PER_YEAR, n_steps, 1, seed), dtype=np.float64)
    series = paths.reshape(-1)[-(n_steps + 1) :]
    # start + k * horizon // n without the int64 overflow of k * horizon (hours >= 207 at one
    # step a minute): floor(k h / n) = k q + floor(k r / n) with h = q n + r, k r < n**2
    q, r = divmod(int(horizon_ns), int(n_steps))
    k = np.arange(n_steps + 1, dtype=np.int64)
    ts = start_ns + k * q + (k * r) // n_steps
    return MarketPath(name, ts, series, source=type(model).__name__)


def with_crash(
    path: MarketPath, at_ns: int, drop: float, duration_ns: int, recovery: float = 0.0, recovery_ns: int = 0
) -> MarketPath:
    """A crash scenario on top of ``path``: from ``at_ns`` the price is multiplied down linearly (in log)
    to ``1 − drop`` over ``duration_ns``, then recovers a share ``recovery`` of the log drop over
    ``recovery_ns`` and stays there.  ``drop`` in (0, 1)."""
    if not 0.0 < drop < 1.0:
        raise ValidationError("crash.drop", drop, "must be in (0, 1)")
    if duration_ns <= 0 or recovery_ns < 0 or not 0.0 <= recovery <= 1.0:
        raise ValidationError("crash", (duration_ns, recovery, recovery_ns), "need duration > 0, recovery in [0, 1]")
    t = path.ts_ns.astype(np.float64)
    low = np.log1p(-drop)
    fall = np.clip((t - at_ns) / duration_ns, 0.0, 1.0) * low
    if recovery_ns > 0:
        back = np.clip((t - at_ns - duration_ns) / recovery_ns, 0.0, 1.0) * (-low * recovery)
    else:
        back = np.where(t >= at_ns + duration_ns, -low * recovery, 0.0)
    return MarketPath(path.name + "+crash", path.ts_ns, path.price * np.exp(fall + back), path.source + "+crash")
