"""The block pipeline's vocabulary, shared by every layer: stages, topics, blocks and pipeline events.

Keel runs each block as a fixed sequence of stages (:class:`Stage`): market data, oracle,
risk, agents, execution, reporting.  An actor declares its stage; the engine
(:mod:`keel.engine`, layer 3) calls the actors of a block stage by stage, so the order does
not depend on registration.  The vocabulary lives here, in layer 0, so that layer-2 actors
(``keel.oracle.OracleActor``, ``keel.risk.RiskActor``) speak it without importing the engine:
they satisfy :class:`PipelineActor` structurally and publish through a :class:`PipelineContext`.

Messages travel on typed :class:`Topic` s.  The payloads defined here are the pipeline's own
(market data, skipped decisions, submitted transactions, fills, the per-block snapshot); the
oracle reading (``keel.oracle.OracleReading``), the risk events (the ``keel.risk.monitors.RiskEvent``
union) and the chain receipts (``keel.engine.Receipt``) are defined by their packages.
Amounts in base units are ints; timestamps int ns UTC; USD figures float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from types import UnionType
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "Block",
    "BlockSnapshot",
    "DecisionSkipped",
    "FillEvent",
    "IntentStated",
    "MarketData",
    "PipelineActor",
    "PipelineContext",
    "Stage",
    "Topic",
    "TxSubmitted",
]

T = TypeVar("T")


class Stage(IntEnum):
    """The stages of a block, in the order the engine runs them (lower first)."""

    MARKET_DATA = 0  # reference prices, funding, pool state after the block's transactions
    ORACLE = 1  # the oracle reads its sources and publishes one reading (status included)
    RISK = 2  # margin, Greeks and monitor events on this block's reading, before anyone acts
    AGENTS = 3  # strategies decide and submit actions
    EXECUTION = 4  # actions decided in this block are carried out or handed to the chain
    REPORTING = 5  # the accountant records; subscribers get the block's snapshot


@dataclass(frozen=True, slots=True)
class Topic(Generic[T]):
    """A named channel carrying messages of one type (checked on publish).

    ``type`` may be a class or a union of classes (``HedgeRequested | ReduceOnly``)."""

    name: str
    type: type[T] | UnionType

    def accepts(self, message: object) -> bool:
        return isinstance(message, self.type)


@dataclass(frozen=True, slots=True)
class Block:
    """A produced block: ``number``, its timestamp (int ns UTC), EIP-1559 base fee (wei per gas), gas used."""

    number: int
    ts_ns: int
    base_fee_wei: int
    gas_used: int = 0
    gas_limit: int = 30_000_000


@dataclass(frozen=True, slots=True)
class MarketData:
    """Stage MARKET_DATA: the reference price and each pool's mid price after the block (USD per asset unit)."""

    block_number: int
    ts_ns: int
    reference_price: float
    pool_prices: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionSkipped:
    """An agent did not take a decision it would otherwise have considered, and why.

    ``decision``: what was skipped (``"hedge"``, ``"open"``, ``"roll"``, ``"quote"``, ``"liquidate"``,
    ``"trade"``); ``cause``: a short machine-readable category (``"oracle_halted"``, ``"paused"``,
    ``"stopped"``); ``reason``: a human sentence (never parsed by anyone)."""

    ts_ns: int
    block_number: int
    agent: str
    decision: str
    cause: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class IntentStated:
    """An agent stated (or was refused) a hedge intent: trade ``quantity`` underlying units (+ buy).

    ``accepted`` False means the execution layer refused it; ``reason`` says why (a sentence)
    and ``cause`` is the category (``"max_cost"``, ``"min_out"``, ``"no_route"``, ...)."""

    ts_ns: int
    block_number: int
    agent: str
    order_id: str
    quantity: float
    net_delta: float
    accepted: bool
    cause: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TxSubmitted:
    """A transaction entered the environment (the simulated mempool, or a live chain's)."""

    ts_ns: int
    block_number: int
    tx_id: int
    sender: str
    tag: str
    token_in: str
    amount_in: int
    venues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FillEvent:
    """An agent booked an execution: ``quantity`` of ``instrument`` (+ bought) at ``price`` USD.

    ``kind``: ``"hedge"`` (on-chain swap, from a receipt), ``"option"`` (options venue), ``"liquidation"``."""

    ts_ns: int
    block_number: int
    agent: str
    kind: str
    instrument: str
    quantity: float
    price: float
    fee_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class BlockSnapshot:
    """The REPORTING stage's record of one block, delivered to run subscribers.

    ``positions``: (name, quantity) of the desk's book (option legs in contracts, the hedge asset
    and perp size in units); ``pnl``: cumulative attribution parts in USD plus ``"total"``;
    ``net_delta`` in underlying units; ``margin_ratio`` = equity / maintenance (NaN if unmeasured);
    ``health``: ``"ok"``, ``"reduce_only"``, ``"liquidatable"``, ``"frozen"`` or ``"n/a"``;
    ``oracle_status``: ``"ok"``, ``"degraded"``, ``"halted"``; ``events``: the block's typed
    pipeline events (intents, transactions, receipts, fills, skipped decisions, risk events);
    ``base_fee_gwei``: the block's EIP-1559 base fee; the option book's ``gamma`` (change of its delta, in
    underlying units, per 1 USD of the underlying), ``vega`` (USD per 1.0 of volatility) and ``theta`` (USD per
    calendar day, the value's change as a day passes), summed over its legs (0.0 without legs, NaN where a
    world has no options venue)."""

    block_number: int
    ts_ns: int
    positions: tuple[tuple[str, float], ...]
    pnl: dict[str, float]
    net_delta: float
    margin_ratio: float
    health: str
    oracle_price: float
    oracle_confidence: float
    oracle_status: str
    equity_usd: float = 0.0
    base_fee_gwei: float = math.nan
    gamma: float = math.nan
    vega: float = math.nan
    theta: float = math.nan
    events: tuple[Any, ...] = field(default=())  # last: keel.runtime.recording copies the others positionally


@runtime_checkable
class PipelineContext(Protocol):
    """What the engine gives an actor (``actor.ctx``): the clock, the bus, the environment, the log."""

    @property
    def now_ns(self) -> int: ...

    def publish(self, topic: Topic[Any], message: Any) -> None: ...

    def subscribe(self, topic: Topic[Any]) -> None: ...

    def submit(self, action: object) -> Any: ...

    def record(
        self,
        kind: str,
        instrument: str = "",
        quantity: float = ...,
        price: float = ...,
        value: float = ...,
        detail: str = "",
    ) -> None: ...


@runtime_checkable
class PipelineActor(Protocol):
    """What the engine runs: a name, a stage, and (optionally) the hooks of ``keel.engine.Actor``.

    ``ctx`` is assigned by the engine when the actor is added."""

    name: str
    stage: Stage

    def on_block(self, block: Block) -> None: ...
