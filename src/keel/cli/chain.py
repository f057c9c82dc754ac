"""``keel chain FILE``: summarize a real option-chain snapshot by expiry."""

from __future__ import annotations

from pathlib import Path

import typer

from keel.cli.app import app


@app.command("chain")
def chain_command(path: Path = typer.Argument(..., help="Deribit ticker snapshot CSV")) -> None:
    """Summarize an option chain per expiry: strikes, forward, ATM implied vol, open interest."""
    import numpy as np
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    from keel.domain import ns_to_datetime
    from keel.marketdata import load_deribit_chain

    chain = load_deribit_chain(path)
    console = Console(width=max(Console().width, 110))
    table = Table(title=f"{path.name}: {len(chain)} options")
    for col in ("expiry", "T (y)", "options", "strikes", "underlying", "ATM mark IV", "open interest"):
        table.add_column(col, justify="right")
    for expiry in chain.expiries():
        part = chain.frame.filter(pl.col("expiry_ns") == expiry)
        under = float(part["underlying_price"].median())  # type: ignore[arg-type]
        strikes = part["strike"].to_numpy()
        atm = part.filter(pl.col("strike") == float(strikes[np.argmin(np.abs(strikes - under))]))
        oi = float(part["open_interest"].sum()) if "open_interest" in part.columns else float("nan")
        table.add_row(
            ns_to_datetime(expiry).strftime("%Y-%m-%d %H:%M"),
            f"{float(part['T'].median()):.4f}",  # type: ignore[arg-type]
            str(part.height),
            f"{strikes.min():g}-{strikes.max():g}",
            f"{under:,.2f}",
            f"{100 * float(atm['mark_iv'].mean()):.2f}%",  # type: ignore[arg-type]
            f"{oi:,.1f}",
        )
    console.print(table)
