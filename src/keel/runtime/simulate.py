"""Run a simulated world block by block: ``Simulation`` (steppable, checkpointable) and ``run_simulation``.

``run_simulation(config_path_or_model, *, seed=None, out=None)`` builds the world
(:func:`keel.runtime.build_world` on a :class:`keel.sim.ChainSim`), runs every block and returns
the summary dict that ``summary.json`` holds (written, with ``events.parquet`` and
``report.html``, into the folder ``out`` when given).

Run subscribers (``subscribers=[...]``, :class:`keel.engine.RunSubscriber`) read every typed
pipeline event, one :class:`keel.engine.BlockSnapshot` per block (with that block's events) and the
final summary.  A :class:`keel.engine.RunControl` stops (status ``"killed"``) or pauses the agents
at block boundaries.

Checkpoints: :meth:`Simulation.checkpoint` pickles the whole world between two blocks (every
callback in it is a bound method or a small class); :meth:`Simulation.restore` continues it, and
the resumed run's summary equals the uninterrupted run's byte for byte (tested).  Subscribers and
the control are not part of a checkpoint: pass them again to ``restore``.
"""

from __future__ import annotations

import copyreg
import math
import pickle
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from keel.engine import Engine, RunControl
from keel.errors import ConfigError
from keel.runtime.recording import Fanout as _Fanout
from keel.runtime.world import World, build_world
from keel.sim.chain import GWEI, ChainParams, ChainSim
from keel.sim.config import ScenarioConfig, load_config, parse_utc
from keel.sim.scenario import SimResult

__all__ = ["CHECKPOINT_VERSION", "Simulation", "run_scenario", "run_simulation", "sim_environment", "summarize"]

CHECKPOINT_VERSION = 1


def _mappingproxy(data: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(data)


def _pickle_mappingproxy(proxy: types.MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _mappingproxy, (dict(proxy),)


# Frozen configs (keel.oracle.AggregatorConfig, keel.risk.MarketState) hold read-only mapping proxies.
copyreg.pickle(types.MappingProxyType, _pickle_mappingproxy)  # type: ignore[arg-type]


def sim_environment(config: ScenarioConfig, engine: Engine) -> ChainSim:
    """The simulated chain for ``config`` (no venues yet: the pools builder opens them)."""
    c = config.chain
    params = ChainParams(
        block_time_ns=int(c.block_time_s * 1_000_000_000),
        gas_limit=c.gas_limit,
        base_fee_wei=int(c.base_fee_gwei * GWEI),
        latency_ns=c.latency_ms * 1_000_000,
        background_utilization=c.background_utilization,
    )
    return ChainSim(engine, params, {})


class Simulation:
    """A simulated run that advances block by block (:meth:`step`), can be checkpointed between blocks
    and finishes into the summary dict.  ``config``: a :class:`ScenarioConfig` or a TOML path."""

    def __init__(
        self,
        config: ScenarioConfig | str | Path,
        *,
        root: Path | None = None,
        seed: int | None = None,
        subscribers: Iterable[Any] = (),
        control: RunControl | None = None,
    ) -> None:
        model = load_config(Path(config)) if isinstance(config, str | Path) else config
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ConfigError("seed", seed, "must be an int >= 0")
            model = model.model_copy(update={"seed": seed})
        start = parse_utc(model.market.start)
        engine = Engine(seed=model.seed, start_ns=start)
        environment = sim_environment(model, engine)
        self.world: World = build_world(model, environment, root=root if root is not None else Path("."))
        self.blocks_done = 0
        self.status = "running"
        self._summary: dict[str, Any] | None = None
        w = self.world
        environment.start(w.start_ns + w.block_ns, w.start_ns + w.n_blocks * w.block_ns)
        engine.start()
        self._fanout: _Fanout | None = None
        self._attach(list(subscribers), control)

    # -- subscribers and control ---------------------------------------------------------------
    def _attach(self, subscribers: list[Any], control: RunControl | None) -> None:
        engine = self.world.engine
        self.subscribers = subscribers
        self.control = control
        engine.control = control
        if subscribers:
            self._fanout = _Fanout(subscribers)
            engine.bus.tap(self._fanout)

    def _detach(self) -> tuple[list[Any], RunControl | None, _Fanout | None]:
        engine = self.world.engine
        held = (self.subscribers, self.control, self._fanout)
        if self._fanout is not None:
            engine.bus.untap(self._fanout)
        engine.control = None
        self.subscribers, self.control, self._fanout = [], None, None
        return held

    # -- stepping ------------------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return self.world.n_blocks

    @property
    def finished(self) -> bool:
        return self.status != "running" or self.blocks_done >= self.world.n_blocks

    def step(self, n: int = 1) -> int:
        """Run up to ``n`` more blocks (fewer at the end or when the control stops the run); returns blocks done."""
        w = self.world
        engine = w.engine
        for _ in range(n):
            if self.blocks_done >= w.n_blocks:
                break
            if self.control is not None and self.control.stopped:
                self.status = "killed"
                break
            self.blocks_done += 1
            engine.run_until(w.start_ns + self.blocks_done * w.block_ns)
        return self.blocks_done

    def run(self, progress: Callable[[int, int], None] | None = None, every: int = 50) -> dict[str, Any]:
        """Run to the end (or until stopped); returns the summary.  ``progress(done, total)`` every ``every`` blocks."""
        while not self.finished:
            self.step(every)
            if progress is not None:
                progress(self.blocks_done, self.world.n_blocks)
        return self.finish()

    def finish(self) -> dict[str, Any]:
        """End the run (actors' ``on_stop``) and return the summary (idempotent)."""
        if self._summary is not None:
            return self._summary
        if self.status == "running" and self.control is not None and self.control.stopped:
            self.status = "killed"
        if self.status == "running":
            self.status = "completed"
        self.world.engine.stop()
        self._summary = summarize(self.world, self.blocks_done, self.status)
        for sub in self.subscribers:
            on_end = getattr(sub, "on_end", None)
            if on_end is not None:
                on_end(self._summary)
        return self._summary

    @property
    def summary(self) -> dict[str, Any]:
        return self.finish()

    def result(self) -> SimResult:
        """The summary, event log and per-block series (for ``keel.sim.write_outputs``)."""
        summary = self.finish()
        w = self.world
        assert w.accountant is not None and w.path is not None
        rows = w.accountant.rows
        series = {k: np.asarray(v, dtype=np.float64 if k != "ts_ns" else np.int64) for k, v in rows.items()}
        frame = w.engine.recorder.to_frame()
        fills = frame.filter(frame["kind"] == "hedge_fill")
        hedge_fills = [
            (int(t), float(q), float(p))
            for t, q, p in zip(
                fills["ts_ns"].to_list(), fills["quantity"].to_list(), fills["price"].to_list(), strict=True
            )
        ]
        return SimResult(summary, w.engine.recorder, series, w.path, hedge_fills)

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        """The whole world between two blocks, as bytes (subscribers and control left out)."""
        if self._summary is not None:
            raise ConfigError("checkpoint", self.blocks_done, "the run has finished")
        held = self._detach()
        try:
            return pickle.dumps(
                (CHECKPOINT_VERSION, self.world, self.blocks_done, self.status), protocol=pickle.HIGHEST_PROTOCOL
            )
        finally:
            self._attach(held[0], held[1])

    @classmethod
    def restore(
        cls,
        data: bytes,
        *,
        subscribers: Iterable[Any] = (),
        control: RunControl | None = None,
        root: Path | None = None,
    ) -> Simulation:
        """Continue a run from :meth:`checkpoint` bytes (only load checkpoints you wrote: this unpickles).

        ``root``: the config's root, searched for user strategy modules (``[[agents]]``) that are not
        importable otherwise, as when the run was built."""
        added = str(root.resolve()) if root is not None else None
        if added is not None:
            sys.path.insert(0, added)
        try:
            version, world, blocks_done, status = pickle.loads(data)
        except ModuleNotFoundError as exc:
            problem = f"needs module {exc.name!r} (a user strategy?): pass the config's root"
            raise ConfigError("checkpoint", len(data), problem) from None
        except Exception as exc:
            raise ConfigError("checkpoint", len(data), f"not a Keel checkpoint: {type(exc).__name__}") from None
        finally:
            if added is not None:
                sys.path.remove(added)
        if version != CHECKPOINT_VERSION:
            raise ConfigError(
                "checkpoint", version, f"written by another version (this one reads {CHECKPOINT_VERSION})"
            )
        sim = cls.__new__(cls)
        sim.world = world
        sim.blocks_done = blocks_done
        sim.status = status
        sim._summary = None
        sim._fanout = None
        sim._attach(list(subscribers), control)
        return sim


def run_simulation(
    config_path_or_model: ScenarioConfig | str | Path,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    subscribers: Iterable[Any] = (),
    control: RunControl | None = None,
    root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run a scenario to the end and return its summary (what ``summary.json`` holds).

    ``out``: a folder to write ``summary.json``, ``events.parquet`` and ``report.html`` into.
    ``root``: where relative data paths in the config are resolved (default: the working directory)."""
    sim = Simulation(config_path_or_model, root=root, seed=seed, subscribers=subscribers, control=control)
    summary = sim.run(progress)
    if out is not None:
        from keel.sim.report import write_outputs

        write_outputs(sim.result(), Path(out), sim.world.config.description)
    return summary


def run_scenario(
    config: ScenarioConfig, root: Path = Path("."), progress: Callable[[int, int], None] | None = None
) -> SimResult:
    """Run ``config`` to the end and return everything it produced (summary, event log, series)."""
    sim = Simulation(config, root=root)
    sim.run(progress)
    return sim.result()


def _r(x: float, nd: int = 2) -> float | None:
    return None if not math.isfinite(x) else round(float(x), nd)


def ledger_imbalance(world: World) -> int:
    """Base units by which the money does not add up: the perp venue's clearing-house ledger
    imbalance, plus the desk's book against the chain's account of the same holder (every token
    the desk holds on chain; 0 when every receipt was booked exactly)."""
    book, hedger = world.book, world.hedger
    env = world.environment
    total = world.perp.ledger_imbalance() if world.perp is not None else 0
    if book is not None:
        total += book.ledger_imbalance()
    if book is None or hedger is None or hedger.name not in world.funded:
        return total
    for token, held in ((book.cash_token.symbol, book.cash), (book.asset_token.symbol, book.asset)):
        total += abs(held - env.balance(hedger.name, token))
    return total


def summarize(world: World, blocks_done: int, status: str) -> dict[str, Any]:
    """The run's summary dict (canonical JSON in ``summary.json``)."""
    config = world.config
    acc = world.accountant
    assert acc is not None and world.oracle is not None and world.path is not None
    chain = world.environment
    stats = chain.stats
    r = _r
    ref = np.asarray(acc.rows["ref"], dtype=np.float64)
    s0 = world.s0
    pnl_total = acc.rows["pnl"][-1] if acc.rows["pnl"] else 0.0
    risk_events = dict(sorted(world.risk.event_counts.items())) if world.risk is not None else {}
    skipped: dict[str, int] = {}
    for name in sorted(world.agents):
        count = getattr(world.agents[name], "halted_skips", 0)
        if count:
            skipped[name] = int(count)
    for liquidator in world.liquidators:
        if liquidator.frozen_blocks:
            skipped[liquidator.name] = liquidator.frozen_blocks
    summary: dict[str, Any] = {
        "name": config.name,
        "seed": config.seed,
        "status": status,
        "market": {
            "kind": config.market.kind,
            "source": world.path.source,
            "asset": config.market.asset,
            "start_utc": config.market.start,
            "hours": config.market.hours,
            "price_start": r(float(ref[0]) if len(ref) else s0),
            "price_end": r(float(ref[-1]) if len(ref) else s0),
            "price_min": r(float(ref.min()) if len(ref) else s0),
            "price_max": r(float(ref.max()) if len(ref) else s0),
        },
        "blocks": int(blocks_done),
        "block_time_s": config.chain.block_time_s,
        "pnl": {"total": r(pnl_total), **{k: r(v) for k, v in acc.parts.items()}},
        "start_equity_usd": r(acc.start_equity),
        "end_equity_usd": r(acc.rows["equity"][-1] if acc.rows["equity"] else acc.start_equity),
        "max_drawdown_usd": r(acc.max_drawdown),
        "min_margin_ratio": r(acc.min_margin_ratio, 4),
        "liquidations": len(world.perp.liquidations) if world.perp is not None else 0,
        "chain": {
            "transactions": stats.txs,
            "reverts": stats.reverts,
            "sandwiches": stats.sandwiches,
            "arbitrages": stats.arbitrages,
            "base_fee_gwei_mean": r(float(np.mean(stats.base_fees)) / GWEI if stats.base_fees else 0.0, 4),
            "base_fee_gwei_max": r(float(np.max(stats.base_fees)) / GWEI if stats.base_fees else 0.0, 4),
            "gas_fees_eth": r(stats.gas_fees_wei / 1e18, 6),
        },
        "events": len(world.engine.recorder),
        "risk_events": risk_events,
        "oracle_halted_blocks": world.oracle.halted_blocks,
        "decisions_skipped_on_halted_oracle": skipped,
        "ledger_imbalance": ledger_imbalance(world),
    }
    book = world.book
    if book is not None:
        summary["desk"] = {
            "hedge_trades": book.hedge_trades,
            "option_trades": book.option_trades,
            "final_asset_units": r(book.asset_units(), 6),
            "final_cash_units": r(book.cash_units(), 2),
            "open_legs": sorted(book.options),
            "gas_usd": r(book.gas_usd),
            "mev_loss_usd": r(book.mev_loss_usd),
            "hedging_slippage_usd": r(book.slippage_usd),
        }
    if world.surface_info is not None:
        summary["options_surface"] = world.surface_info
    hedger = world.hedger
    if hedger is not None:
        summary["hedge_policy"] = hedger.cfg.policy.value
        summary["hedge_mode"] = hedger.cfg.mode
        if hedger.cfg.mode == "intents":
            summary["hedge_intents"] = hedger.intent_stats.as_dict()
    pm, mm = world.portfolio_manager, world.market_maker
    if pm is not None:
        summary["portfolio_manager"] = {"strategy": pm.strategy, "opened": pm.opened, "rolls": pm.rolls}
    if mm is not None:
        summary["market_maker"] = {"fills": mm.fills, "edge_usd": r(mm.edge_usd)}
    custom = {}
    for name in sorted(world.agents):
        agent = world.agents[name]
        if agent is hedger or agent is pm or agent is mm:
            continue
        report = getattr(agent, "summary", None)
        custom[name] = report() if callable(report) else {}
    if custom:
        summary["agents"] = custom
    arbs, bots = world.arbitrageurs, world.sandwich_bots
    if arbs:
        summary["arbitrageur"] = {
            "count": sum(a.stats.count for a in arbs),
            "profit_usd": r(sum(a.stats.profit_usd for a in arbs)),
        }
    if bots:
        summary["sandwich_bots"] = {
            "attacks": sum(b.stats.count for b in bots),
            "profit_usd": r(sum(b.stats.profit_usd for b in bots)),
            "victim_loss_usd": r(sum(b.stats.victim_loss_usd for b in bots)),
        }
    perp = world.perp
    if perp is not None:
        liq = perp.liquidations
        summary["perp"] = {
            "accounts": len(perp.owners),
            "liquidations": len(liq),
            "liquidated_notional_usd": r(sum(abs(x.size) * x.price for x in liq)),
            "desk_liquidated": any(x.owner == "desk" for x in liq),
            "bad_debt_usd": r(perp.bad_debt),
            "insurance_fund_start_usd": r(perp.insurance_start),
            "insurance_fund_end_usd": r(perp.insurance_fund),
            "funding_paid_by_longs_usd": r(world.crowd.longs_paid if world.crowd is not None else 0.0),
            "liquidator_fees_usd": r(sum(x.fee_usd for x in liq)),
            "liquidation_rule": (
                "keel.risk health_scan decides at the favourable oracle band edge (frozen on a halted oracle); "
                "close-outs by keel.risk LiquidationPolicy in the clearing house "
                "(partial, Dutch auction, ADL, insurance)"
            ),
            "liquidator_frozen_blocks": sum(x.frozen_blocks for x in world.liquidators),
        }
    return summary
