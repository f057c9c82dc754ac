"""``keel run --live --rpc URL CONFIG.toml``: the simulation's delta-hedging agent, trading on a real chain.

The same :class:`keel.agents.DeltaHedger` the simulator runs is driven by a real
:class:`keel.engine.Engine`: every chain block is synced into a keel.venues pool (exact state,
read by :mod:`keel.chain.pool_sync`), published to the agent as a :class:`~keel.engine.Block`, and
the agent's :class:`~keel.sim.chain.Tx` actions are carried out by signing and sending router
swaps (:class:`keel.chain.SwapExecutor` through :class:`keel.chain.TransactionManager`: preflight,
journal, confirmations).  Receipts go back to the agent on the same ``RECEIPTS`` topic as in
simulation, so it books exactly what the chain did.  For every hedge the fill is compared with
what keel.venues predicted on the synced state; at the end the account's token balances are
compared, to the wei, with the predicted ones.

Live differences from ``keel simulate`` (stated, not hidden): the option book is the config's
desk strategy booked at start at the surface's value (no off-chain options venue is reachable),
spot is the pool's own price, fees come from :class:`keel.chain.GasPolicy` (the agent's tip is
ignored), and with ``--anchor-to-chain`` the config's times (SVI expiries) are shifted so that
``market.start`` is the chain's current time (for local test chains whose clock is not the
config's).  Live trading needs ``--live``, and first prints the chain id, the account and its
balances.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from keel.agents import BandPolicy, DeltaHedger, DeskBook, HedgeConfig, strategy_legs
from keel.chain import (
    ChainClient,
    GasPolicy,
    KeystoreSigner,
    PoolSync,
    PreflightError,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    TxRevertedError,
    checksum,
    erc20_balance,
    read_token,
    read_vault_collateral,
    to_venue,
)
from keel.cli.app import app
from keel.domain import NS_PER_SECOND, Token
from keel.engine import Block, Engine
from keel.engine.transactions import RECEIPTS, Receipt, Tx
from keel.errors import ConfigError, ValidationError
from keel.risk import MarginModel, MarketState, PortfolioMargin, PositionView, StandardMargin
from keel.sim.config import ScenarioConfig, load_config, parse_utc
from keel.venues.options import OptionsVenue, SviSlice, SviSurface
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

__all__ = ["HedgeRecord", "LiveResult", "run_live"]

_STABLES = ("USDC", "USDT", "DAI", "USD")


@dataclass(frozen=True, slots=True)
class HedgeRecord:
    """One hedge the agent asked for and what the chain did (base units)."""

    block_number: int
    intent: str
    token_in: str
    amount_in: int
    predicted_out: int
    amount_out: int
    status: str
    tx_hash: str


@dataclass(slots=True)
class LiveResult:
    chain_id: int
    account: str
    pool: str
    blocks: int = 0
    hedges: list[HedgeRecord] = field(default_factory=list)
    start_balances: dict[str, int] = field(default_factory=dict)
    predicted_balances: dict[str, int] = field(default_factory=dict)
    end_balances: dict[str, int] = field(default_factory=dict)
    book_balances: dict[str, int] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    start_delta: float = 0.0
    end_delta: float = 0.0
    margin_model: str = ""
    initial_margin_usd: float = 0.0
    maintenance_margin_usd: float = 0.0
    vault_collateral: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def balances_match(self) -> bool:
        return self.end_balances == self.predicted_balances

    def to_json(self) -> str:
        data = asdict(self)
        data["balances_match"] = self.balances_match
        return json.dumps(data, indent=2, sort_keys=True, default=str)


def _surface(config: ScenarioConfig, shift_ns: int) -> SviSurface:
    assert config.options is not None
    slices = []
    for i, s in enumerate(config.options.svi):
        try:
            slices.append(SviSlice(parse_utc(s.expiry) + shift_ns, s.a, s.b, s.rho, s.m, s.sigma))
        except ValidationError:
            raise
        except Exception as exc:
            raise ConfigError(f"options.svi.{i}", s.expiry, str(exc)) from None
    return SviSurface(tuple(slices), as_of_ns=parse_utc(config.market.start) + shift_ns)


def _spot(pool: Pool | Pair, asset: Token, cash: Token) -> float:
    """USD per whole asset unit from the pool's exact state (float64, analytics only)."""
    if isinstance(pool, Pool):
        p = (pool.sqrt_price_x96 / 2**96) ** 2  # token1 per token0, base units
    else:
        p = pool.reserve1 / pool.reserve0
    if pool.token0 == asset:
        return p * asset.unit / cash.unit
    return (1.0 / p) * asset.unit / cash.unit


class LiveHedgeSession:
    """Connects the agent to the chain; see the module docstring.  Build with :meth:`open`."""

    config: ScenarioConfig
    echo: Any
    client: ChainClient
    signer: KeystoreSigner
    tm: TransactionManager
    result: LiveResult
    sync: PoolSync
    cash: Token
    asset: Token
    tokens: tuple[Token, Token]
    venue: Pool | Pair
    fee: int
    kind: str
    vault: str | None
    executor: SwapExecutor
    options: OptionsVenue
    book: DeskBook
    hedger: DeltaHedger
    engine: Engine

    def __init__(self) -> None:
        self.pending: list[tuple[int, str, Tx]] = []
        self.next_tx_id = 0

    @classmethod
    async def open(
        cls,
        rpc: str,
        config: ScenarioConfig,
        *,
        keystore: Path,
        pool_address: str,
        pool_kind: str = "uniswap_v3",
        journal: Path,
        expected_chain_id: int | None = None,
        vault: str | None = None,
        echo: Any = print,
        prompt: Any = None,
    ) -> LiveHedgeSession:
        if config.options is None or config.desk is None or not config.hedge.enabled:
            raise ConfigError("config", config.name, "live mode needs [options], [desk] and an enabled [hedge]")
        if config.desk.strategy == "none":
            raise ConfigError("desk.strategy", "none", "live mode hedges an option book: pick a strategy")
        self = cls()
        self.config = config
        self.echo = echo
        self.client = await ChainClient.connect(rpc, expected_chain_id=expected_chain_id)
        self.signer = KeystoreSigner(keystore, prompt=prompt)
        self.tm = await TransactionManager.open(self.client, self.signer, TxJournal(journal), GasPolicy())
        self.result = LiveResult(chain_id=self.client.chain_id, account=self.tm.address, pool=pool_address)
        self.sync = PoolSync(self.client, pool_kind, pool_address)
        state = await self.sync.start()
        t0, t1 = await read_token(self.client, state.token0), await read_token(self.client, state.token1)
        if t0.symbol in _STABLES:
            self.cash, self.asset = t0, t1
        elif t1.symbol in _STABLES:
            self.cash, self.asset = t1, t0
        else:
            raise ValidationError("pool", pool_address, f"needs a USD stablecoin side (tokens {t0.symbol}/{t1.symbol})")
        self.tokens = (t0, t1)
        self.venue = to_venue(state, t0, t1)
        self.fee = state.fee
        self.kind = pool_kind
        self.vault = vault
        return self

    async def balances(self) -> dict[str, int]:
        a = self.tm.address
        return {
            "ETH": await self.client.balance(a),
            self.cash.symbol: await erc20_balance(self.client, str(self.cash.address), a),
            self.asset.symbol: await erc20_balance(self.client, str(self.asset.address), a),
        }

    async def announce(self) -> None:
        """Print the chain id, the account and its balances (before anything is sent)."""
        bal = await self.balances()
        self.echo(f"chain id {self.client.chain_id} at {self.client.endpoint}")
        self.echo(f"account  {self.tm.address}")
        for sym, amount in bal.items():
            decimals = 18 if sym == "ETH" else (self.cash if sym == self.cash.symbol else self.asset).decimals
            self.echo(f"  {sym:<5} {amount / 10**decimals:,.6f}  ({amount} base units)")
        if self.vault:
            col = (await read_vault_collateral(self.client, self.vault, [self.tm.address]))[self.tm.address]
            self.echo(f"  vault collateral free {col.free} locked {col.locked} (base units)")
        self.echo(f"pool     {self.kind} {self.sync.address} fee {self.fee} ({self.asset.symbol}/{self.cash.symbol})")

    async def prepare(self, *, v3_router: str, v2_router: str, anchor_to_chain: bool) -> None:
        """Recover journaled transactions, approve the router, build the book, the agent and the engine."""
        still = await self.tm.recover()
        for p in still:
            await self.tm.wait(p, timeout_s=120)
        self.result.recovered = [p.intent for p in still]
        self.executor = SwapExecutor(self.client, self.tm, v3_router=v3_router, v2_router=v2_router)
        for token in (self.cash, self.asset):
            await self.executor.approve(f"approve:{token.address}:{self.kind}", str(token.address), self.kind)
        head = await self.client.get_block("latest")
        now_ns = int(head["timestamp"]) * NS_PER_SECOND
        start_ns = parse_utc(self.config.market.start)
        shift = now_ns - start_ns if anchor_to_chain else 0
        surface = _surface(self.config, shift)
        first_expiry = surface.slices[0].expiry_ns
        if first_expiry <= now_ns:
            raise ConfigError(
                "options.svi.0.expiry",
                self.config.options.svi[0].expiry if self.config.options else "",
                "has already passed on this chain; use live expiries or --anchor-to-chain on a test chain",
            )
        assert self.config.options is not None and self.config.desk is not None
        self.options = OptionsVenue("options", surface, self.config.options.half_spread_vol, self.config.options.rate)
        bal = await self.balances()
        self.book = DeskBook(self.cash, self.asset, cash=bal[self.cash.symbol], asset=bal[self.asset.symbol])
        spot = _spot(self.venue, self.asset, self.cash)
        d = self.config.desk
        underlying = self.asset.symbol.removeprefix("W")
        for option, qty in strategy_legs(d.strategy, spot, list(d.strikes_pct), d.contracts, underlying, first_expiry):
            self.book.add_option(option, qty, self.options.value(option, spot, now_ns))
        await self._margin(spot, now_ns)
        h = self.config.hedge
        block_ns = int(self.config.chain.block_time_s * NS_PER_SECOND)
        cfg = HedgeConfig(
            BandPolicy(h.policy), h.band, h.risk_aversion, h.cost, block_ns, h.slippage, h.deadline_s, h.tip_gwei
        )
        self.hedger = DeltaHedger(
            "hedger",
            self.book,
            self.options,
            self.venue,
            self.venue.name,
            lambda ts: _spot(self.venue, self.asset, self.cash),
            cfg,
        )
        self.engine = Engine(seed=self.config.seed, start_ns=now_ns)
        self.engine.on_action(Tx, self._on_tx)
        self.engine.add_actor(self.hedger)
        self.engine.start()
        self.result.start_balances = dict(bal)
        self.result.predicted_balances = dict(bal)
        self.result.start_delta = self.hedger.net_delta(spot, now_ns)[0]

    async def _margin(self, spot: float, now_ns: int) -> None:
        """The margin engine's requirement for the book, next to the collateral the vault holds (read first)."""
        if self.vault:
            col = (await read_vault_collateral(self.client, self.vault, [self.tm.address]))[self.tm.address]
            self.result.vault_collateral = col.total
        assert self.config.desk is not None
        model: MarginModel = PortfolioMargin() if self.config.desk.margin == "portfolio" else StandardMargin()
        positions = [PositionView(name, option, qty) for name, (option, qty) in sorted(self.book.options.items())]
        underlying = self.asset.symbol.removeprefix("W")
        vols = {name: self.options.mark_vol(option, spot, now_ns) for name, (option, _q) in self.book.options.items()}
        atm = sorted(vols.values())[len(vols) // 2] if vols else 0.5
        market = MarketState(now_ns, {underlying: spot}, vols={underlying: atm}, option_vols=vols)
        req = model.requirement(positions, market)
        self.result.margin_model = req.model
        self.result.initial_margin_usd = req.initial
        self.result.maintenance_margin_usd = req.maintenance
        collateral_usd = self.result.vault_collateral / self.cash.unit
        self.echo(
            f"margin   {req.model}: initial {req.initial:,.2f} USD, maintenance {req.maintenance:,.2f} USD; "
            f"vault collateral {collateral_usd:,.2f} {self.cash.symbol}"
        )

    def _on_tx(self, actor: str, tx: Tx) -> int:
        tx_id = self.next_tx_id
        self.next_tx_id += 1
        self.pending.append((tx_id, actor, tx))
        return tx_id

    async def step(self, *, mine: bool, block_time_s: int, poll_s: float = 0.5, timeout_s: float = 120.0) -> None:
        """Advance one block: (mine one on a test chain, or) wait for it, sync, deliver, execute."""
        last = self.sync.state.block_number if self.sync.state else -1
        if mine:
            await self.client.rpc("evm_increaseTime", [block_time_s])
            await self.client.rpc("evm_mine")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.client.block_number() <= last:
            if loop.time() > deadline:
                raise ValidationError("rpc", self.client.endpoint, f"no new block within {timeout_s:g}s")
            await asyncio.sleep(poll_s)
        head = await self.client.get_block("latest")
        number = int(head["number"])
        ts_ns = int(head["timestamp"]) * NS_PER_SECOND
        state = await self.sync.refresh(number)
        self.venue = to_venue(state, *self.tokens)
        self.hedger.pool = self.venue
        self.engine.run_until(ts_ns)
        self.engine.publish_block(Block(number, ts_ns, int(head.get("baseFeePerGas", 0) or 0), int(head["gasUsed"])))
        self.result.blocks += 1
        while self.pending:
            tx_id, actor, tx = self.pending.pop(0)
            await self._execute(tx_id, actor, tx, number, ts_ns)

    async def _execute(self, tx_id: int, actor: str, tx: Tx, number: int, ts_ns: int) -> None:
        call = tx.call
        token_in = call.token_in
        token_out = self.cash if token_in == self.asset else self.asset
        predicted = self.venue.quote_exact_in(token_in, call.amount_in).amount_out
        intent = f"hedge:{self.client.chain_id}:{number}:{tx_id}"
        deadline_s = max(1, ((call.deadline_ns or ts_ns + 60 * NS_PER_SECOND) - ts_ns) // NS_PER_SECOND)
        status, reason, fill = True, "", None
        try:
            fill = await self.executor.swap_exact_in(
                intent,
                kind=self.kind,
                token_in=str(token_in.address),
                token_out=str(token_out.address),
                amount_in=call.amount_in,
                min_amount_out=call.min_amount_out,
                fee=self.fee,
                deadline_s=int(deadline_s),
            )
        except (PreflightError, TxRevertedError) as exc:
            status, reason = False, str(exc)
        receipt = Receipt(
            tx_id=tx_id,
            sender=actor,
            tag=tx.tag,
            block_number=fill.block_number if fill else number,
            ts_ns=ts_ns,
            status=status,
            gas_used=fill.gas_used if fill else 0,
            effective_gas_price=(fill.fee_wei // fill.gas_used) if fill and fill.gas_used else 0,
            amount_in=fill.amount_in if fill else 0,
            amount_out=fill.amount_out if fill else 0,
            token_in=token_in.symbol,
            revert_reason=reason,
            submitted_ns=ts_ns,
        )
        if fill is not None:
            pb = self.result.predicted_balances
            pb[token_in.symbol] -= call.amount_in
            pb[token_out.symbol] += predicted
        self.result.hedges.append(
            HedgeRecord(
                number,
                intent,
                token_in.symbol,
                call.amount_in,
                predicted,
                fill.amount_out if fill else 0,
                "ok" if status else f"failed: {reason}",
                fill.tx_hash if fill else "",
            )
        )
        self.engine.bus.publish(RECEIPTS, receipt)

    async def finish(self) -> LiveResult:
        self.engine.stop()
        self.result.events = self.engine.recorder.to_frame().to_dicts()  # the agent's own event log
        end = await self.balances()
        self.result.end_balances = {k: v for k, v in end.items() if k != "ETH"}
        self.result.predicted_balances = {k: v for k, v in self.result.predicted_balances.items() if k != "ETH"}
        self.result.book_balances = {self.cash.symbol: self.book.cash, self.asset.symbol: self.book.asset}
        head = await self.client.get_block("latest")
        ts_ns = int(head["timestamp"]) * NS_PER_SECOND
        self.result.end_delta = self.hedger.net_delta(_spot(self.venue, self.asset, self.cash), ts_ns)[0]
        self.tm.journal.close()
        await self.client.close()
        return self.result


async def run_live(
    rpc: str,
    config: ScenarioConfig,
    *,
    keystore: Path,
    pool_address: str,
    v3_router: str,
    v2_router: str,
    journal: Path,
    blocks: int,
    pool_kind: str = "uniswap_v3",
    mine: bool = False,
    anchor_to_chain: bool = False,
    expected_chain_id: int | None = None,
    vault: str | None = None,
    echo: Any = print,
    prompt: Any = None,
) -> LiveResult:
    """Run the delta hedger for ``blocks`` chain blocks; returns what happened (see :class:`LiveResult`)."""
    if blocks <= 0:
        raise ValidationError("blocks", blocks, "must be positive")
    session = await LiveHedgeSession.open(
        rpc,
        config,
        keystore=keystore,
        pool_address=pool_address,
        pool_kind=pool_kind,
        journal=journal,
        expected_chain_id=expected_chain_id,
        vault=vault,
        echo=echo,
        prompt=prompt,
    )
    if mine and session.client.chain_id != 31337:
        raise ValidationError("mine", True, f"--mine only on a local test chain (31337), not {session.client.chain_id}")
    try:
        await session.announce()
        await session.prepare(v3_router=v3_router, v2_router=v2_router, anchor_to_chain=anchor_to_chain)
        for _ in range(blocks):
            await session.step(mine=mine, block_time_s=max(1, math.ceil(config.chain.block_time_s)))
    except BaseException:
        session.tm.journal.close()
        await session.client.close()
        raise
    return await session.finish()


@app.command("run")
def run_command(
    config_path: Path = typer.Argument(..., help="scenario TOML (see examples/)"),
    live: bool = typer.Option(False, "--live", help="trade on a real chain with signed transactions"),
    rpc: str = typer.Option("", "--rpc", help="JSON-RPC URL of the node"),
    keystore: Path = typer.Option(Path(".testbed/keystore.json"), "--keystore", help="eth-account keystore JSON"),
    addresses: Path = typer.Option(Path(".testbed/addresses.json"), "--addresses", help="testbed addresses file"),
    pool: str = typer.Option("", "--pool", help="pool address (default: the testbed's v3 pool at the config's fee)"),
    blocks: int = typer.Option(10, "--blocks", help="chain blocks to run for"),
    mine: bool = typer.Option(False, "--mine", help="local test chain only: mine a block per step"),
    anchor_to_chain: bool = typer.Option(
        False, "--anchor-to-chain", help="shift the config's times to the chain clock"
    ),
    chain_id: int = typer.Option(0, "--chain-id", help="expected chain id (0: the addresses file's)"),
    journal: Path = typer.Option(Path(".testbed/journal.jsonl"), "--journal", help="transaction journal file"),
    report: Path | None = typer.Option(None, "--report", help="write the result as JSON here"),
) -> None:
    """Run the config's delta-hedging agent live: `keel run --live --rpc URL examples/NAME.toml`."""
    if not live:
        raise ValidationError(
            "--live", False, "live trading needs the explicit --live flag (`keel simulate` runs it simulated)"
        )
    if not rpc:
        raise ValidationError("--rpc", rpc, "live mode needs the node's JSON-RPC URL")
    config = load_config(config_path)
    tb = TestbedAddresses.load(addresses)
    pool_address = checksum("pool", pool) if pool else tb.pool("uniswap_v3", config.pool.fee).address
    console = Console()

    result = asyncio.run(
        run_live(
            rpc,
            config,
            keystore=keystore,
            pool_address=pool_address,
            v3_router=tb.swap_router,
            v2_router=tb.v2_router,
            journal=journal,
            blocks=blocks,
            mine=mine,
            anchor_to_chain=anchor_to_chain,
            expected_chain_id=chain_id or tb.chain_id,
            vault=tb.vault,
            echo=console.print,
            prompt=lambda text: getpass.getpass(text),
        )
    )
    table = Table(title=f"{config.name} live: {result.blocks} blocks, {len(result.hedges)} hedges")
    for col in ("block", "in", "amount in", "predicted out", "chain out", "equal", "status"):
        table.add_column(col, justify="right")
    for h in result.hedges:
        ok = "yes" if h.amount_out == h.predicted_out else "NO"
        table.add_row(
            str(h.block_number), h.token_in, str(h.amount_in), str(h.predicted_out), str(h.amount_out), ok, h.status
        )
    console.print(table)
    console.print(f"net delta {result.start_delta:+.4f} -> {result.end_delta:+.4f} {config.market.asset}")
    for sym, amount in result.end_balances.items():
        console.print(f"{sym:<5} chain {amount}  predicted {result.predicted_balances[sym]}")
    console.print("balances equal keel.venues' prediction to the wei" if result.balances_match else "BALANCES DIFFER")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(result.to_json())
        console.print(f"wrote {report}")
    if not result.balances_match:
        raise typer.Exit(1)
