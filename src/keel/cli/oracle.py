"""``keel oracle replay FILE``: run the aggregator over a real price file and summarize it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from keel.cli.app import app
from keel.domain import NS_PER_SECOND, ns_to_datetime
from keel.errors import ValidationError
from keel.oracle import AggregatorConfig
from keel.oracle.replay import PriceSeries, load_binance_klines, load_uniswap_rel_price, replay

oracle_app = typer.Typer(help="Price oracle: aggregate many feeds into one robust price.", no_args_is_help=True)
app.add_typer(oracle_app, name="oracle")


def _load(path: Path) -> PriceSeries:
    if not path.is_file():
        raise ValidationError("FILE", str(path), "no such file")
    with path.open() as fh:
        header = fh.readline()
    if header.startswith("open_time"):
        return load_binance_klines(path)
    if header.startswith("block_timestamp") and ",eth," in header:
        ts, eth, _, _ = load_uniswap_rel_price(path)
        return PriceSeries(path.name, ts, eth)
    raise ValidationError("FILE", str(path), "not a Binance kline CSV or a Uniswap *.rel-price.csv")


@oracle_app.command("replay")
def replay_command(
    path: Path = typer.Argument(..., help="Binance 1m kline CSV or Uniswap *.rel-price.csv"),
    sources: int = typer.Option(5, "--sources", min=1, max=64, help="Honest sources built from the file."),
    noise_bps: float = typer.Option(2.0, "--noise-bps", min=0.0, help="Seeded noise per source (bp, 1 sigma)."),
    corrupt: float = typer.Option(1.0, "--corrupt", min=1e-6, help="Multiply the last source by this factor."),
    max_age_s: int = typer.Option(90, "--max-age-s", min=1, help="Maximum sample age (s)."),
    seed: int = typer.Option(0, "--seed", help="Noise seed."),
) -> None:
    """Replay a real price file as N noisy honest sources (one optionally corrupted) and report
    how closely the oracle followed the file's price, with its statuses and confidence."""
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
