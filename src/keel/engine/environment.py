"""What an agent's world offers, the same in simulation and live: the environment protocol.

``keel.sim.ChainSim`` implements it over simulated blocks; the live EVM environment in
``keel.chain`` implements it over a node.  ``keel.runtime.build_world(config, environment)``
builds the same agents on either.  Amounts are ints in base units; times int ns UTC.

- block clock: ``block_number`` (the last produced block), ``now_ns``, ``block_time_ns``;
- ``submit(tx)``: hand a :class:`keel.engine.Tx` to the chain; returns its id.  Whoever carries it
  out publishes a ``TxSubmitted`` on ``TRANSACTIONS`` now and a :class:`keel.engine.Receipt` on
  ``RECEIPTS`` when a block includes it;
- ``balance(holder, token)``: a holder's balance of a token symbol (base units);
- ``venues``: name -> venue object (exact keel.venues state: the simulator's own pools, or pools
  synced from the chain); ``pool_state(name)``: a ``keel.domain.PoolState`` snapshot of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from keel.domain import PoolState
from keel.engine.transactions import Tx

__all__ = ["Environment"]


@runtime_checkable
class Environment(Protocol):
    @property
    def block_number(self) -> int: ...

    @property
    def now_ns(self) -> int: ...

    @property
    def block_time_ns(self) -> int: ...

    @property
    def venues(self) -> Mapping[str, Any]: ...

    def submit(self, tx: Tx) -> int: ...

    def balance(self, holder: str, token: str) -> int: ...

    def pool_state(self, venue: str) -> PoolState: ...
