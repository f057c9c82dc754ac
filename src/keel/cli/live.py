"""``keel run --live --rpc URL CONFIG.toml``: the config's agents trading on a real chain.

This module only parses arguments and prints; the session is :mod:`keel.runtime.live`
(preflight before any signature, a journal bound to its chain, reconciliation at start,
bounded approvals, clean stops, honest exit codes).  Exit 0: every hedge sent was filled and
the final balances equal the prediction to the wei; 1: a hedge failed or balances differ;
2: refused before trading (one ``error:`` line naming the problem).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from keel.cli.app import app
from keel.errors import ValidationError

if TYPE_CHECKING:
    from keel.runtime.live import HedgeRecord, LiveSummary

__all__ = ["format_hedge", "format_summary", "run_command"]


def format_hedge(n: int, h: HedgeRecord) -> list[str]:
    """One block of short lines per hedge leg (fits 80 columns for amounts up to 30 digits)."""
    out_sym = "?" if h.status.startswith("refused") and not h.predicted_out else ""
    lines = [f"hedge {n}  block {h.block_number}  {h.venue}  {h.status.split(':')[0]}"]
    if h.tx_hash:
        lines.append(f"  tx         {h.tx_hash}")
    lines.append(f"  in         {h.amount_in} {h.token_in}")
    lines.append(f"  predicted  {h.predicted_out}{out_sym}")
    if h.status == "filled":
        verdict = "equal to the wei" if h.equal else f"DIFFERS by {h.amount_out - h.predicted_out}"
        lines.append(f"  chain      {h.amount_out}  {verdict}")
    else:
        import re
        import textwrap

        reason = re.sub(r"^intent='[^']*': ", "", h.status.partition(":")[2].strip())
        lines.extend(f"  why        {part}" for part in textwrap.wrap(reason, 66, break_long_words=True))
    return lines


def format_summary(s: LiveSummary) -> list[str]:
    """The end of a run as short lines: counts, balances against the prediction, the verdict."""
    lines = [
        f"run {s.run_id}: {s.status}",
        f"blocks {s.blocks}  hedges sent {s.hedges_sent}  filled {s.hedges_filled}  failed {s.hedges_failed}  "
        f"refused {s.hedges_refused}",
        f"rebroadcast {s.rebroadcast}  dropped {s.dropped}  recovered fills {s.recovered_fills}  "
        f"external txs {s.external_txs}",
        f"net delta {s.start_delta:+.4f} -> {s.end_delta:+.4f}",
    ]
    for sym in sorted(s.end_balances):
        lines.append(f"{sym:<5} chain     {s.end_balances[sym]}")
        lines.append(f"{'':<5} predicted {s.predicted_balances.get(sym, 0)}")
    check = s.wei_check
    if check == "equal":
        lines.append(f"fills and balances equal keel.venues' prediction to the wei ({s.hedges_filled} fills)")
    elif check == "no fills":
        lines.append("no hedge was filled: balances unchanged as predicted (no fill to compare)")
    elif check == "differ":
        lines.append("BALANCES OR FILLS DIFFER FROM THE PREDICTION")
    if s.hedges_failed:
        lines.append(f"{s.hedges_failed} hedge(s) FAILED on chain")
    return lines


@app.command("run")
def run_command(
    config_path: Path = typer.Argument(..., help="scenario TOML (see examples/)"),
    live: bool = typer.Option(False, "--live", help="trade on a real chain with signed transactions"),
    rpc: str = typer.Option("", "--rpc", help="JSON-RPC URL of the node"),
    keystore: Path = typer.Option(Path(".testbed/keystore.json"), "--keystore", help="eth-account keystore JSON"),
    addresses: Path = typer.Option(Path(".testbed/addresses.json"), "--addresses", help="testbed addresses file"),
    pool: str = typer.Option("", "--pool", help="main pool address (default: the testbed's v3 pool at pool.fee)"),
    blocks: int = typer.Option(10, "--blocks", help="chain blocks to run for"),
    mine: bool = typer.Option(False, "--mine", help="local test chain only: mine a block per step"),
    anchor_to_chain: bool = typer.Option(
        False, "--anchor-to-chain", help="shift the config's times (expiries) so market.start is the chain's time"
    ),
    chain_id: int = typer.Option(0, "--chain-id", help="expected chain id (0: the addresses file's)"),
    journal: Path = typer.Option(Path(".testbed/journal.jsonl"), "--journal", help="transaction journal file"),
    new_journal: bool = typer.Option(False, "--new-journal", help="archive the journal and start a fresh one"),
    approve_max: bool = typer.Option(False, "--approve-max", help="unlimited approvals (default: what the plan needs)"),
    allow_under: bool = typer.Option(
        False, "--allow-undercollateralized", help="trade although vault collateral is below maintenance margin"
    ),
    kill_switch: Path | None = typer.Option(None, "--kill-switch", help="stop cleanly when this file appears"),
    report: Path | None = typer.Option(None, "--report", help="write the summary JSON here"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON on stdout (progress on stderr)"),
    run_id: str = typer.Option("", "--run-id", help="run id for a new journal (default: time + random)"),
    db: str | None = typer.Option(
        None, "--db", help="keep the journal in the state store at this URL (one writer per account), not --journal"
    ),
) -> None:
    """Run the config's hedging agent live: `keel run --live --rpc URL examples/NAME.toml`."""
    if not live:
        raise ValidationError(
            "--live", False, "live trading needs the explicit --live flag (`keel simulate` runs it simulated)"
        )
    if not rpc:
        raise ValidationError("--rpc", rpc, "live mode needs the node's JSON-RPC URL")
    if report is not None:  # checked before anything is signed, not after the trades
        from keel.runtime.registry import check_output_file

        check_output_file(report, "--report")
    import asyncio
    import getpass

    from keel.chain import TestbedAddresses, checksum
    from keel.chain.environment import LivePool
    from keel.runtime.live import LiveOptions, run_live
    from keel.sim.config import load_config

    config = load_config(config_path)
    tb = TestbedAddresses.load(addresses)
    main_address = checksum("pool", pool) if pool else tb.pool("uniswap_v3", config.pool.fee).address
    pools = [LivePool("uniswap_v3_usdc_weth", "uniswap_v3", main_address, config.pool.fee)]
    for fee in config.pool.extra_fee_tiers:
        if fee != config.pool.fee:
            pools.append(LivePool(f"uniswap_v3_usdc_weth_{fee}", "uniswap_v3", tb.pool("uniswap_v3", fee).address, fee))

    def echo(text: str) -> None:
        typer.echo(text, err=as_json)

    opts = LiveOptions(
        rpc=rpc,
        keystore=keystore,
        journal=journal,
        blocks=blocks,
        pools=pools,
        v3_router=tb.swap_router,
        v2_router=tb.v2_router,
        vault=tb.vault,
        position_manager=tb.position_manager,
        tick_lens=tb.tick_lens,
        expected_chain_id=chain_id or tb.chain_id,
        mine=mine,
        anchor_to_chain=anchor_to_chain,
        new_journal=new_journal,
        approve_max=approve_max,
        allow_undercollateralized=allow_under,
        kill_switch=kill_switch,
        report=report,
        run_id=run_id or None,
        db=db,
        prompt=lambda text: getpass.getpass(text),
        echo=echo,
    )
    summary = asyncio.run(run_live(config, opts))
    for i, h in enumerate(summary.hedges, start=1):
        for line in format_hedge(i, h):
            echo(line)
    for line in format_summary(summary):
        echo(line)
    if report is not None:
        echo(f"wrote {report}")
    if as_json:
        data: dict[str, Any] = summary.as_dict()
        data.pop("events", None)
        import json

        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
