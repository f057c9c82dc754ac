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
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import typer

from keel.cli.app import app
from keel.domain import NS_PER_DAY, NS_PER_YEAR, Option, OptionKind, ns_to_datetime, parse_instrument
from keel.errors import ValidationError
from keel.marketdata import OptionChain, load_deribit_chain
from keel.pricing.surface import ExpirySlice, VolSurface, fit_surface

__all__ = ["load_chain_file", "load_iv_greeks_csv", "plot_surface"]

_IV_GREEKS_COLUMNS = ("date", "instrument_name", "strike", "type", "delta", "bid_iv", "ask_iv", "mark_iv")


def load_iv_greeks_csv(path: str | Path) -> OptionChain:
    """Read a Deribit IV/Greeks export (columns ``date, instrument_name, ..., delta, bid_iv, ask_iv,
    mark_iv``; IVs in %, 0 = no quote) as an :class:`OptionChain` with NaN prices."""
    path = Path(path)
    try:
        raw = pl.read_csv(path, infer_schema_length=0)
    except Exception as exc:
        raise ValidationError("path", str(path), f"not a readable CSV ({type(exc).__name__})") from exc
    missing = [c for c in _IV_GREEKS_COLUMNS if c not in raw.columns]
    if missing:
        raise ValidationError("columns", missing, f"missing from {path.name}")
    options = []
    for name in raw["instrument_name"].to_list():
        inst = parse_instrument(name)
        if not isinstance(inst, Option):
            raise ValidationError("instrument_name", name, "is not an option")
        options.append(inst)
    ts_ns = np.array(
        [int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) * 1_000_000_000 for d in raw["date"].to_list()],
        dtype=np.int64,
    )
    expiry_ns = np.array([o.expiry_ns for o in options], dtype=np.int64)

    def pct(col: str, zero_is_missing: bool) -> np.ndarray:
        v = raw[col].cast(pl.Float64, strict=False).to_numpy() / 100.0
        return np.where(v > 0, v, np.nan) if zero_is_missing else v

    nan = np.full(raw.height, np.nan)
    frame = pl.DataFrame(
        {
            "instrument": raw["instrument_name"].to_list(),
            "underlying": [o.underlying for o in options],
            "strike": np.array([float(o.strike) for o in options]),
            "expiry_ns": expiry_ns,
            "kind": np.array([1 if o.kind is OptionKind.CALL else -1 for o in options], dtype=np.int8),
            "ts_ns": ts_ns,
            "T": (expiry_ns - ts_ns) / NS_PER_YEAR,
            "underlying_price": nan,
            "index_price": nan,
            "mark_price": nan,
            "mark_iv": pct("mark_iv", False),
            "bid_iv": pct("bid_iv", True),
            "ask_iv": pct("ask_iv", True),
            "venue_delta": raw["delta"].cast(pl.Float64, strict=False).to_numpy(),
        }
    )
    frame = frame.filter(pl.col("T") > 0)
    return OptionChain(frame.sort(["ts_ns", "expiry_ns", "strike", "kind"]), str(path))


def load_chain_file(path: str | Path) -> OptionChain:
    """A Deribit ticker snapshot CSV, or an IV/Greeks export (detected by its header)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", str(path), "no such file")
    with path.open() as fh:
        header = fh.readline().strip().split(",")
    if "mark_price" in header:
        return load_deribit_chain(path)
    if "mark_iv" in header and "delta" in header:
        return load_iv_greeks_csv(path)
    raise ValidationError("path", str(path), "neither a Deribit ticker snapshot nor an IV/Greeks export")


def _butterfly_status(s: ExpirySlice) -> str:
    if not s.fit.butterfly_free:
        return "VIOLATED (reported)"
    return "repaired" if s.fit.repaired else "ok"


def plot_surface(surface: VolSurface, out: Path) -> Path:
    """PNG: one panel per expiry, mark IVs (dots), bid/ask IVs (bars) and the fitted SVI smile."""
    import matplotlib

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
    chain = load_chain_file(path)
    surface = fit_surface(chain, weighting=weighting, snapshot=snapshot)
    echo = typer.echo
    where = surface.source.split("#")[-1] if "#" in surface.source else "0"
    echo(
        f"{path.name} snapshot {where} ({ns_to_datetime(surface.ts_ns):%Y-%m-%d %H:%M} UTC): "
        f"{surface.underlying} SVI fit"
    )
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
