"""``keel catalog list|show``: what the Parquet catalog holds."""

from __future__ import annotations

from pathlib import Path

import typer

from keel.cli.app import app

catalog_app = typer.Typer(help="Inspect the Parquet catalog written by `keel ingest`.")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("list")
def list_command(
    catalog: Path = typer.Option(Path("catalog"), "--catalog", help="catalog directory"),
) -> None:
    """One line per pool: chain, address, kind, tokens, fee, block coverage."""
    from rich.console import Console
    from rich.table import Table

    from keel.marketdata.catalog import Catalog, CatalogError

    if not catalog.is_dir():
        raise CatalogError(f"catalog={str(catalog)!r}: no such directory")
    metas = Catalog(catalog).pools()
    table = Table(title=f"catalog {catalog}")
    for col in ("chain", "pool", "kind", "pair", "fee", "blocks"):
        table.add_column(col, overflow="fold")
    for m in metas:
        table.add_row(
            str(m.chain_id),
            m.address,
            m.kind,
            f"{m.token0_symbol}/{m.token1_symbol}",
            str(m.fee),
            f"{m.from_block}..{m.next_block - 1}",
        )
    Console().print(table)
    typer.echo(f"{len(metas)} pools")


@catalog_app.command("show")
def show_command(
    pool: str = typer.Argument(..., help="pool address"),
    catalog: Path = typer.Option(Path("catalog"), "--catalog", help="catalog directory"),
    chain_id: int | None = typer.Option(None, "--chain-id", help="chain id (when the pool is on several)"),
) -> None:
    """A pool's tokens, coverage, time span, events by kind and files (every file is read: a damaged one is named)."""
    import datetime as dt

    import polars as pl

    from keel.marketdata.catalog import Catalog, CatalogError

    if not catalog.is_dir():
        raise CatalogError(f"catalog={str(catalog)!r}: no such directory")
    cat = Catalog(catalog)
    meta = cat.find(pool, chain_id)
    events = cat.events(meta.chain_id, meta.address, by="block")
    blocks = cat.blocks(meta.chain_id, meta.address)
    files = list(cat.files(meta.chain_id, meta.address))
    size = sum(f.stat().st_size for f in files)
    typer.echo(f"pool      {meta.address} on chain {meta.chain_id} ({meta.kind}, fee {meta.fee} pips)")
    typer.echo(
        f"tokens    {meta.token0_symbol} {meta.token0} ({meta.token0_decimals}) / "
        f"{meta.token1_symbol} {meta.token1} ({meta.token1_decimals})"
    )
    typer.echo(f"blocks    {meta.from_block}..{meta.next_block - 1} ({meta.blocks} blocks, {blocks.height} headers)")
    if events.height:

        def utc(ns: int) -> str:
            return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

        typer.echo(f"time      {utc(int(events['ts_ns'].min()))} .. {utc(int(events['ts_ns'].max()))} UTC")  # type: ignore[arg-type]
    counts = events.group_by("event").agg(pl.len().alias("n")).sort("event")
    typer.echo(
        f"events    {events.height}: "
        + ", ".join(f"{e} {n}" for e, n in zip(counts["event"].to_list(), counts["n"].to_list(), strict=True))
    )
    typer.echo(f"files     {len(files)} ({size / 1e6:.2f} MB), snapshot at start: {meta.snapshot is not None}")
    if meta.source:
        typer.echo(f"source    {meta.source}")
