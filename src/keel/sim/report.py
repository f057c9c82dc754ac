"""Run outputs: ``summary.json`` (canonical, byte-stable), ``events.parquet``, and an interactive ``report.html``.

``report.html`` is one offline file: Plotly's script is inlined once, the figures are JSON in the
page, nothing is fetched.  The same figure builders (:func:`chart_figures`) feed the live
dashboard of ``keel serve``, so the report and the dashboard draw the same charts.

Series conventions (``SimResult.series``): ``ts_ns`` int ns UTC, one row per block; prices and PnL
in USD; ``pnl_<part>`` (optional) the cumulative attribution of one :data:`PNL_PARTS` component;
``margin_ratio`` equity / maintenance margin (NaN before the first check, inf with nothing
margined); ``base_fee_gwei``; optional ``oracle_price``, ``oracle_confidence`` (USD, half-width)
and ``oracle_status`` (0 ok, 1 degraded, 2 halted).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keel.sim.scenario import PNL_PARTS, SimResult

__all__ = [
    "BLOTTER_KINDS",
    "blotter_rows",
    "chart_figures",
    "render_html",
    "summary_json",
    "summary_sections",
    "write_outputs",
]

# Event kinds that make up the hedge and trade blotter (keel.engine.EventRecorder ``kind``).
BLOTTER_KINDS = (
    "hedge_submitted",
    "hedge_fill",
    "hedge_reverted",
    "hedge_refused",
    "hedge_skipped",
    "hedge_expired",
    "option_fill",
    "mm_fill",
    "reduce_only_close",
    "liquidation",
)
MAX_POINTS = 2000  # line traces are thinned to at most this many points (last point kept)
MAX_BLOTTER_ROWS = 1000
PART_COLOURS = {
    "theta": "#1f77b4",
    "gamma": "#ff7f0e",
    "vega": "#2ca02c",
    "delta": "#d62728",
    "option_edge": "#9467bd",
    "hedging_slippage": "#8c564b",
    "gas": "#e377c2",
    "mev_loss": "#7f7f7f",
    "funding": "#bcbd22",
    "other": "#17becf",
}
STATUS_NAMES = {0: "ok", 1: "degraded", 2: "halted"}


def summary_json(summary: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, trailing newline (byte-identical for equal runs)."""
    return json.dumps(summary, sort_keys=True, indent=2, allow_nan=False) + "\n"


# ----------------------------------------------------------------------------------------------- figures


def _utc(ts_ns: int) -> str:
    """ISO-8601 UTC with milliseconds, the form Plotly's date axes read."""
    moment = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{(ts_ns // 1_000_000) % 1000:03d}"


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    idx = np.linspace(0, n - 1, max_points).round().astype(np.int64)
    return np.unique(idx)


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values.tolist()]


def _layout(title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "meta": {"title": title},
        "autosize": True,
        "height": 340,
        "margin": {"l": 64, "r": 16, "t": 24, "b": 40},
        "xaxis": {"title": {"text": "time (UTC)"}, "type": "date", "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True, "zeroline": True},
        # legends sit above the plot (the margin grows to fit), never over the data
        "legend": {"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        "hovermode": "x unified",
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def _as_array(series: Mapping[str, Any], key: str, n: int) -> np.ndarray | None:
    if key not in series:
        return None
    arr = np.asarray(series[key], dtype=np.float64)
    return arr if len(arr) == n else None


def chart_figures(
    series: Mapping[str, Any],
    fills: Sequence[tuple[int, float, float]] = (),
    *,
    thresholds: Mapping[str, float] | None = None,
    max_points: int = MAX_POINTS,
    buckets: int = 48,
) -> dict[str, dict[str, Any]]:
    """Plotly figures (``{"data": [...], "layout": {...}}``, JSON-ready) for a run's per-block series.

    ``fills``: hedge fills ``(ts_ns, quantity in asset units, price USD)``; ``thresholds``: margin-ratio
    lines to draw (label -> ratio, e.g. ``{"liquidation": 1.0}``).  Keys of the result: ``pnl``,
    ``delta``, ``margin``, ``base_fee``, ``price``.  Empty series give empty figures with their axes.
    """
    ts = np.asarray(series.get("ts_ns", []), dtype=np.int64)
    n = len(ts)
    keep = _thin(n, max_points)
    x = [_utc(int(t)) for t in ts[keep]]
    figures: dict[str, dict[str, Any]] = {}

    # PnL attribution: at each of ~`buckets` times, the cumulative part values stacked (gains up,
    # losses down), with the total PnL as a line through them.
    data: list[dict[str, Any]] = []
    if n:
        bucket_idx = _thin(n, buckets)
        bx = [_utc(int(t)) for t in ts[bucket_idx]]
        for part in PNL_PARTS:
            values = _as_array(series, f"pnl_{part}", n)
            if values is None or not np.any(values[bucket_idx]):
                continue
            data.append(
                {
                    "type": "bar",
                    "name": part.replace("_", " "),
                    "x": bx,
                    "y": _floats(values[bucket_idx]),
                    "marker": {"color": PART_COLOURS[part]},
                    "hovertemplate": "%{y:,.2f} USD",
                }
            )
        pnl = _as_array(series, "pnl", n)
        if pnl is not None:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "total PnL",
                    "x": x,
                    "y": _floats(pnl[keep]),
                    "line": {"color": "black", "width": 2},
                    "hovertemplate": "%{y:,.2f} USD",
                }
            )
    figures["pnl"] = {
        "data": data,
        "layout": _layout(
            "PnL attribution over time (cumulative, by component)", "USD", barmode="relative", bargap=0.1
        ),
    }

    data = []
    delta = _as_array(series, "delta", n)
    asset = _as_array(series, "asset", n)
    if delta is not None:
        data.append({"type": "scatter", "mode": "lines", "name": "net delta", "x": x, "y": _floats(delta[keep])})
        data[-1]["line"] = {"shape": "hv", "width": 1.5}
    if asset is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "hedge position",
                "x": x,
                "y": _floats(asset[keep]),
                "line": {"shape": "hv", "width": 1.2, "dash": "dot"},
            }
        )
    if fills and n and asset is not None:
        fill_ts = np.array([f[0] for f in fills], dtype=np.int64)
        at = np.clip(np.searchsorted(ts, fill_ts, side="left"), 0, n - 1)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "hedge fills",
                "x": [_utc(int(t)) for t in fill_ts],
                "y": _floats(asset[at]),
                "marker": {"color": "crimson", "size": 7, "symbol": "diamond"},
                "customdata": [[f[1], f[2]] for f in fills],
                "hovertemplate": "fill %{customdata[0]:+.4f} @ %{customdata[1]:,.2f} USD",
            }
        )
    figures["delta"] = {"data": data, "layout": _layout("Net delta and hedges", "asset units (e.g. ETH)")}

    data = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    ratio = _as_array(series, "margin_ratio", n)
    y_type = "linear"
    if ratio is not None:
        finite = np.isfinite(ratio)
        sel = keep[finite[keep]]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "equity / maintenance margin",
                "x": [_utc(int(t)) for t in ts[sel]],
                "y": _floats(ratio[sel]),
                "line": {"shape": "hv", "width": 1.5},
                "hovertemplate": "%{y:.3f}×",
            }
        )
        if finite.any():
            lo, hi = float(ratio[finite].min()), float(ratio[finite].max())
            if lo > 0 and hi / lo > 50:
                y_type = "log"
    for i, (label, value) in enumerate(sorted((thresholds or {"liquidation": 1.0}).items(), key=lambda kv: kv[1])):
        colour = "crimson" if i == 0 else "darkorange"
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": value,
                "y1": value,
                "line": {"color": colour, "dash": "dash", "width": 1},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "yref": "y",
                "y": math.log10(value) if y_type == "log" and value > 0 else value,
                "yanchor": "bottom",
                "text": f"{label} ({value:g}×)",
                "showarrow": False,
                "font": {"color": colour, "size": 11},
            }
        )
    margin_layout = _layout(
        "Margin health",
        "equity / maintenance margin (×)" + (", log scale" if y_type == "log" else ""),
        shapes=shapes,
        annotations=annotations,
    )
    margin_layout["yaxis"]["type"] = y_type
    figures["margin"] = {"data": data, "layout": margin_layout}

    data = []
    fee = _as_array(series, "base_fee_gwei", n)
    if fee is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "base fee",
                "x": x,
                "y": _floats(fee[keep]),
                "line": {"color": "grey", "width": 1},
                "hovertemplate": "%{y:.3f} gwei",
            }
        )
    figures["base_fee"] = {"data": data, "layout": _layout("Base fee", "base fee per gas (gwei)", showlegend=False)}

    data = []
    for key, name in (("ref", "reference (market path)"), ("pool", "simulated pool")):
        values = _as_array(series, key, n)
        if values is not None and np.isfinite(values).any():
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": name,
                    "x": x,
                    "y": _floats(values[keep]),
                    "line": {"width": 1.2},
                }
            )
    oracle = _as_array(series, "oracle_price", n)
    conf = _as_array(series, "oracle_confidence", n)
    if oracle is not None:
        if conf is not None:
            upper, lower = oracle + conf, oracle - conf
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "oracle band (upper)",
                    "x": x,
                    "y": _floats(upper[keep]),
                    "line": {"width": 0},
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "oracle confidence band",
                    "x": x,
                    "y": _floats(lower[keep]),
                    "line": {"width": 0},
                    "fill": "tonexty",
                    "fillcolor": "rgba(44,160,44,0.2)",
                    "hoverinfo": "skip",
                }
            )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "oracle price",
                "x": x,
                "y": _floats(oracle[keep]),
                "line": {"color": "#2ca02c", "width": 1.5},
            }
        )
        status = _as_array(series, "oracle_status", n)
        if status is not None:
            bad = keep[(status[keep] >= 2)]
            if len(bad):
                data.append(
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": "oracle halted",
                        "x": [_utc(int(t)) for t in ts[bad]],
                        "y": _floats(np.nan_to_num(oracle[bad], nan=0.0)),
                        "marker": {"color": "crimson", "symbol": "x", "size": 7},
                    }
                )
    figures["price"] = {"data": data, "layout": _layout("Prices", "USD per asset unit")}
    return figures


# ----------------------------------------------------------------------------------------------- blotter


def blotter_rows(frame: Any, limit: int = MAX_BLOTTER_ROWS) -> tuple[list[dict[str, Any]], int]:
    """The hedge and trade blotter from an event frame (``EventRecorder.to_frame()``): rows, total count."""
    rows = frame.filter(frame["kind"].is_in(list(BLOTTER_KINDS)))
    total = int(rows.height)
    out: list[dict[str, Any]] = []
    for row in rows.head(limit).iter_rows(named=True):
        out.append(
            {
                "time_utc": _utc(int(row["ts_ns"]))[:19],
                "kind": row["kind"],
                "source": row["source"],
                "instrument": row["instrument"],
                "quantity": row["quantity"],
                "price": row["price"],
                "value": row["value"],
                "detail": row["detail"],
            }
        )
    return out, total


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 100 else f"{value:,.2f}"
    return html.escape(str(value))


def _blotter_html(rows: list[dict[str, Any]], total: int) -> str:
    head = "<tr><th>time (UTC)</th><th>event</th><th>venue / agent</th><th>instrument</th>"
    head += "<th class=n>quantity</th><th class=n>price (USD)</th><th class=n>value (USD)</th><th>detail</th></tr>"
    body = "".join(
        f"<tr class='k-{html.escape(r['kind'])}'><td>{html.escape(r['time_utc'])}</td>"
        f"<td>{html.escape(r['kind'].replace('_', ' '))}</td><td>{html.escape(r['source'])}</td>"
        f"<td>{html.escape(r['instrument'])}</td><td class=n>{_num(r['quantity'])}</td>"
        f"<td class=n>{_num(r['price'], 2)}</td><td class=n>{_num(r['value'], 2)}</td>"
        f"<td class=detail>{html.escape(r['detail'])}</td></tr>"
        for r in rows
    )
    note = f"<p class=small>showing the first {len(rows)} of {total} events</p>" if total > len(rows) else ""
    if not rows:
        return "<p class=small>no hedges or trades in this run</p>"
    return f"{note}<div class=scroll><table class=blotter>{head}{body}</table></div>"


# ----------------------------------------------------------------------------------------------- summary

# (section, key path, label, unit); keys not listed go to "Other" with a label derived from the key.
_SUMMARY_LAYOUT: tuple[tuple[str, str, str, str], ...] = (
    ("Run", "name", "scenario", ""),
    ("Run", "seed", "seed", ""),
    ("Run", "blocks", "blocks", ""),
    ("Run", "block_time_s", "block time", "s"),
    ("Run", "events", "events recorded", ""),
    ("Market", "market.kind", "path", ""),
    ("Market", "market.source", "source", ""),
    ("Market", "market.asset", "asset", ""),
    ("Market", "market.start_utc", "start", "UTC"),
    ("Market", "market.hours", "length", "h"),
    ("Market", "market.price_start", "price at start", "USD"),
    ("Market", "market.price_end", "price at end", "USD"),
    ("Market", "market.price_min", "lowest price", "USD"),
    ("Market", "market.price_max", "highest price", "USD"),
    ("Equity and risk", "start_equity_usd", "equity at start", "USD"),
    ("Equity and risk", "end_equity_usd", "equity at end", "USD"),
    ("Equity and risk", "max_drawdown_usd", "max drawdown", "USD"),
    ("Equity and risk", "min_margin_ratio", "lowest margin ratio (equity / maintenance)", "×"),
    ("Equity and risk", "liquidations", "liquidations", ""),
    ("Equity and risk", "oracle_halted_blocks", "blocks with the oracle halted", "blocks"),
    ("Equity and risk", "ledger_imbalance", "ledger imbalance", "base units"),
    ("Chain", "chain.transactions", "transactions", ""),
    ("Chain", "chain.reverts", "reverts", ""),
    ("Chain", "chain.sandwiches", "sandwich attacks", ""),
    ("Chain", "chain.arbitrages", "arbitrages", ""),
    ("Chain", "chain.base_fee_gwei_mean", "mean base fee", "gwei"),
    ("Chain", "chain.base_fee_gwei_max", "highest base fee", "gwei"),
    ("Chain", "chain.gas_fees_eth", "gas fees paid (all senders)", "ETH"),
    ("Desk", "desk.option_trades", "option trades", ""),
    ("Desk", "desk.hedge_trades", "hedge trades", ""),
    ("Desk", "desk.final_asset_units", "asset held at end", "units"),
    ("Desk", "desk.final_cash_units", "cash held at end", "USD"),
    ("Desk", "desk.open_legs", "open legs", ""),
    ("Desk", "desk.gas_usd", "gas paid", "USD"),
    ("Desk", "desk.mev_loss_usd", "lost to MEV", "USD"),
    ("Desk", "desk.hedging_slippage_usd", "hedging slippage", "USD"),
    ("Hedging", "hedge_policy", "policy", ""),
    ("Hedging", "hedge_mode", "mode", ""),
)
_UNIT_SUFFIXES = (
    ("_usd", "USD"),
    ("_eth", "ETH"),
    ("_gwei", "gwei"),
    ("_pct", "%"),
    ("_bps", "bp"),
    ("_s", "s"),
    ("_blocks", "blocks"),
)
_SECTION_OF_PREFIX = {
    "hedge_intents": "Hedging",
    "risk_events": "Equity and risk",
    "perp": "Perpetual venue",
    "market_maker": "Market maker",
    "arbitrageur": "Counterparties",
    "sandwich_bots": "Counterparties",
    "portfolio_manager": "Desk",
    "options_surface": "Options surface",
}


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key in sorted(data):
        value = data[key]
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _label_unit(path: str) -> tuple[str, str]:
    parts = path.split(".")
    head = parts[0].replace("_", " ")
    leaf = parts[-1]
    unit = ""
    for suffix, name in _UNIT_SUFFIXES:
        if leaf.endswith(suffix):
            leaf, unit = leaf[: -len(suffix)], name
            break
    label = leaf.replace("_", " ")
    if len(parts) > 1 and parts[0] not in _SECTION_OF_PREFIX:
        label = f"{head}: {label}"
    elif len(parts) > 2:
        label = " ".join(p.replace("_", " ") for p in parts[1:-1]) + ": " + label
    return label, unit


def _show(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.2f}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return "none"
    return str(value)


def summary_sections(summary: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The summary as titled sections of (label, value, unit) rows; PnL is shown on its own."""
    flat = _flatten({k: v for k, v in summary.items() if k != "pnl"})
    sections: dict[str, list[tuple[str, str, str]]] = {}
    used: set[str] = set()
    for section, path, label, unit in _SUMMARY_LAYOUT:
        if path in flat:
            sections.setdefault(section, []).append((label, _show(flat[path]), unit))
            used.add(path)
    for path in flat:
        if path in used:
            continue
        section = _SECTION_OF_PREFIX.get(path.split(".")[0], "Other")
        label, unit = _label_unit(path)
        sections.setdefault(section, []).append((label, _show(flat[path]), unit))
    order = [
        "Run",
        "Market",
        "Equity and risk",
        "Desk",
        "Hedging",
        "Counterparties",
        "Market maker",
        "Perpetual venue",
        "Options surface",
        "Chain",
        "Other",
    ]
    return [(name, sections[name]) for name in order if name in sections]


# ----------------------------------------------------------------------------------------------- page

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:16px;color:#222;background:#fafafa}
main{max-width:1600px;margin:0 auto}
h1{font-size:1.45rem;margin:.2em 0}h2{font-size:1.15rem;margin:1.2em 0 .4em}h3{font-size:1rem;margin:.6em 0 .3em}
.small{color:#666;font-size:.9rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:12px}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px;min-width:0}
.chart{width:100%;min-height:340px}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.u{color:#666;white-space:nowrap}
.card td:first-child{min-width:10em}
td.v{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{text-align:right;overflow-wrap:anywhere}
.scroll{overflow:auto;max-height:480px;border:1px solid #eee}
table.blotter td{white-space:nowrap;font-size:.85rem}
table.blotter td.detail{white-space:normal;min-width:14em}
tr.k-hedge_fill td{background:#f2fbf2}tr.k-hedge_reverted td,tr.k-liquidation td{background:#fdf0f0}
tr.k-hedge_refused td,tr.k-hedge_expired td{background:#fff8e6}
.pnl-card{max-width:560px}.pnl td.n{width:9em}.pnl tr.total td{font-weight:700;border-top:2px solid #999}
@media (max-width:700px){body{padding:8px}h1{font-size:1.2rem}td,th{padding:2px 4px}}
"""


def _pnl_table(pnl: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td class=n>{(pnl.get(k) or 0.0):,.2f}</td></tr>"
        for k in PNL_PARTS
    )
    total = pnl.get("total") or 0.0
    return f"<table class=pnl>{rows}<tr class=total><td>total</td><td class=n>{total:,.2f}</td></tr></table>"


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


def _sections_html(summary: Mapping[str, Any]) -> str:
    blocks = []
    for title, rows in summary_sections(summary):
        body = "".join(
            f"<tr><td>{html.escape(label)}</td><td class={'v' if _numeric(value) else 't'}>{html.escape(value)}</td>"
            f"<td class=u>{html.escape(unit)}</td></tr>"
            for label, value, unit in rows
        )
        blocks.append(f"<div class=card><h3>{html.escape(title)}</h3><table>{body}</table></div>")
    return f"<div class=grid>{''.join(blocks)}</div>"


def _script_safe(text: str) -> str:
    # JSON inside <script>: "</" must not close the element
    return text.replace("</", "<\\/")


def render_html(result: SimResult, description: str = "", thresholds: Mapping[str, float] | None = None) -> str:
    """The interactive report page (one file, Plotly inlined, no network access)."""
    from plotly.offline import get_plotlyjs

    summary = result.summary
    figures = chart_figures(result.series, result.hedge_fills, thresholds=thresholds)
    rows, total = blotter_rows(result.recorder.to_frame())
    order = ("pnl", "delta", "margin", "base_fee", "price")
    charts = "".join(
        f"<div class=card><h3>{html.escape(figures[k]['layout']['meta']['title'])}</h3>"
        f'<div class=chart id="chart-{k}"></div></div>'
        for k in order
    )
    payload = _script_safe(json.dumps({k: figures[k] for k in order}, allow_nan=False, separators=(",", ":")))
    name = html.escape(str(summary.get("name", "")))
    market = summary.get("market", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keel simulate: {name}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body><main class="keel-report">
<h1>keel simulate: {name}</h1>
<p>{html.escape(description)}</p>
<p class=small>seed {summary.get("seed")} · {summary.get("blocks")} blocks of {summary.get("block_time_s")} s ·
market {html.escape(str(market.get("kind", "")))} ({html.escape(str(market.get("source", "")))})</p>
<div class=grid>
<div class="card pnl-card"><h2>PnL attribution (USD)</h2>{_pnl_table(summary.get("pnl", {}))}</div>
</div>
<h2>Charts</h2>
<div class=grid>{charts}</div>
<h2>Hedge and trade blotter</h2>
{_blotter_html(rows, total)}
<h2>Summary</h2>
{_sections_html(summary)}
</main>
<script id="keel-figures" type="application/json">{payload}</script>
<script>
(function () {{
  var figures = JSON.parse(document.getElementById("keel-figures").textContent);
  var config = {{responsive: true, displaylogo: false, scrollZoom: false}};
  Object.keys(figures).forEach(function (key) {{
    var fig = figures[key];
    Plotly.newPlot("chart-" + key, fig.data, fig.layout, config);
  }});
  document.body.setAttribute("data-charts-ready", "1");
}})();
</script>
</body></html>
"""


def write_outputs(
    result: SimResult, out_dir: Path, description: str = "", thresholds: Mapping[str, float] | None = None
) -> dict[str, Path]:
    """Write summary.json, events.parquet and report.html into ``out_dir``; returns their paths.

    Each file is written to a temporary name beside it and moved into place.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out_dir / "summary.json",
        "events": out_dir / "events.parquet",
        "report": out_dir / "report.html",
    }
    tmp = {k: p.with_name(p.name + ".tmp") for k, p in paths.items()}
    tmp["summary"].write_text(summary_json(result.summary), encoding="utf-8")
    result.recorder.write_parquet(tmp["events"])
    tmp["report"].write_text(render_html(result, description, thresholds), encoding="utf-8")
    for key, path in paths.items():
        tmp[key].replace(path)
    return paths
