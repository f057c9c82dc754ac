"""Run outputs: ``summary.json`` (canonical, byte-stable), ``events.parquet``, and a self-contained ``report.html``.

The HTML embeds its charts as base64 PNGs (matplotlib, Agg backend) and has no external
links or scripts, so it opens offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from keel.domain import NS_PER_HOUR
from keel.sim.scenario import PNL_PARTS, SimResult

__all__ = ["summary_json", "write_outputs"]


def summary_json(summary: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, trailing newline (byte-identical for equal runs)."""
    return json.dumps(summary, sort_keys=True, indent=2, allow_nan=False) + "\n"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _charts(result: SimResult) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.series
    if len(s["ts_ns"]) == 0:
        return []
    hours = (s["ts_ns"] - s["ts_ns"][0]) / NS_PER_HOUR
    charts: list[tuple[str, str]] = []

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(hours, s["ref"], lw=1.0, label="reference (market path)")
    if np.isfinite(s["pool"]).any():
        ax.plot(hours, s["pool"], lw=0.8, alpha=0.8, label="simulated v3 pool")
    ax.set_xlabel("hours")
    ax.set_ylabel("USD")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    charts.append(("Price path", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(hours, s["pnl"], lw=1.2, color="black", label="total PnL")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("hours")
    ax.set_ylabel("USD")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    charts.append(("PnL", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.step(hours, s["delta"], where="post", lw=1.0, label="net delta (units)")
    ax.step(hours, s["asset"], where="post", lw=1.0, label="hedge / delta-one position")
    if result.hedge_fills:
        t0 = int(s["ts_ns"][0])
        fill_ts = np.array([ts for ts, _, _ in result.hedge_fills], dtype=np.int64)
        at = np.clip(np.searchsorted(s["ts_ns"], fill_ts, side="left"), 0, len(hours) - 1)
        ax.scatter((fill_ts - t0) / NS_PER_HOUR, s["asset"][at], s=12, color="crimson", label="hedge fills", zorder=3)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("hours")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    charts.append(("Delta and hedge trades", _png(fig)))
    plt.close(fig)

    ratio = s["margin_ratio"]
    fig, ax = plt.subplots(figsize=(10, 3.2))
    finite = np.isfinite(ratio)
    if finite.any():
        ax.plot(hours[finite], ratio[finite], lw=1.0, label="equity / maintenance margin")
        ax.axhline(1.0, color="crimson", lw=0.8, ls="--", label="liquidation threshold")
        ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(hours, s["base_fee_gwei"], lw=0.6, color="grey", alpha=0.6, label="base fee (gwei)")
    ax2.set_ylabel("gwei")
    ax.set_xlabel("hours")
    ax.legend(loc="lower left")
    ax2.legend(loc="lower right")
    ax.grid(alpha=0.3)
    charts.append(("Margin health and base fee", _png(fig)))
    plt.close(fig)

    frame = result.recorder.to_frame()
    liq = frame.filter(frame["kind"] == "liquidation")
    if liq.height:
        t0 = int(s["ts_ns"][0])
        lt = (liq["ts_ns"].to_numpy() - t0) / NS_PER_HOUR
        fig, ax = plt.subplots(figsize=(10, 3.2))
        ax.step(lt, np.arange(1, liq.height + 1), where="post", lw=1.2, label="liquidations (cumulative)")
        ax2 = ax.twinx()
        ax2.step(lt, np.cumsum(liq["value"].to_numpy()), where="post", color="crimson", lw=1.0, label="bad debt (USD)")
        ax.set_xlabel("hours")
        ax.legend(loc="upper left")
        ax2.legend(loc="lower right")
        ax.grid(alpha=0.3)
        charts.append(("Liquidations and bad debt", _png(fig)))
        plt.close(fig)
    return charts


def _rows(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key in sorted(data):
        value = data[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_rows(value, name + "."))
        elif isinstance(value, float):
            rows.append((name, f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"))
        else:
            rows.append((name, str(value)))
    return rows


def render_html(result: SimResult, description: str = "") -> str:
    summary = result.summary
    pnl = summary.get("pnl", {})
    pnl_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class=n>{pnl.get(k, 0.0) or 0.0:,.2f}</td></tr>" for k in PNL_PARTS
    )
    total = pnl.get("total") or 0.0
    table = "".join(
        f"<tr><td>{html.escape(k)}</td><td class=n>{html.escape(v)}</td></tr>" for k, v in _rows(summary) if k != "pnl"
    )
    charts = "".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
        for title, data in _charts(result)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keel simulate: {html.escape(summary["name"])}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td{{border-bottom:1px solid #ddd;padding:2px 10px}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}}img{{max-width:100%}}
.small{{color:#666;font-size:90%}}
</style></head><body>
<h1>keel simulate: {html.escape(summary["name"])}</h1>
<p>{html.escape(description)}</p>
<p class=small>seed {summary["seed"]} · {summary["blocks"]} blocks of {summary["block_time_s"]} s ·
market {html.escape(str(summary["market"]["kind"]))} ({html.escape(str(summary["market"]["source"]))})</p>
<h2>PnL attribution (USD)</h2>
<table>{pnl_rows}<tr><td><b>total</b></td><td class=n><b>{total:,.2f}</b></td></tr></table>
{charts}
<h2>Summary</h2><table>{table}</table>
</body></html>
"""


def write_outputs(result: SimResult, out_dir: Path, description: str = "") -> dict[str, Path]:
    """Write summary.json, events.parquet and report.html into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out_dir / "summary.json",
        "events": out_dir / "events.parquet",
        "report": out_dir / "report.html",
    }
    paths["summary"].write_text(summary_json(result.summary), encoding="utf-8")
    result.recorder.write_parquet(paths["events"])
    paths["report"].write_text(render_html(result, description), encoding="utf-8")
    return paths
