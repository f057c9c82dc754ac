"""A block-by-block chain: mempool ordered by priority fee, latency, EIP-1559 base fee, gas, reverts.

Each block at ``block_time_ns``:
1. the base fee is the EIP-1559 update of the parent's (exact integer formula of the spec);
2. searchers with top-of-block access (arbitrageurs) act first;
3. pending transactions visible by the block time (submitted + latency) whose max fee covers
   the base fee are ordered by effective priority fee (highest first, then arrival), and
   executed until the gas limit; sandwich bots may wrap a swap they can profitably attack;
4. calls revert on a passed deadline ("Transaction too old") or when the output is below
   the minimum ("Too little received"), as Uniswap's routers do; a reverted call still pays gas;
5. the block's gas used = background demand (seeded) + the simulated transactions;
6. receipts are published on :data:`RECEIPTS` and the block on ``Engine.publish_block`` (which
   runs the block pipeline, stage by stage).

``ChainSim`` is the simulated :class:`keel.engine.Environment`: block clock, ``submit(tx)``
(a ``TxSubmitted`` event on ``TRANSACTIONS``), receipts, ``balance(holder, token)`` for holders
funded with :meth:`ChainSim.fund` (moved by their receipts, exact ints; gas in ``ETH`` wei) and
``pool_state(name)``.

Amounts are Python ints in base units; gas prices in wei per gas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from keel.domain import PoolState
from keel.engine import TRANSACTIONS, Block, Engine, Priority, TxSubmitted
from keel.engine.transactions import GWEI, RECEIPTS, Receipt, RouteCall, SwapCall, Tx
from keel.errors import ValidationError
from keel.venues.base import Revert, Venue

__all__ = [
    "GWEI",
    "RECEIPTS",
    "ChainParams",
    "ChainSim",
    "Receipt",
    "RouteCall",
    "Searcher",
    "SwapCall",
    "Tx",
    "next_base_fee",
]

REVERT_GAS = 45_000  # gas a reverted router swap burns (checks and the failed call)
DEFAULT_SWAP_GAS = 130_000  # router + pool swap without tick crossings, when the venue does not say


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Chain constants.  ``latency_ns`` is how long a transaction takes to reach the builders."""

    block_time_ns: int = 12 * 10**9
    gas_limit: int = 30_000_000
    elasticity: int = 2
    base_fee_wei: int = 20 * GWEI
    latency_ns: int = 1 * 10**9
    background_utilization: float = 0.5  # mean share of the gas limit used by everyone else
    background_noise: float = 0.12  # its standard deviation per block

    def __post_init__(self) -> None:
        if self.block_time_ns <= 0:
            raise ValidationError("block_time_ns", self.block_time_ns, "must be positive")
        if self.gas_limit <= 0 or self.elasticity < 1:
            raise ValidationError("gas_limit", self.gas_limit, "gas limit and elasticity must be positive")
        if self.base_fee_wei <= 0:
            raise ValidationError("base_fee_wei", self.base_fee_wei, "must be positive")
        if self.latency_ns < 0:
            raise ValidationError("latency_ns", self.latency_ns, "must be non-negative")
        if not 0.0 <= self.background_utilization <= 1.0:
            raise ValidationError("background_utilization", self.background_utilization, "must be in [0, 1]")


def next_base_fee(parent_base_fee: int, parent_gas_used: int, gas_limit: int, elasticity: int = 2) -> int:
    """EIP-1559: the child's base fee from the parent's base fee and gas used (exact integers)."""
    target = gas_limit // elasticity
    if parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        delta = max(parent_base_fee * (parent_gas_used - target) // target // 8, 1)
        return parent_base_fee + delta
    delta = parent_base_fee * (target - parent_gas_used) // target // 8
    return parent_base_fee - delta


class Searcher(Protocol):
    """A block participant with privileged ordering (arbitrageur, sandwich bot)."""

    name: str


@dataclass(slots=True)
class _Pending:
    tx_id: int
    tx: Tx
    submitted_ns: int
    visible_ns: int


@dataclass(slots=True)
class ChainStats:
    blocks: int = 0
    txs: int = 0
    reverts: int = 0
    sandwiches: int = 0
    arbitrages: int = 0
    gas_fees_wei: int = 0
    base_fees: list[int] = field(default_factory=list)


class ChainSim:
    """The simulated chain.  Attach with ``ChainSim(engine, params, venues)``; call :meth:`start`."""

    def __init__(self, engine: Engine, params: ChainParams, venues: dict[str, Venue]) -> None:
        self.engine = engine
        self.params = params
        self.venues = venues
        self.base_fee = params.base_fee_wei
        self.number = 0
        self._next_id = 0
        self._pending: list[_Pending] = []
        self._rng: np.random.Generator = engine.stream("chain:background")
        self.top_of_block: list[TopOfBlock] = []
        self.attackers: list[Attacker] = []
        self.stats = ChainStats()
        self._balances: dict[str, dict[str, int]] = {}  # funded holders only: holder -> token -> base units
        self._last_block_ns = 0
        engine.on_action(Tx, self._submit)

    # -- the Environment protocol ------------------------------------------------------------
    @property
    def block_number(self) -> int:
        """The last produced block (0 before the first)."""
        return self.number

    @property
    def now_ns(self) -> int:
        return self.engine.clock.now_ns

    @property
    def block_time_ns(self) -> int:
        return self.params.block_time_ns

    def submit(self, tx: Tx) -> int:
        """Put ``tx`` in the mempool (as its sender); returns the transaction id its receipt will carry."""
        return self._submit(tx.sender, tx)

    def fund(self, holder: str, token: str, amount: int) -> None:
        """Credit ``holder`` with ``amount`` base units of ``token``; its receipts then move its balances."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError("amount", amount, "must be an int in base units")
        book = self._balances.setdefault(holder, {})
        book[token] = book.get(token, 0) + amount

    def balance(self, holder: str, token: str) -> int:
        """``holder``'s balance of ``token`` (base units; ``ETH`` in wei after gas), for funded holders."""
        book = self._balances.get(holder)
        if book is None:
            raise ValidationError("holder", holder, "has no account on this chain (fund it first)")
        return book.get(token, 0)

    def pool_state(self, venue: str) -> PoolState:
        if venue not in self.venues:
            raise ValidationError("venue", venue, "no such venue on this chain")
        state: PoolState = self.venues[venue].to_state()  # type: ignore[attr-defined]
        return state

    def _settle(self, receipt: Receipt, tx: Tx) -> None:
        book = self._balances.get(receipt.sender)
        if book is None:
            return
        book["ETH"] = book.get("ETH", 0) - receipt.fee_wei
        if not receipt.status:
            return
        call = tx.call
        if isinstance(call, RouteCall):
            token_out = call.plan.token_out.symbol
        else:
            venue = self.venues[call.venue]
            token0, token1 = venue.token0, venue.token1  # type: ignore[attr-defined]
            token_out = (token1 if call.token_in == token0 else token0).symbol
        book[receipt.token_in] = book.get(receipt.token_in, 0) - receipt.amount_in
        book[token_out] = book.get(token_out, 0) + receipt.amount_out

    # -- submission ----------------------------------------------------------------------------
    def _submit(self, sender: str, tx: Tx) -> int:
        if tx.sender != sender:
            raise ValidationError("sender", tx.sender, f"does not match the submitting actor {sender!r}")
        names = tx.call.venues if isinstance(tx.call, RouteCall) else (tx.call.venue,)
        for name in names:
            if name not in self.venues:
                raise ValidationError("venue", name, "no such venue on this chain")
        now = self.engine.clock.now_ns
        tx_id = self._next_id
        self._next_id += 1
        self._pending.append(_Pending(tx_id, tx, now, now + self.params.latency_ns))
        event = TxSubmitted(
            now, self.number, tx_id, tx.sender, tx.tag, tx.call.token_in.symbol, tx.call.amount_in, tuple(names)
        )
        self.engine.bus.publish(TRANSACTIONS, event)
        return tx_id

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self, first_block_ns: int, last_block_ns: int) -> None:
        """Produce blocks every ``block_time_ns`` from ``first_block_ns`` through ``last_block_ns``."""
        self._last_block_ns = last_block_ns
        self.engine.schedule(first_block_ns, self._produce_next, first_block_ns, Priority.SYSTEM)

    def _produce_next(self, ts: int) -> None:
        self._produce(ts)
        step = self.params.block_time_ns
        if ts + step <= self._last_block_ns:
            self.engine.schedule(ts + step, self._produce_next, ts + step, Priority.SYSTEM)

    # -- execution -----------------------------------------------------------------------------
    def effective_tip(self, tx: Tx) -> int:
        return min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - self.base_fee)

    def execute_swap(self, tx_id: int, tx: Tx, ts_ns: int, submitted_ns: int, allow_attack: bool = True) -> Receipt:
        """Run one swap transaction now (inside the block being built) and return its receipt."""
        call = tx.call
        gas_price = self.base_fee + self.effective_tip(tx)
        if isinstance(call, RouteCall):
            return self._execute_route(tx_id, tx, call, ts_ns, gas_price, submitted_ns, allow_attack)
        venue = self.venues[call.venue]
        mev_loss = 0
        back_run: Callable[[], None] | None = None
        if call.deadline_ns is not None and ts_ns > call.deadline_ns:
            return self._reverted(tx_id, tx, ts_ns, gas_price, "Transaction too old", submitted_ns)
        if allow_attack:
            for attacker in self.attackers:
                attack = attacker.attack(self, tx, ts_ns)
                if attack is not None:
                    mev_loss, back_run = attack
                    self.stats.sandwiches += 1
                    break
        try:
            quote = venue.quote_exact_in(call.token_in, call.amount_in)
        except Revert as exc:
            if back_run is not None:
                back_run()
            return self._reverted(tx_id, tx, ts_ns, gas_price, exc.reason, submitted_ns)
        if quote.amount_out < call.min_amount_out:
            if back_run is not None:
                back_run()
            return self._reverted(tx_id, tx, ts_ns, gas_price, "Too little received", submitted_ns, mev_loss)
        done = venue.swap_exact_in(call.token_in, call.amount_in)
        if back_run is not None:
            back_run()
        gas_used = min(tx.gas_limit, done.gas_units or DEFAULT_SWAP_GAS)
        self.stats.txs += 1
        self.stats.gas_fees_wei += gas_used * gas_price
        return Receipt(
            tx_id,
            tx.sender,
            tx.tag,
            self.number,
            ts_ns,
            True,
            gas_used,
            gas_price,
            done.amount_in,
            done.amount_out,
            call.token_in.symbol,
            mev_loss=mev_loss,
            submitted_ns=submitted_ns,
        )

    def _run_route(self, call: RouteCall, commit: bool) -> tuple[int, int]:
        """(output, gas units) of the route on the current state; on copies unless ``commit``."""
        table: dict[str, Venue] = {}
        for name in call.venues:
            table[name] = self.venues[name] if commit else self.venues[name].copy()
        total_out = gas = 0
        for leg in call.plan.legs:
            amount = leg.amount_in
            for name, token in zip(leg.venues, leg.tokens, strict=False):
                done = table[name].swap_exact_in(token, amount)
                amount = done.amount_out
                gas += done.gas_units
            if leg.token_out == call.plan.token_out:
                total_out += amount
        return total_out, gas

    def _execute_route(
        self, tx_id: int, tx: Tx, call: RouteCall, ts_ns: int, gas_price: int, submitted_ns: int, allow_attack: bool
    ) -> Receipt:
        if call.deadline_ns is not None and ts_ns > call.deadline_ns:
            return self._reverted(tx_id, tx, ts_ns, gas_price, "Transaction too old", submitted_ns)
        mev_loss = 0
        back_run: Callable[[], None] | None = None
        single = call.as_single_swap()
        if allow_attack and single is not None:
            proxy = Tx(tx.sender, single, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.gas_limit, tx.tag)
            for attacker in self.attackers:
                attack = attacker.attack(self, proxy, ts_ns)
                if attack is not None:
                    mev_loss, back_run = attack
                    self.stats.sandwiches += 1
                    break
        elif allow_attack and self.attackers and _splittable(call):
            mev_loss, back_run = self._attack_legs(tx, call, ts_ns)
        try:
            out, _ = self._run_route(call, commit=False)
        except Revert as exc:
            if back_run is not None:
                back_run()
            return self._reverted(tx_id, tx, ts_ns, gas_price, exc.reason, submitted_ns)
        if out < call.min_amount_out:
            if back_run is not None:
                back_run()
            return self._reverted(tx_id, tx, ts_ns, gas_price, "Too little received", submitted_ns, mev_loss)
        out, gas_units = self._run_route(call, commit=True)
        if back_run is not None:
            back_run()
        gas_used = min(tx.gas_limit, gas_units or DEFAULT_SWAP_GAS)
        self.stats.txs += 1
        self.stats.gas_fees_wei += gas_used * gas_price
        return Receipt(
            tx_id,
            tx.sender,
            tx.tag,
            self.number,
            ts_ns,
            True,
            gas_used,
            gas_price,
            call.amount_in,
            out,
            call.token_in.symbol,
            mev_loss=mev_loss,
            submitted_ns=submitted_ns,
        )

    def _attack_legs(self, tx: Tx, call: RouteCall, ts_ns: int) -> tuple[int, Callable[[], None] | None]:
        """Sandwich the legs of a split route, one venue at a time, while the route's total output
        stays at or above its minimum.

        Leg by leg (in the plan's order), a leg is offered to the attackers as a one-venue swap
        whose minimum is its current output less the route's remaining slack (total output on the
        current state minus ``min_amount_out``); an attacker front-runs it only if that is
        profitable after gas (as for a single swap).  Front-runs happen at once, back-runs after
        the victim.  Returns (the victim's output lost, in output-token base units; the back-runs).
        """
        mev_loss = 0
        back_runs: list[Callable[[], None]] = []
        for leg in call.plan.legs:
            try:
                total, _ = self._run_route(call, commit=False)
            except Revert:
                break
            slack = total - call.min_amount_out
            if slack <= 0:
                break
            venue = self.venues[leg.venues[0]]
            try:
                leg_out = venue.quote_exact_in(leg.token_in, leg.amount_in).amount_out
            except Revert:
                continue
            leg_min = max(leg_out - slack, 0)
            proxy_call = SwapCall(str(leg.venues[0]), leg.token_in, leg.amount_in, leg_min, call.deadline_ns)
            proxy = Tx(tx.sender, proxy_call, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.gas_limit, tx.tag)
            for attacker in self.attackers:
                attack = attacker.attack(self, proxy, ts_ns)
                if attack is not None:
                    mev_loss += attack[0]
                    back_runs.append(attack[1])
                    self.stats.sandwiches += 1
                    break
        if not back_runs:
            return 0, None

        def back_run_all() -> None:
            for run in back_runs:
                run()

        return mev_loss, back_run_all

    def _reverted(
        self, tx_id: int, tx: Tx, ts_ns: int, gas_price: int, reason: str, submitted_ns: int, mev_loss: int = 0
    ) -> Receipt:
        gas = min(tx.gas_limit, REVERT_GAS)
        self.stats.txs += 1
        self.stats.reverts += 1
        self.stats.gas_fees_wei += gas * gas_price
        return Receipt(
            tx_id,
            tx.sender,
            tx.tag,
            self.number,
            ts_ns,
            False,
            gas,
            gas_price,
            tx.call.amount_in,
            0,
            tx.call.token_in.symbol,
            revert_reason=reason,
            mev_loss=mev_loss,
            submitted_ns=submitted_ns,
        )

    def _produce(self, ts: int) -> None:
        engine = self.engine
        params = self.params
        self.number += 1
        gas_used = 0
        receipts: list[tuple[Receipt, Tx]] = []
        for searcher in self.top_of_block:
            gas_used += searcher.top_of_block(self, ts)
        base = self.base_fee
        ready = [p for p in self._pending if p.visible_ns <= ts and p.tx.max_fee_per_gas >= base]
        ready.sort(key=lambda p: (-self.effective_tip(p.tx), p.tx_id))
        included: set[int] = set()
        room = params.gas_limit // params.elasticity  # our share: the rest is background demand
        for p in ready:
            if gas_used + p.tx.gas_limit > room:
                continue
            receipt = self.execute_swap(p.tx_id, p.tx, ts, p.submitted_ns)
            gas_used += receipt.gas_used
            included.add(p.tx_id)
            receipts.append((receipt, p.tx))
        if included:
            self._pending = [p for p in self._pending if p.tx_id not in included]
        utilization = params.background_utilization + params.background_noise * float(self._rng.standard_normal())
        # demand falls as the base fee rises above its starting level (keeps the fee market stationary)
        utilization -= 0.05 * float(np.log(base / params.base_fee_wei))
        background = int(min(max(utilization, 0.0), 1.0) * (params.gas_limit - gas_used))
        total_used = min(params.gas_limit, gas_used + background)
        self.stats.blocks += 1
        self.stats.base_fees.append(base)
        self.base_fee = next_base_fee(base, total_used, params.gas_limit, params.elasticity)
        for receipt, tx in receipts:
            if self._balances:
                self._settle(receipt, tx)
            if not receipt.status:
                engine.recorder.record(ts, "chain", "revert", receipt.tag, detail=receipt.revert_reason)
            engine.bus.publish(RECEIPTS, receipt)
        engine.publish_block(Block(self.number, ts, base, total_used, params.gas_limit))


def _splittable(call: RouteCall) -> bool:
    """A route a sandwich bot can attack leg by leg: several one-hop exact-input legs from the
    route's input to its output, each on its own venue (so attacking one does not move another)."""
    legs = call.plan.legs
    if len(legs) < 2:
        return False
    names = [str(leg.venues[0]) for leg in legs]
    return len(set(names)) == len(names) and all(
        len(leg.venues) == 1
        and not leg.exact_out
        and leg.token_in == call.plan.token_in
        and leg.token_out == call.plan.token_out
        for leg in legs
    )


class TopOfBlock(Protocol):
    """Acts first in every block (an arbitrageur); returns the gas it used."""

    def top_of_block(self, chain: ChainSim, ts_ns: int) -> int: ...


class Attacker(Protocol):
    """May wrap a pending swap (a sandwich): front-runs now and returns (victim's output lost, back-run), or None."""

    def attack(self, chain: ChainSim, victim: Tx, ts_ns: int) -> tuple[int, Callable[[], None]] | None: ...
