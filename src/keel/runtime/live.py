"""The live session: a config's agents trading on a real chain, safely.

Order of a run (nothing new is signed before step 7 passes; the agent starts at step 9):

1. the config is validated offline, the kill-switch file must be absent;
2. the node is reached (chain id checked), the keystore unlocked;
3. the journal is bound to the chain id, the genesis block hash, the account and a run id
   (:meth:`keel.chain.Journal.bind`): a journal from another chain, genesis or account is refused
   with one line (``--new-journal`` archives it and starts a fresh one);
4. every pool is synced and the config is checked against the chain (SVI expiries against the
   chain's time, pools, tokens);
5. reconciliation (:func:`keel.chain.reconcile.reconcile`): nonce, pending transactions and LP
   positions against the journal; unknown transactions of the account are adopted as external
   and reported; a mismatch nobody can explain stops the run;
6. journaled transactions of earlier sessions (signed after their own session's preflight) are
   followed to a receipt (re-broadcast from the journal, each one printed and counted) or dropped
   when past their deadline; fills found are booked; token balances are matched with what the
   journal's fills leave (a shortfall nothing explains stops the run);
7. preflight: balances, allowances and vault collateral are read; the worst-case hedge of the
   configured book over the run (spot moved by ±max(10%, 4σ√horizon)) is sized against the
   balances, the ETH for gas against the ETH balance, the vault collateral against the margin
   model's maintenance requirement (``--allow-undercollateralized`` to go on below it); the plan
   is printed; any problem stops the run with one line naming it;
8. approvals, bounded to what the plan needs (unlimited only with ``--approve-max``);
9. each block: the environment syncs the pools and balances, the engine runs the agents, their
   transactions are sent (signed, journaled, confirmed) and their receipts published.

A SIGINT/SIGTERM or the kill-switch file stops sending at once; the transaction in flight is
followed to its receipt or deadline, the summary is written and the journal closed with it.  With
the journal in the store (``LiveOptions.db``) the run also reads the store's control requests once
per block (``keel serve`` writes them for a run it does not execute): kill takes the kill-switch path
(the store's run ends ``killed``), pause and resume stop and restart the agents' decisions (the
engine's :class:`keel.engine.RunControl`; market, oracle, risk and reporting go on), and records its pipeline
there as a simulation does (:func:`keel.runtime.recording.live_store_recording`: events, intents, oracle
readings, risk and PnL per block, committed every block) less what the journal already keeps
(transactions, receipts, fills, token balances), so ``keel serve`` shows it from another process.
Hedge fills are compared with keel.venues' prediction on the synced state, and the final token
balances with the predicted ones, to the wei.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from keel.chain import (
    ChainClient,
    GasPolicy,
    Journal,
    JournalBinding,
    KeystoreSigner,
    PreflightError,
    SwapExecutor,
    TransactionManager,
    TxJournal,
    archive_journal,
    erc20_allowance,
    read_vault_collateral,
    transfers_in_receipt,
)
from keel.chain.environment import LiveEnvironment, LiveOutcome, LivePool
from keel.chain.reconcile import balance_problems, reconcile
from keel.domain import NS_PER_SECOND, NS_PER_YEAR, Token
from keel.errors import ChainError, ConfigError, KeelError, ValidationError

__all__ = ["HedgeRecord", "LiveOptions", "LiveSummary", "ReconcileError", "run_live"]

_STABLES = ("USDC", "USDT", "DAI", "USD")
_MAX_UINT256 = (1 << 256) - 1
_HEDGE_GAS = 350_000  # gas of one hedge swap through the v3 router, with margin (ARCHITECTURE: 107k + 24k per tick)
MAX_LIVE_BLOCKS = 31_536_000  # --blocks cap: a year of 1 s blocks (the preflight plans over the whole horizon)


class ReconcileError(ChainError):
    """The chain and the journal disagree in a way nothing explains; the run stops before its agent starts."""


@dataclass(frozen=True, slots=True)
class HedgeRecord:
    """One hedge leg the agent asked for and what the chain did (base units)."""

    block_number: int
    intent: str
    venue: str
    token_in: str
    amount_in: int
    predicted_out: int
    amount_out: int
    status: str
    tx_hash: str

    @property
    def equal(self) -> bool:
        return self.status == "filled" and self.amount_out == self.predicted_out


@dataclass(slots=True)
class LiveOptions:
    """Everything a live run needs besides the config (see :func:`run_live`)."""

    rpc: str
    keystore: Path
    journal: Path
    blocks: int
    pools: list[LivePool]
    v3_router: str
    v2_router: str
    vault: str | None = None
    position_manager: str | None = None
    tick_lens: str | None = None
    expected_chain_id: int | None = None
    mine: bool = False
    anchor_to_chain: bool = False
    new_journal: bool = False
    approve_max: bool = False
    allow_undercollateralized: bool = False
    kill_switch: Path | None = None
    report: Path | None = None
    run_id: str | None = None
    gas_policy: GasPolicy | None = None
    password: str | None = None
    prompt: Callable[[str], str] | None = None
    echo: Callable[[str], None] = print
    on_step: Callable[[str, str], None] | None = None  # TransactionManager.on_step (observers, fault tests)
    root: Path = Path(".")  # where the config's relative data paths are resolved (as `keel simulate`)
    db: str | None = None  # a state-store URL: the journal lives there (keel.store.StoreJournal) instead of a file
    handle_signals: bool = True


@dataclass(slots=True)
class LiveSummary:
    """What a live run did.  ``exit_code``: 0 clean; 1 when a hedge failed or balances differ from the prediction."""

    chain_id: int = 0
    account: str = ""
    run_id: str = ""
    journal: str = ""
    status: str = "starting"  # completed | stopped: <why> | refused: <why>
    blocks: int = 0
    hedges_sent: int = 0
    hedges_filled: int = 0
    hedges_failed: int = 0
    hedges_refused: int = 0
    rebroadcast: int = 0
    dropped: int = 0
    recovered_fills: int = 0
    external_txs: int = 0
    external_deposits: dict[str, int] = field(default_factory=dict)
    approvals: dict[str, str] = field(default_factory=dict)
    hedges: list[HedgeRecord] = field(default_factory=list)
    start_balances: dict[str, int] = field(default_factory=dict)
    predicted_balances: dict[str, int] = field(default_factory=dict)
    end_balances: dict[str, int] = field(default_factory=dict)
    book_balances: dict[str, int] = field(default_factory=dict)
    start_delta: float = 0.0
    end_delta: float = 0.0
    margin_model: str = ""
    initial_margin_usd: float = 0.0
    maintenance_margin_usd: float = 0.0
    vault_collateral: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fills_equal(self) -> bool:
        return all(h.equal for h in self.hedges if h.status == "filled")

    @property
    def balances_match(self) -> bool:
        return bool(self.end_balances) and self.end_balances == self.predicted_balances

    @property
    def wei_check(self) -> str:
        """'equal' only when fills happened and every fill and the balances equal the prediction."""
        if not self.end_balances:
            return "not checked"
        if not self.balances_match or not self.fills_equal:
            return "differ"
        return "equal" if self.hedges_filled else "no fills"

    @property
    def exit_code(self) -> int:
        return 1 if self.hedges_failed or self.wei_check == "differ" else 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hedges"] = [asdict(h) for h in self.hedges]
        data["balances_match"] = self.balances_match
        data["fills_equal"] = self.fills_equal
        data["wei_check"] = self.wei_check
        data["exit_code"] = self.exit_code
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, default=str)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _fmt(amount: int, decimals: int) -> str:
    return f"{amount / 10**decimals:,.6f}"


class _Stop:
    """The stop flag: a signal or the kill switch sets it; the environment stops sending at once."""

    def __init__(self, env: LiveEnvironment | None = None) -> None:
        self.reason = ""
        self.env = env

    def set(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        if self.env is not None:
            self.env.sending = False

    def __bool__(self) -> bool:
        return bool(self.reason)


class _StoreControl:
    """What a control request from the store acts on: kill is the kill switch's stop (no new transactions,
    the one in flight followed to its receipt), pause/resume the engine's run control (agents skip deciding)."""

    def __init__(self, stop: _Stop, control: Any) -> None:
        self._stop = stop
        self._control = control

    def stop(self) -> None:
        self._stop.set("kill requested through the store")

    def pause(self) -> None:
        self._control.pause()

    def resume(self) -> None:
        self._control.resume()


class LiveSession:
    """One live run (see the module docstring); :func:`run_live` drives it."""

    def __init__(self, config: Any, opts: LiveOptions) -> None:
        self.config = config
        self.opts = opts
        self.echo = opts.echo
        self.summary = LiveSummary()
        self.stop = _Stop()
        self.client: ChainClient | None = None
        self.journal: Journal | None = None
        self.tm: TransactionManager | None = None
        self.env: LiveEnvironment | None = None
        self.engine: Any = None
        self.hedger: Any = None
        self.book: Any = None
        self.options_venue: Any = None
        self.cash: Token | None = None
        self.asset: Token | None = None
        self.shift_ns = 0
        self.world: Any = None
        self.predicted: dict[str, int] = {}
        self.fill_notes_seen = 0
        self.store: Any = None  # the state store holding the journal (LiveOptions.db): control requests come from it
        self.control: Any = None  # the engine's RunControl (pause/resume from the store)
        self.recorder: Any = None  # the store's recorder of the pipeline (LiveOptions.db), flushed every block
        self._tap: Any = None

    # ---- 1-3: offline checks, node, keystore, journal -------------------------------------------
    def check_offline(self) -> None:
        if isinstance(self.opts.blocks, bool) or not isinstance(self.opts.blocks, int) or self.opts.blocks <= 0:
            raise ValidationError("blocks", self.opts.blocks, "must be a positive int")
        if self.opts.blocks > MAX_LIVE_BLOCKS:
            limit = f"must be at most {MAX_LIVE_BLOCKS:,} (a year of 1 s blocks)"
            raise ValidationError("blocks", self.opts.blocks, limit)
        if self.opts.kill_switch is not None and self.opts.kill_switch.exists():
            raise ValidationError("kill_switch", str(self.opts.kill_switch), "exists already: remove it to start")
        if not self.opts.pools:
            raise ValidationError("pools", [], "live mode needs a pool")

    async def connect(self) -> None:
        o = self.opts
        self.client = await ChainClient.connect(o.rpc, expected_chain_id=o.expected_chain_id)
        if o.mine and self.client.chain_id != 31337:
            raise ValidationError(
                "mine", True, f"--mine only on a local test chain (31337), not {self.client.chain_id}"
            )
        signer = KeystoreSigner(o.keystore, password=o.password, prompt=o.prompt)
        genesis = await self.client.genesis_hash()
        if o.new_journal:
            archived = archive_journal(o.journal)
            if archived is not None:
                self.echo(f"journal  archived {o.journal} -> {archived.name}")
        run_id = o.run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        journal: Journal
        if o.db is not None:  # the state store's journal: a lease gives one writer per account and chain
            from keel.store import open_store
            from keel.store.journal import StoreJournal

            store = open_store(o.db)
            journal = StoreJournal(store, signer.address, self.client.chain_id, run_id, name=self.config.name)
            self.store = store
        else:
            journal = TxJournal(o.journal)
        self.journal = journal
        binding = journal.bind(JournalBinding(self.client.chain_id, genesis, signer.address, run_id))
        self.summary.chain_id = self.client.chain_id
        self.summary.account = signer.address
        self.summary.run_id = binding.run_id
        self.summary.journal = journal.where
        self.tm = await TransactionManager.open(self.client, signer, journal, o.gas_policy or GasPolicy())
        self.tm.on_rebroadcast = self._rebroadcast
        self.tm.on_step = o.on_step
        self.echo(f"chain id {self.client.chain_id} at {self.client.endpoint}")
        self.echo(f"account  {signer.address}")
        resumed = "resumed" if journal.notes("session") else "new"
        self.echo(f"journal  {journal.where}")
        self.echo(f"run      {binding.run_id} ({resumed})")

    def _rebroadcast(self, intent: str, tx_hash: str, why: str) -> None:
        self.summary.rebroadcast += 1
        nonce = self.tm.journal.intents[intent].nonce if self.tm is not None else -1
        self.echo(f"rebroadcast nonce {nonce} {tx_hash[:18]}… ({why})")

    # ---- 4: environment and chain-side config checks --------------------------------------------
    async def open_environment(self) -> None:
        assert self.client is not None and self.tm is not None
        o = self.opts
        executor = SwapExecutor(self.client, self.tm, v3_router=o.v3_router, v2_router=o.v2_router)
        block_ns = int(self.config.chain.block_time_s * NS_PER_SECOND)
        self.env = await LiveEnvironment.open(
            self.client, executor, o.pools, block_time_ns=block_ns, tick_lens=o.tick_lens
        )
        self.stop.env = self.env
        main = o.pools[0].name
        t0, t1 = self.env.tokens[main]
        if t0.symbol in _STABLES:
            self.cash, self.asset = t0, t1
        elif t1.symbol in _STABLES:
            self.cash, self.asset = t1, t0
        else:
            raise ValidationError("pool", o.pools[0].address, f"needs a USD stablecoin side ({t0.symbol}/{t1.symbol})")
        want = self.config.market.asset.upper()
        if self.asset.symbol.upper().removeprefix("W") != want.removeprefix("W"):
            raise ConfigError(
                "market.asset", self.config.market.asset, f"the live pool trades {self.asset.symbol}, not {want}"
            )
        for p in o.pools[1:]:
            if {t.symbol for t in self.env.tokens[p.name]} != {self.cash.symbol, self.asset.symbol}:
                raise ValidationError(f"pool {p.name}", p.address, "does not trade the main pool's tokens")

    def _check_expiries(self) -> None:
        """Every option expiry of the world must be after the chain's time (engine clock)."""
        assert self.env is not None
        options = self.world.options if self.world is not None else None
        if options is None:
            return
        now_ns = self.env.now_ns
        chain_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.env.chain_now_ns // NS_PER_SECOND))
        hint = "" if self.opts.anchor_to_chain else "; use live expiries, or --anchor-to-chain on a test chain"
        svi = self.config.options.svi if self.config.options is not None else []
        for i, sl in enumerate(options.surface.slices):
            if sl.expiry_ns <= now_ns:
                key, value = (f"options.svi.{i}.expiry", svi[i].expiry) if i < len(svi) else ("options.surface", i)
                raise ConfigError(key, value, f"has already passed on this chain (chain time {chain_time}){hint}")

    # ---- 5: reconciliation -------------------------------------------------------------------------
    async def reconcile_chain(self) -> None:
        assert self.client is not None and self.journal is not None and self.tm is not None
        sessions = self.journal.notes("session")
        latest = await self.client.nonce(self.tm.address, "latest")
        start_nonce = int(sessions[0]["nonce"]) if sessions else latest
        scan_from = int(sessions[-1]["head"]) if sessions else await self.client.block_number()
        rec = await reconcile(
            self.client, self.journal, self.tm.address, start_nonce=start_nonce, scan_from_block=scan_from,
            position_manager=self.opts.position_manager,
        )  # fmt: skip
        for line in rec.lines():
            self.echo(line)
        if rec.problems:
            raise ReconcileError(rec.problems[0])
        for ext in rec.external:
            self.journal.record_external(ext.tx_hash, ext.nonce, ext.block_number)
        self.summary.external_txs = len(rec.external) + rec.unlocated_external
        head = await self.client.block_number()
        self.journal.note("session", {"nonce": latest if not sessions else start_nonce, "head": head})

    # ---- 6: the book, the agent and the preflight ---------------------------------------------------
    def build_agents(self) -> None:
        """The config's world on the live environment: ``keel.runtime.build_world``, as ``keel simulate`` builds it.

        Same sections, same agents, same settings (``[hedge]`` mode and ``max_cost_bps``, ``[options.surface]``,
        ``[oracle]``, ``[[agents]]`` user classes).  Live differences: the pools are the chain's (synced each
        block), there are no simulated counterparties, and the desk's book starts from the account's balances
        instead of ``desk.initial_usd``.
        """
        from keel.engine import Engine, RunControl
        from keel.engine.transactions import Tx
        from keel.runtime.world import build_world

        assert self.env is not None and self.cash is not None and self.asset is not None
        c = self.config
        if c.desk is not None:  # the book is funded from the chain below, not from desk.initial_usd
            c = c.model_copy(update={"desk": c.desk.model_copy(update={"initial_usd": 0.0})})
        env = self.env
        if self.opts.anchor_to_chain:  # the engine runs the config's clock: market.start is the chain's time now
            from keel.sim.config import parse_utc

            self.shift_ns = env.chain_now_ns - parse_utc(c.market.start)
            env.time_shift_ns = self.shift_ns
        engine = Engine(seed=c.seed, start_ns=env.now_ns)
        self.control = engine.control = RunControl()
        env.engine = engine
        engine.on_action(Tx, self._submit)
        self.engine = engine
        self.world = build_world(c, env, root=self.opts.root)
        self._check_expiries()
        w = self.world
        self.hedger = w.hedger
        self.book = w.book
        self.options_venue = w.options
        if self.book is not None:
            bal = env.cached_balances()
            cash_sym, asset_sym = self.book.cash_token.symbol, self.book.asset_token.symbol
            if (cash_sym, asset_sym) != (self.cash.symbol, self.asset.symbol):
                pair = f"{self.cash.symbol}/{self.asset.symbol}"
                raise ConfigError("market.asset", c.market.asset, f"the desk books {cash_sym}/{asset_sym}, not {pair}")
            self.book.fund(self.book.cash_token, bal[cash_sym])
            self.book.fund(self.book.asset_token, bal[asset_sym])
            if w.accountant is not None:  # the desk's starting equity is the account's
                equity = bal[cash_sym] / self.cash.unit + bal[asset_sym] / self.asset.unit * self.spot()
                w.accountant.start_equity += equity
                w.accountant._prev_equity += equity
        self.echo(f"agents   {', '.join(sorted(w.agents)) or 'none'}")

    def _submit(self, actor: str, tx: Any) -> int:
        assert self.env is not None
        if tx.sender != actor:
            raise ValidationError("sender", tx.sender, f"does not match the submitting actor {actor!r}")
        return self.env.submit(tx)

    def spot(self) -> float:
        """USD per whole asset unit from the main pool's exact state (float64, analytics only)."""
        assert self.env is not None and self.cash is not None and self.asset is not None
        pool = self.env.venues[self.opts.pools[0].name]
        if hasattr(pool, "sqrt_price_x96"):
            from keel.oracle.dex import price_from_sqrt_price_x96

            d0, d1 = pool.token0.decimals, pool.token1.decimals
            invert = pool.token0.symbol != self.asset.symbol
            return price_from_sqrt_price_x96(int(pool.sqrt_price_x96), d0, d1, invert=invert)
        p = pool.reserve1 / pool.reserve0
        if pool.token0.symbol == self.asset.symbol:
            return float(p * self.asset.unit / self.cash.unit)
        return float((1.0 / p) * self.asset.unit / self.cash.unit)

    def _desk_legs(self, spot: float) -> list[tuple[Any, float]]:
        """The option legs the config's portfolio manager opens at ``spot`` (its first block)."""
        from keel.agents import strategy_legs

        d = self.config.desk
        if d is None or d.strategy == "none" or self.options_venue is None:
            return []
        assert self.env is not None
        expiries = [sl.expiry_ns for sl in self.options_venue.surface.slices if sl.expiry_ns > self.env.now_ns]
        if not expiries:
            return []
        underlying = self.config.market.asset
        return list(strategy_legs(d.strategy, spot, list(d.strikes_pct), d.contracts, underlying, min(expiries)))

    async def preflight(self) -> dict[str, int]:
        """Size the worst case, read balances/allowances/collateral, print the plan; raise on a problem.

        The desk's book is sized as its portfolio manager will open it (``[desk]`` at the pool's
        spot); the hedge need is the worst over spot moved by ±max(10%, 4σ√horizon).  Returns the
        approvals the plan needs: token symbol -> amount (base units), for every router used.
        """
        from keel.risk import MarketState, PositionView

        assert self.env is not None and self.cash is not None and self.asset is not None and self.tm is not None
        c = self.config
        cash, asset = self.cash, self.asset
        now_ns = self.env.now_ns
        spot = self.spot()
        bal = self.env.cached_balances()
        held = bal[asset.symbol] / asset.unit
        horizon_years = self.opts.blocks * self.env.block_time_ns / NS_PER_YEAR
        legs = self._desk_legs(spot)
        ov = self.options_venue
        vols = {f"leg{i}": ov.mark_vol(o, spot, now_ns) for i, (o, _q) in enumerate(legs)} if ov is not None else {}
        atm = sorted(vols.values())[len(vols) // 2] if vols else 0.8
        move = max(0.10, 4.0 * atm * math.sqrt(horizon_years))
        hedging = self.hedger is not None and bool(legs)
        slip = (float(c.hedge.slippage) if hedging else 0.0) + max(p.fee for p in self.opts.pools) / 1e6
        worst_buy, worst_buy_spot, worst_sell = 0.0, spot, 0.0
        if hedging:
            assert ov is not None
            for k in range(-4, 5):
                s = spot * max(0.01, 1.0 + move * k / 4.0)  # a long horizon's down moves stop short of zero
                delta = sum(q * ov.greeks(o, s, now_ns)[1] for o, q in legs)  # options only
                buy = max(0.0, -delta - held)
                if buy * s > worst_buy * worst_buy_spot:
                    worst_buy, worst_buy_spot = buy, s
                worst_sell = max(worst_sell, delta + held)
        need_cash = math.ceil(worst_buy * worst_buy_spot * (1.0 + slip) * cash.unit)
        need_asset = math.ceil(max(0.0, worst_sell - held) * asset.unit)
        tip = int(float(c.hedge.tip_gwei) * 10**9)
        fees = self.tm.policy.fees(self.env.base_fee_wei, tip)
        n_agents = max(1, len(self.world.agents) if self.world is not None else 1)
        need_eth = (self.opts.blocks * n_agents + 2 * len(self.opts.pools)) * _HEDGE_GAS * fees.max_fee_per_gas
        e = self.echo
        e(f"balance  ETH {_fmt(bal['ETH'], 18)}  {cash.symbol} {_fmt(bal[cash.symbol], cash.decimals)}  "
          f"{asset.symbol} {_fmt(bal[asset.symbol], asset.decimals)}")  # fmt: skip
        problems = []
        sm = self.summary
        if hedging:
            e(f"plan     {self.opts.blocks} blocks, spot {spot:,.2f}, worst case ±{move:.0%}: "
              f"buy up to {worst_buy:,.4f} {asset.symbol}")  # fmt: skip
            e(f"need     {cash.symbol} {_fmt(need_cash, cash.decimals)}  "
              f"{asset.symbol} {_fmt(need_asset, asset.decimals)}  ETH {_fmt(need_eth, 18)} (gas)")  # fmt: skip
            if bal[cash.symbol] < need_cash:
                problems.append(
                    f"{cash.symbol} balance {_fmt(bal[cash.symbol], cash.decimals)} < {_fmt(need_cash, cash.decimals)} "
                    f"the worst-case hedge needs (buy {worst_buy:,.4f} {asset.symbol} at up to {worst_buy_spot:,.2f});"
                    " fund the account or shrink desk.contracts"
                )
            if need_asset > 0:
                problems.append(
                    f"{asset.symbol} balance {_fmt(bal[asset.symbol], asset.decimals)}: the book's delta needs "
                    f"selling {_fmt(need_asset, asset.decimals)} more {asset.symbol} than the account holds"
                )
        else:
            e(f"plan     {self.opts.blocks} blocks, spot {spot:,.2f}; ETH {_fmt(need_eth, 18)} for gas")
        if bal["ETH"] < need_eth:
            problems.append(f"ETH balance {_fmt(bal['ETH'], 18)} < {_fmt(need_eth, 18)} needed for gas")
        if legs and self.world is not None and self.world.margin_model is not None:
            positions = [PositionView(f"leg{i}", o, q) for i, (o, q) in enumerate(legs)]
            underlying = c.market.asset
            market = MarketState(now_ns, {underlying: spot}, vols={underlying: atm}, option_vols=vols)
            req = self.world.margin_model.requirement(positions, market)
            collateral = 0
            if self.opts.vault:
                assert self.client is not None
                col = (await read_vault_collateral(self.client, self.opts.vault, [self.tm.address]))[self.tm.address]
                collateral = col.total
            sm.margin_model, sm.initial_margin_usd, sm.maintenance_margin_usd = (
                req.model, req.initial, req.maintenance
            )  # fmt: skip
            sm.vault_collateral = collateral
            e(f"margin   {req.model}: maintenance {req.maintenance:,.2f} USD, initial {req.initial:,.2f} USD")
            e(f"vault    collateral {_fmt(collateral, cash.decimals)} {cash.symbol}")
            collateral_usd = collateral / cash.unit
            if collateral_usd < req.maintenance:
                what = (
                    f"vault collateral {collateral_usd:,.2f} {cash.symbol} < maintenance margin "
                    f"{req.maintenance:,.2f} USD ({req.model})"
                )
                if self.opts.allow_undercollateralized:
                    e(f"WARNING  {what}: trading anyway (--allow-undercollateralized)")
                else:
                    problems.append(f"{what}; deposit collateral or pass --allow-undercollateralized")
        if hedging:
            approvals = {cash.symbol: need_cash, asset.symbol: math.ceil((held + worst_buy) * asset.unit)}
        else:  # other strategies: bounded by the account's wealth in each token (at most +10% price move)
            wealth_cash = bal[cash.symbol] + bal[asset.symbol] / asset.unit * spot * 1.1 * cash.unit
            wealth_asset = bal[asset.symbol] + bal[cash.symbol] / cash.unit / (spot * 0.9) * asset.unit
            approvals = {cash.symbol: math.ceil(wealth_cash), asset.symbol: math.ceil(wealth_asset)}
        sm.plan = {
            "blocks": self.opts.blocks, "spot": spot, "move": move, "worst_buy": worst_buy,
            "need": {cash.symbol: need_cash, asset.symbol: need_asset, "ETH": need_eth},
            "approve": {k: ("max" if self.opts.approve_max else v) for k, v in approvals.items()},
        }  # fmt: skip
        if problems:
            raise PreflightError("preflight: " + problems[0])
        return approvals

    # ---- 7: settle earlier sessions' transactions, match balances ---------------------------------
    async def recover(self) -> None:
        assert self.tm is not None and self.journal is not None and self.env is not None and self.client is not None
        still = await self.tm.recover()
        for p in still:
            try:
                await self.tm.wait(p, timeout_s=120)
            except ChainError as exc:  # dropped past its deadline, or replaced
                self.echo(f"journal  {p.intent}: {exc}")
        booked = {n["intent"] for n in self.journal.notes("fill")}
        for state in sorted(self.journal.intents.values(), key=lambda s: s.nonce):
            if state.meta.get("kind") != "hedge" or state.intent in booked:
                continue
            if state.status == "dropped":
                self.summary.dropped += 1
                self._note_fill(state.intent, state.meta, 0, "failed: dropped", state.mined_hash)
            elif state.status == "mined":
                out = 0
                if state.tx_status == 1:
                    r = await self.tm.check(self.tm.pending(state.intent))
                    assert r is not None
                    out = transfers_in_receipt(r, self._address(state.meta["token_out"]), to=self.tm.address)
                status = "filled" if state.tx_status == 1 else "failed: reverted"
                self._note_fill(state.intent, state.meta, out, status, state.mined_hash)
                self.summary.recovered_fills += 1
                self.echo(f"recovered nonce {state.nonce}: {status}, out {out}")
        await self._match_balances()

    def _address(self, symbol: str) -> str:
        token = self.env.all_tokens()[symbol] if self.env is not None else None
        if token is None or token.address is None:
            raise ValidationError("token", symbol, "not a token of the live pools")
        return str(token.address)

    def _note_fill(self, intent: str, meta: Mapping[str, Any], amount_out: int, status: str, tx_hash: str) -> None:
        assert self.journal is not None
        self.journal.note(
            "fill",
            {
                "intent": intent, "status": status, "token_in": meta["token_in"], "token_out": meta["token_out"],
                "amount_in": int(meta["amount_in"]) if status == "filled" else 0,
                "amount_out": amount_out, "predicted_out": int(meta["predicted_out"]) if status == "filled" else 0,
                "tx_hash": tx_hash, "block": self.env.block_number if self.env is not None else -1,
            },
        )  # fmt: skip

    def _effects(self, fills: list[dict[str, Any]], *, predicted: bool) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in fills:
            if f["status"] != "filled":
                continue
            out[f["token_in"]] = out.get(f["token_in"], 0) - int(f["amount_in"])
            got = int(f["predicted_out"] if predicted else f["amount_out"])
            out[f["token_out"]] = out.get(f["token_out"], 0) + got
        return out

    async def _match_balances(self) -> None:
        """Token balances against the last baseline plus the fills since; write the new baseline."""
        assert self.journal is not None and self.env is not None
        chain = {k: v for k, v in (await self.env.read_balances()).items() if k != "ETH"}
        fills = self.journal.notes("fill")
        baselines = self.journal.notes("baseline")
        if not baselines:
            actual_base, predicted_base, since = dict(chain), dict(chain), len(fills)
            self.summary.start_balances = dict(chain)
        else:
            last = baselines[-1]
            actual_base = {k: int(v) for k, v in last["actual"].items()}
            predicted_base = {k: int(v) for k, v in last["predicted"].items()}
            since = int(last["fills"])
            self.summary.start_balances = {k: int(v) for k, v in baselines[0]["actual"].items()}
        new = fills[since:]
        actual_fx, predicted_fx = self._effects(new, predicted=False), self._effects(new, predicted=True)
        expected = {k: actual_base.get(k, 0) + actual_fx.get(k, 0) for k in chain}
        problems, deposits = balance_problems(expected, chain, journal=str(self.opts.journal))
        if problems and not self.summary.external_txs:
            raise ReconcileError(problems[0])
        for token, amount in deposits.items():
            self.echo(f"external deposit {token} +{amount} base units (adopted)")
        self.summary.external_deposits = deposits
        drift = {k: chain[k] - expected[k] for k in chain}  # deposits (or adopted external spending)
        self.predicted = {k: predicted_base.get(k, 0) + predicted_fx.get(k, 0) + drift[k] for k in chain}
        decimals = {sym: tok.decimals for sym, tok in self.env.all_tokens().items()}
        self.journal.note(
            "baseline",
            {"actual": chain, "predicted": self.predicted, "fills": len(fills), "block": self.env.block_number,
             "decimals": decimals},
        )  # fmt: skip
        self.fill_notes_seen = len(fills)

    # ---- 8: approvals ---------------------------------------------------------------------------------
    async def approve(self, approvals: Mapping[str, int]) -> None:
        assert self.env is not None and self.tm is not None and self.client is not None
        executor = self.env.executor
        kinds = sorted({p.kind for p in self.opts.pools})
        session = len(self.journal.notes("session")) if self.journal is not None else 0
        for kind in kinds:
            router = executor.router_for(kind)
            for symbol, amount in sorted(approvals.items()):
                if amount <= 0:
                    continue
                token = self._address(symbol)
                target = _MAX_UINT256 if self.opts.approve_max else amount
                have = await erc20_allowance(self.client, token, self.tm.address, router)
                if have >= amount:
                    self.summary.approvals[f"{symbol}:{kind}"] = "already allowed"
                    continue
                intent = f"approve:{self.summary.run_id}:{session}:{symbol}:{kind}"
                await executor.approve(intent, token, kind, target)
                shown = "unlimited (--approve-max)" if self.opts.approve_max else str(target)
                self.summary.approvals[f"{symbol}:{kind}"] = shown
                self.echo(f"approve  {symbol} for the {kind} router: {shown}")

    # ---- 9: the blocks --------------------------------------------------------------------------------
    async def run_blocks(self) -> None:
        from keel.engine import Block
        from keel.engine.transactions import RECEIPTS

        assert self.env is not None and self.engine is not None
        env = self.env
        self.attach_recording()
        self.engine.start()
        first = True
        for _ in range(self.opts.blocks):
            if self.stop:
                break
            self.apply_store_controls()
            if self.stop:
                break
            await env.advance(mine=self.opts.mine)
            if self.stop:
                break
            self.engine.run_until(env.now_ns)
            self.engine.publish_block(Block(env.block_number, env.now_ns, env.base_fee_wei, env.gas_used))
            self.summary.blocks += 1
            if first and self.hedger is not None:  # the delta the hedger saw before its first hedge
                self.summary.start_delta = float(self.hedger.last_delta)
                first = False
            while env.queue:
                tx_id, tx = env.queue.pop(0)
                intent = f"{tx.sender}:{self.summary.run_id}:{env.block_number}:{tx_id}"
                outcome = await env.execute(tx_id, tx, intent=intent, meta={"kind": "hedge", "agent": tx.sender})
                self._book(outcome, env.block_number)
                self.engine.bus.publish(RECEIPTS, self._receipt(tx, outcome))
            if self.recorder is not None:  # the block's events, risk, PnL and oracle rows, visible to keel serve
                self.recorder.flush()

    def attach_recording(self) -> None:
        """With the store (``LiveOptions.db``): record the pipeline as a simulation does, less what the journal
        keeps (transactions, receipts, fills, token balances; :mod:`keel.runtime.recording`)."""
        if self.store is None or self.engine is None or self.recorder is not None:
            return
        from keel.runtime.recording import live_store_recording

        tokens = {t.symbol for t in (self.cash, self.asset) if t is not None}
        if self.env is not None:
            tokens |= set(self.env.all_tokens())
        self._tap, self.recorder = live_store_recording(self.store, self.summary.run_id, sorted(tokens))
        self.engine.bus.tap(self._tap)

    def close_recording(self) -> None:
        """Detach the recording tap and commit what it holds (raises the recorder's ``StoreError``)."""
        recorder, self.recorder = self.recorder, None
        if self._tap is not None and self.engine is not None:
            self.engine.bus.untap(self._tap)
            self._tap = None
        if recorder is not None:
            recorder.close()

    def apply_store_controls(self) -> None:
        """The store's pending control requests for this run (one indexed query), applied before the next block."""
        if self.store is None or self.env is None or self.control is None:
            return
        from keel.runtime.registry import apply_store_controls

        block = self.env.block_number
        target = _StoreControl(self.stop, self.control)
        for action in apply_store_controls(self.store, self.summary.run_id, target, block):
            self.echo(f"control  {action} requested through the store: applied after block {block}")

    def _book(self, outcome: LiveOutcome, block: int) -> None:
        s = self.summary
        for leg in outcome.legs:
            if leg.status.startswith("refused"):
                s.hedges_refused += 1
            else:
                s.hedges_sent += 1
                if leg.filled:
                    s.hedges_filled += 1
                else:
                    s.hedges_failed += 1
                meta = {"token_in": leg.token_in, "token_out": leg.token_out, "amount_in": leg.amount_in,
                        "predicted_out": leg.predicted_out}  # fmt: skip
                self._note_fill(leg.intent, meta, leg.amount_out, leg.status, leg.tx_hash)
                if leg.filled:
                    self.predicted[leg.token_in] -= leg.amount_in
                    self.predicted[leg.token_out] += leg.predicted_out
            s.hedges.append(
                HedgeRecord(block, leg.intent, leg.venue, leg.token_in, leg.amount_in, leg.predicted_out,
                            leg.amount_out, leg.status, leg.tx_hash)
            )  # fmt: skip
            self.echo(_hedge_line(s.hedges[-1]))

    def _receipt(self, tx: Any, outcome: LiveOutcome) -> Any:
        from keel.engine.transactions import Receipt

        assert self.env is not None
        call = tx.call
        return Receipt(
            tx_id=outcome.tx_id,
            sender=tx.sender,
            tag=tx.tag,
            block_number=outcome.block_number if outcome.block_number >= 0 else self.env.block_number,
            ts_ns=self.env.now_ns,
            status=outcome.status,
            gas_used=outcome.gas_used,
            effective_gas_price=(outcome.fee_wei // outcome.gas_used) if outcome.gas_used else 0,
            amount_in=outcome.amount_in,
            amount_out=outcome.amount_out,
            token_in=call.token_in.symbol,
            revert_reason=outcome.reason,
            submitted_ns=self.env.now_ns,
        )

    # ---- the end ----------------------------------------------------------------------------------------
    async def finish(self) -> None:
        """Final balances against the prediction; the agent's events; delta."""
        s = self.summary
        if self.env is None or not self.predicted:
            return
        end = await self.env.read_balances()
        s.end_balances = {k: v for k, v in end.items() if k != "ETH"}
        s.predicted_balances = dict(self.predicted)
        if self.book is not None and self.cash is not None and self.asset is not None:
            s.book_balances = {self.cash.symbol: int(self.book.cash), self.asset.symbol: int(self.book.asset)}
        if self.engine is not None:
            self.engine.stop()
            s.events = self.engine.recorder.to_frame().to_dicts()
            s.hedges_refused += sum(1 for ev in s.events if ev.get("kind") == "hedge_refused")
        if self.hedger is not None:
            now = self.env.now_ns  # at the price the hedger trades on (its oracle)
            s.end_delta = float(self.hedger.net_delta(float(self.hedger.spot(now)), now)[0])

    async def close(self) -> None:
        s = self.summary
        failed: BaseException | None = None
        try:  # the pipeline's rows are committed before the journal ends the run in the store
            self.close_recording()
        except KeelError as exc:
            failed = exc
            self.echo(f"store    recording the pipeline failed: {exc}")
        if self.journal is not None and self.tm is not None:
            s.rebroadcast = len(self.tm.rebroadcasts)
        if self.opts.report is not None:
            _write_atomic(self.opts.report, s.to_json())
        if self.journal is not None:
            bound = self.journal.binding is not None and s.run_id != ""
            short = {k: v for k, v in s.as_dict().items() if k not in ("events", "hedges", "plan")}
            self.journal.close(short if bound else None)
        if self.client is not None:
            await self.client.close()
        if failed is not None:
            raise failed


def _hedge_line(h: HedgeRecord) -> str:
    """One short line as a hedge completes (the CLI prints a block per hedge at the end)."""
    mark = "=" if h.equal else ("!=" if h.status == "filled" else "")
    tail = f"out {h.amount_out} {mark} predicted" if h.status == "filled" else h.status.split(":")[0]
    return f"hedge    block {h.block_number} {h.token_in} {h.amount_in}: {tail}"


async def run_live(config: Any, opts: LiveOptions) -> LiveSummary:
    """Run ``config``'s agents live for ``opts.blocks`` blocks (see the module docstring).

    Returns the summary (also written to ``opts.report`` and into the journal's ``closed``
    record).  A :class:`keel.errors.KeelError` raised before the agent starts means nothing was
    signed unless the summary's approvals say so; the journal is closed either way.
    """
    session = LiveSession(config, opts)
    session.check_offline()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if opts.handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, session.stop.set, f"signal {signal.Signals(sig).name}")
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
    watcher: asyncio.Task[None] | None = None
    if opts.kill_switch is not None:
        watcher = asyncio.create_task(_watch(opts.kill_switch, session.stop))
    try:
        await session.connect()
        await session.open_environment()
        await session.reconcile_chain()
        await session.recover()  # earlier sessions' journaled transactions: re-broadcast (no new signature) or dropped
        await session.env.reload()  # type: ignore[union-attr]
        session.build_agents()
        approvals = await session.preflight()
        if not session.stop:
            await session.approve(approvals)
        session.summary.status = "running"
        if not session.stop:
            await session.run_blocks()
        session.summary.status = f"stopped: {session.stop.reason}" if session.stop else "completed"
        await session.finish()
    except BaseException as exc:
        if session.summary.status in ("starting", "running"):
            session.summary.status = f"refused: {exc}" if isinstance(exc, KeelError) else f"error: {type(exc).__name__}"
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await session.close()
    return session.summary


async def _watch(path: Path, stop: _Stop, poll_s: float = 0.2) -> None:
    while not stop:
        if path.exists():
            stop.set(f"kill switch {path}")
            return
        await asyncio.sleep(poll_s)
