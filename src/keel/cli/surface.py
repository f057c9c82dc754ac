"""``keel surface FILE``: fit an arbitrage-checked SVI surface to a real chain, report, plot.

FILE is a Deribit ticker snapshot CSV (``data/deribit_option_chain_snapshots_2021-02``) or a
Deribit IV/Greeks export without prices (``data/deribit_btc_iv_greeks_hourly_2026-01``, whose
forward is inferred from the call deltas).  Prints per expiry the forward, the fit error in vol
points (weighted RMSE with the fit weights, plain RMSE, max) against the venue's mark IVs, the
share of fitted vols inside the quoted bid/ask IVs, the butterfly status, and any calendar
violations; writes a PNG of market IVs against the fitted smiles.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli.app import app

if TYPE_CHECKING:
    from keel.pricing.surface import ExpirySlice, VolSurface

__all__ = ["plot_surface"]


def _butterfly_status(s: ExpirySlice) -> str:
    if not s.fit.butterfly_free:
        return "VIOLATED (reported)"
    return "repaired" if s.fit.repaired else "ok"


def plot_surface(surface: VolSurface, out: Path) -> Path:
    """PNG: one panel per expiry, mark IVs (dots), bid/ask IVs (bars) and the fitted SVI smile."""
    import matplotlib
    import numpy as np

    from keel.domain import ns_to_datetime

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(surface.slices)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, s in zip(axes.flat, surface.slices, strict=False):
        k_lo, k_hi = s.fit.k_range
        pad = 0.1 * (k_hi - k_lo + 0.05)
        grid = np.linspace(k_lo - pad, k_hi + pad, 300)
        model = np.sqrt(np.maximum(s.fit.params.total_variance(grid), 0.0) / s.T)
        quoted = (s.bid_iv > 0) & (s.ask_iv > s.bid_iv)
        if quoted.any():
            ax.vlines(
                s.k[quoted], 100 * s.bid_iv[quoted], 100 * s.ask_iv[quoted], color="0.7", lw=2, label="bid/ask IV"
            )
        ax.plot(s.k, 100 * s.market_iv, "o", ms=3.5, color="tab:blue", label="mark IV")
        ax.plot(grid, 100 * model, "-", color="tab:red", lw=1.4, label="SVI fit")
        status = _butterfly_status(s)
        ax.set_title(
            f"{ns_to_datetime(s.expiry_ns):%d%b%y}  T={s.T * 365:.1f}d  F={s.forward:,.0f}\n"
            f"wRMSE {s.fit.wrmse_vol_pts:.2f} vp, max {s.fit.max_vol_pts:.1f} vp, butterfly {status}",
            fontsize=8,
        )
        ax.set_xlabel("k = ln(K/F)", fontsize=8)
        ax.set_ylabel("implied vol (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        lo = float(np.nanmin(100 * s.market_iv))
        hi = float(np.nanmax(100 * s.market_iv))
        ax.set_ylim(max(0.0, lo - 0.2 * (hi - lo) - 5), hi + 0.2 * (hi - lo) + 5)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{surface.underlying} SVI surface, {ns_to_datetime(surface.ts_ns):%Y-%m-%d %H:%M} UTC", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@app.command("surface")
def surface_command(
    path: Path = typer.Argument(..., help="Deribit ticker snapshot CSV or IV/Greeks export"),
    png: Path | None = typer.Option(None, "--png", help="PNG to write (default runs/surface_<file>.png)"),
    snapshot: int = typer.Option(0, "--snapshot", help="which snapshot when the file holds several"),
    weighting: str = typer.Option("spread", "--weighting", help="'spread' (1/bid-ask IV) or 'vega'"),
) -> None:
    """Fit SVI per expiry, check butterfly/calendar arbitrage, print fit errors in vol points, plot."""
    from keel.domain import NS_PER_DAY, NS_PER_YEAR, ns_to_datetime
    from keel.marketdata import load_chain_file
    from keel.pricing.surface import fit_surface
    from keel.runtime.registry import check_output_file

    check_output_file(png if png is not None else Path("runs") / f"surface_{path.stem}.png", "--png", (".png",))
    chain = load_chain_file(path)
    surface = fit_surface(chain, weighting=weighting, snapshot=snapshot)
    echo = typer.echo
    where = surface.source.split("#")[-1] if "#" in surface.source else "0"
    echo(
        f"{path.name} snapshot {where} ({ns_to_datetime(surface.ts_ns):%Y-%m-%d %H:%M} UTC): "
        f"{surface.underlying} SVI fit"
    )
    if chain.n_dropped:
        reasons = ", ".join(f"{n} {why}" for why, n in chain.dropped)
        echo(f"dropped {chain.n_dropped} bad row(s) of {path.name}: {reasons}")
    echo("fit error vs mark IVs in vol points (wRMSE: weighted like the fit; in b/a: share of two-way quotes inside)")
    head = f"{'expiry':<11}{'T (d)':>8}{'forward':>22}{'venue F':>12}{'n':>4}{'wRMSE':>7}{'RMSE':>7}{'max':>7}"
    echo(head + f"{'in b/a':>8}{'min g':>10}  butterfly")
    for s in surface.slices:
        inside = s.inside_bid_ask()
        fwd = f"{s.forward:,.2f} ({s.forward_source})"
        venue = "-" if math.isnan(s.venue_forward) else f"{s.venue_forward:,.2f}"
        echo(
            f"{ns_to_datetime(s.expiry_ns):%Y-%m-%d} {s.T * NS_PER_YEAR / NS_PER_DAY:>8.2f}{fwd:>22}{venue:>12}"
            f"{s.fit.n:>4}{s.fit.wrmse_vol_pts:>7.2f}{s.fit.rmse_vol_pts:>7.2f}{s.fit.max_vol_pts:>7.2f}"
            f"{'-' if math.isnan(inside) else f'{100 * inside:.0f}%':>8}{s.fit.min_g:>10.2g}  {_butterfly_status(s)}"
        )
    if surface.calendar_violations:
        for v in surface.calendar_violations:
            echo(
                f"calendar violation: w(k={v.k:+.3f}) falls from {v.w_short:.5f} (T={v.T_short:.4f}) to "
                f"{v.w_long:.5f} (T={v.T_long:.4f}); the surface interpolates on the monotone envelope"
            )
    else:
        echo("calendar: total variance non-decreasing in T between all fitted expiries")
    for msg in surface.skipped:
        ns, _, why = msg.partition(": ")
        label = f"{ns_to_datetime(int(ns)):%Y-%m-%d}" if ns.isdigit() else ns
        echo(f"skipped expiry {label}: {why}")
    out = png if png is not None else Path("runs") / f"surface_{path.stem}.png"
    plot_surface(surface, out)
    echo(f"wrote {out}")
