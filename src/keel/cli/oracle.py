"""``keel oracle replay FILE``: run the aggregator over a real price file and summarize it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli.app import app
from keel.errors import ValidationError

if TYPE_CHECKING:
    from keel.marketdata import PriceSeries

oracle_app = typer.Typer(help="Price oracle: aggregate many feeds into one robust price.", no_args_is_help=True)
app.add_typer(oracle_app, name="oracle")

MAX_NOISE_BPS = 1_000.0  # 10% one-sigma noise; much more and the noisy factor 1 + N(0, s) goes negative
MAX_AGE_S = 366 * 24 * 3600  # one year
MAX_CORRUPT = 1e6


def _load(path: Path) -> PriceSeries:
    from keel.marketdata import PriceSeries
    from keel.oracle.replay import load_binance_klines, load_uniswap_rel_price

    if not path.is_file():
        raise ValidationError("FILE", str(path), "no such file")
    with path.open("rb") as fh:
        head = fh.readline(4096)
    if head.startswith(b"open_time"):
        return load_binance_klines(path)
    if head.startswith(b"block_timestamp") and b",eth," in head:
        ts, eth, _, _ = load_uniswap_rel_price(path)
        return PriceSeries(path.name, ts, eth, source=path.name)
    raise ValidationError("FILE", str(path), "not a Binance kline CSV or a Uniswap *.rel-price.csv")


def _check_options(noise_bps: float, corrupt: float, max_age_s: int, seed: int) -> None:
    if not (math.isfinite(noise_bps) and 0.0 <= noise_bps <= MAX_NOISE_BPS):
        raise ValidationError("--noise-bps", noise_bps, f"must be finite, in [0, {MAX_NOISE_BPS:g}] bp")
    if not (math.isfinite(corrupt) and 1e-6 <= corrupt <= MAX_CORRUPT):
        raise ValidationError("--corrupt", corrupt, f"must be finite, in [1e-06, {MAX_CORRUPT:g}]")
    if not 1 <= max_age_s <= MAX_AGE_S:
        raise ValidationError("--max-age-s", max_age_s, f"must be in [1, {MAX_AGE_S}] seconds (one year)")
    if not 0 <= seed < 2**63:
        raise ValidationError("--seed", seed, "must be in [0, 2**63)")


@oracle_app.command("replay")
def replay_command(
    path: Path = typer.Argument(..., help="Binance 1m kline CSV or Uniswap *.rel-price.csv"),
    sources: int = typer.Option(5, "--sources", min=1, max=64, help="Honest sources built from the file."),
    noise_bps: float = typer.Option(2.0, "--noise-bps", help="Seeded noise per source (bp, 1 sigma; 0-1000)."),
    corrupt: float = typer.Option(1.0, "--corrupt", help="Multiply the last source by this factor (1e-6 to 1e6)."),
    max_age_s: int = typer.Option(90, "--max-age-s", help="Maximum sample age (s; 1 to one year)."),
    seed: int = typer.Option(0, "--seed", help="Noise seed (>= 0)."),
) -> None:
    """Replay a real price file as N noisy honest sources (one optionally corrupted) and report
    how closely the oracle followed the file's price, with its statuses and confidence."""
    _check_options(noise_bps, corrupt, max_age_s, seed)
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from keel.domain import NS_PER_SECOND, ns_to_datetime
    from keel.oracle import AggregatorConfig
    from keel.oracle.replay import replay

    series = _load(path)
    rng = np.random.default_rng(seed)
    px = series.price[:, None] * (1.0 + rng.normal(0.0, noise_bps * 1e-4, (len(series.price), sources)))
    px[:, -1] *= corrupt
    ids = [f"src{j}" for j in range(sources)]
    cfg = AggregatorConfig.uniform(ids, max_age_ns=max_age_s * NS_PER_SECOND)
    res = replay(cfg, series.ts_ns, px)
    live = ~np.isnan(res.price)
    err = np.abs(res.price[live] / series.price[live] - 1.0) * 1e4
    conf = res.confidence[live] / res.price[live] * 1e4
    counts = res.counts()
    table = Table(title=f"{series.name}: {len(series.price)} ticks x {sources} sources")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("from", ns_to_datetime(int(series.ts_ns[0])).strftime("%Y-%m-%d %H:%M UTC"))
    table.add_row("to", ns_to_datetime(int(series.ts_ns[-1])).strftime("%Y-%m-%d %H:%M UTC"))
    table.add_row("price first / last", f"{series.price[0]:,.4f} / {series.price[-1]:,.4f}")
    for name in ("ok", "degraded", "halted"):
        table.add_row(f"readings {name}", str(counts[name]))
    if err.size:
        table.add_row("|oracle - file| median / max", f"{np.median(err):.2f} / {np.max(err):.2f} bp")
        table.add_row("confidence median", f"{np.median(conf):.2f} bp")
    Console().print(table)
