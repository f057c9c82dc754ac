"""``keel ingest``: pool event logs from a node into the Parquet catalog (optionally streamed to NATS).

Example::

    keel ingest --rpc http://127.0.0.1:8545 --pool 0xPOOL[,0xPOOL...] --from 0 --to latest --catalog data/catalog
    keel ingest ... --follow --publish nats://127.0.0.1:4222          # keep following; publish each confirmed event
"""

from __future__ import annotations

from pathlib import Path

import typer

from keel.cli.app import app
from keel.errors import ValidationError


def _parse_block(text: str, name: str) -> int | None:
    if text == "latest":
        return None
    try:
        value = int(text, 0)
    except ValueError:
        raise ValidationError(name, text, "must be a block number or 'latest'") from None
    if value < 0:
        raise ValidationError(name, text, "must be >= 0")
    return value


@app.command("ingest")
def ingest_command(
    rpc: str = typer.Option(..., "--rpc", help="node JSON-RPC URL (http:// or https://)"),
    pool: str = typer.Option(..., "--pool", help="pool address(es), comma-separated (Uniswap v2 pairs or v3 pools)"),
    from_block: str = typer.Option(..., "--from", help="first block"),
    to_block: str = typer.Option("latest", "--to", help="last block, or 'latest' (the confirmed head)"),
    catalog: Path = typer.Option(Path("catalog"), "--catalog", help="catalog directory"),
    confirmations: int = typer.Option(12, "--confirmations", help="ingest only blocks this deep below the head"),
    follow: bool = typer.Option(False, "--follow", help="keep following the head (Ctrl-C to stop)"),
    publish: str | None = typer.Option(None, "--publish", help="NATS URL: publish each committed event (JetStream)"),
    stream: str = typer.Option("KEEL_EVENTS", "--stream", help="JetStream stream name for --publish"),
    span: int = typer.Option(2000, "--span", help="first eth_getLogs block range (shrinks/grows adaptively)"),
    max_span: int = typer.Option(50_000, "--max-span", help="largest eth_getLogs block range"),
    poll: float = typer.Option(2.0, "--poll", help="seconds between head polls with --follow"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Read eth_getLogs over adaptive ranges, decode, write Parquet by chain/pool/day; resumable, reorg-safe."""
    import asyncio
    import signal

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from keel.chain.ingest import IngestProgress, ingest
    from keel.marketdata.catalog import Catalog

    first = _parse_block(from_block, "--from")
    if first is None:
        raise ValidationError("--from", from_block, "must be a block number")
    last = _parse_block(to_block, "--to")
    if last is not None and last < first:
        raise ValidationError("--to", to_block, f"is before --from {first} (inverted block range)")
    pools = [p.strip() for p in pool.split(",") if p.strip()]
    if not pools:
        raise ValidationError("--pool", pool, "give at least one address")
    if publish is not None and not publish.startswith("nats://"):
        raise ValidationError("--publish", publish, "must be a nats:// URL")
    if not rpc.startswith(("http://", "https://")):
        raise ValidationError("--rpc", rpc, "must be an http:// or https:// URL")
    cat = Catalog(catalog)
    console = Console(stderr=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        publisher = None
        if publish is not None:
            from keel.runtime.stream import EventPublisher

            publisher = await EventPublisher.connect(publish, stream)
        with Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "blocks  {task.fields[rate]:,.0f} blocks/s  {task.fields[events]:,} events  {task.fields[note]}"
            ),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=True,
        ) as bar:
            task = bar.add_task("ingest", total=None, rate=0.0, events=0, note="")

            def show(p: IngestProgress) -> None:
                note = f"reorgs {p.reorgs}" if p.reorgs else ""
                bar.update(
                    task, completed=p.blocks_done, total=p.blocks_total, rate=p.blocks_per_s, events=p.events, note=note
                )

            try:
                result = await ingest(
                    rpc,
                    pools,
                    first,
                    last,
                    cat,
                    confirmations=confirmations,
                    follow=follow,
                    poll_s=poll,
                    span=span,
                    max_span=max(span, max_span),
                    progress=show,
                    on_commit=publisher.publish_rows if publisher is not None else None,
                    on_reorg=publisher.publish_reorg if publisher is not None else None,
                    stop=stop,
                )
            finally:
                if publisher is not None:
                    await publisher.close()
        for meta in result.pools:
            console.print(
                f"{meta.kind} {meta.address} ({meta.token0_symbol}/{meta.token1_symbol} fee {meta.fee}): "
                f"blocks {meta.from_block}..{meta.next_block - 1}"
            )
        rate = result.blocks / result.seconds if result.seconds > 0 else 0.0
        typer.echo(
            f"ingested {result.events} events over {result.blocks} blocks in {result.seconds:.1f}s "
            f"({rate:,.0f} blocks/s) on chain {result.chain_id}; reorgs {result.reorgs}; catalog {catalog}"
        )

    asyncio.run(run())
