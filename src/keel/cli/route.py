"""``keel route SELL BUY AMOUNT``: quote the smart order router on the real USDC/WETH pool state.

The USDC/WETH 0.05% Uniswap v3 pool is rebuilt from its logged events of 2024-01-05
(``data/uniswap_v3_usdc_weth_005_2024-01-05``, :mod:`keel.execution.pool_rebuild`); unless
``--real-only``, realistic 0.3%/1% v3 pools and two v2 pairs are added beside it.  Prints the
plan's legs, output, gas and net output, and the best single venue for comparison.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli.app import app
from keel.errors import ValidationError

if TYPE_CHECKING:
    from keel.domain import Token

_USDC_ADDRESS = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
_WETH_ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
_DAY = "uniswap_v3_usdc_weth_005_2024-01-05"
_FILE = "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"
_SNAPSHOT_NS = 1704412823 * 10**9
_MAX_AMOUNT = {"USDC": 10**12, "WETH": 10**9}  # whole tokens; far beyond the pools' reserves


def _data_dir(data: Path | None) -> Path:
    if data is not None:
        return data
    for parent in Path(__file__).resolve().parents:
        if (parent / "data" / _DAY).is_dir():
            return parent / "data"
    raise ValidationError("--data", None, "could not find the project's data/ folder; pass --data")


def _tokens() -> tuple[Token, Token]:
    from keel.domain import Token

    return Token("USDC", 6, 1, _USDC_ADDRESS), Token("WETH", 18, 1, _WETH_ADDRESS)


def _token(field: str, symbol: str) -> Token:
    usdc, weth = _tokens()
    tokens = {"USDC": usdc, "WETH": weth}
    try:
        return tokens[symbol.upper()]
    except KeyError:
        raise ValidationError(field, symbol, "unknown token: the real pool state trades USDC and WETH") from None


@app.command("route", context_settings={"ignore_unknown_options": True})  # AMOUNT may read "-1"
def route_command(
    sell: str = typer.Argument(..., help="Token to sell: USDC or WETH."),
    buy: str = typer.Argument(..., help="Token to buy: USDC or WETH."),
    amount: str = typer.Argument(..., help="Exact decimal amount of SELL (of BUY with --exact-out)."),
    exact_out: bool = typer.Option(False, "--exact-out", help="AMOUNT is the output wanted."),
    gas_gwei: str = typer.Option("20", "--gas-gwei", help="Gas price in gwei (exact decimal)."),
    real_only: bool = typer.Option(False, "--real-only", help="Route on the rebuilt real pool alone."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    data: Path | None = typer.Option(None, "--data", help="Data folder (default: the project's data/)."),
) -> None:
    """Best split of a USDC/WETH trade across the real pool state, net of gas."""
    token_in, token_out = _token("sell", sell), _token("buy", buy)
    if token_in == token_out:
        raise ValidationError("buy", buy, "must differ from sell")
    amount_token = token_out if exact_out else token_in
    base = amount_token.to_base_units(amount.strip())
    if base <= 0:
        raise ValidationError("amount", amount, "must be positive")
    if base > _MAX_AMOUNT[amount_token.symbol] * 10**amount_token.decimals:
        limit = _MAX_AMOUNT[amount_token.symbol]
        raise ValidationError("amount", amount, f"more than {limit:,} {amount_token} (beyond any real pool's depth)")
    try:
        gwei = Decimal(gas_gwei)
    except ArithmeticError:
        raise ValidationError("--gas-gwei", gas_gwei, "not a number") from None
    if not gwei.is_finite() or gwei < 0 or gwei > 1_000_000:
        raise ValidationError("--gas-gwei", gas_gwei, "must be a number in [0, 1000000] gwei")
    from keel.execution import SmartRouter
    from keel.execution.pool_rebuild import companion_venues, profile_from_events

    path = _data_dir(data) / _DAY / _FILE
    if not path.is_file():
        raise ValidationError("--data", str(path.parent), "the real pool's tick.csv is not there")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("--data", str(path), "not UTF-8 text") from None
    try:
        profile = profile_from_events(csv.DictReader(io.StringIO(text, newline="")))
    except (KeyError, ValueError, TypeError, ArithmeticError, csv.Error) as exc:
        raise ValidationError("--data", str(path), f"not a readable pool event file ({type(exc).__name__})") from None
    usdc, weth = _tokens()
    venues = companion_venues(profile, usdc, weth, ts_ns=_SNAPSHOT_NS)
    if real_only:
        venues = venues[:1]
    usdc_per_weth = 1e12 / profile.price
    router = SmartRouter(
        venues,
        gas_price_wei=int(gwei * 10**9),
        gas_token_price=lambda t: 1.0 if t == weth else usdc_per_weth,
    )
    plan = (
        router.quote_exact_out(token_in, token_out, base)
        if exact_out
        else router.quote_exact_in(token_in, token_out, base)
    )
    singles = []
    for v in venues:
        try:
            q = v.quote_exact_in(token_in, plan.amount_in)
        except Exception:  # a venue that cannot take the whole trade is no comparison
            continue
        if q.amount_in == plan.amount_in:
            singles.append((q.amount_out - router.gas_cost(token_out, q.gas_units), v.name))
    best_single = max(singles) if singles else None
    out = {
        "sell": token_in.symbol,
        "buy": token_out.symbol,
        "amount_in": str(token_in.from_base_units(plan.amount_in)),
        "amount_out": str(token_out.from_base_units(plan.amount_out)),
        "gas_units": plan.gas_units,
        "gas_cost": str(token_out.from_base_units(plan.gas_cost)),
        "net_amount_out": str(token_out.from_base_units(plan.net_amount_out)),
        "legs": [
            {
                "venues": [str(v) for v in leg.venues],
                "amount_in": str(leg.token_in.from_base_units(leg.amount_in)),
                "amount_out": str(leg.token_out.from_base_units(leg.amount_out)),
            }
            for leg in plan.legs
        ],
        "best_single_venue": best_single[1] if best_single else None,
        "best_single_net_out": str(token_out.from_base_units(best_single[0])) if best_single else None,
        "snapshot": "2024-01-05T00:00:23Z",
        "usdc_per_weth": round(usdc_per_weth, 6),
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(
        f"{out['amount_in']} {token_in} -> {out['amount_out']} {token_out} "
        f"(gas {plan.gas_units} units = {out['gas_cost']} {token_out}; net {out['net_amount_out']})"
    )
    for leg in out["legs"]:  # type: ignore[attr-defined]
        typer.echo(f"  {' -> '.join(leg['venues']):28s} {leg['amount_in']:>28s} -> {leg['amount_out']}")
    if best_single:
        gain = (plan.net_amount_out - best_single[0]) / best_single[0] * 1e4
        typer.echo(f"best single venue {best_single[1]}: net {out['best_single_net_out']} ({gain:+.2f} bp vs plan)")
