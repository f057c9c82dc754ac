"""On-chain actions and their receipts: the vocabulary agents use in simulation and live.

An agent submits a :class:`Tx` carrying a :class:`SwapCall` or :class:`RouteCall`; whoever
carries it out (``keel.sim.ChainSim`` in simulation, the live adapter in ``keel.cli.live``)
publishes a :class:`Receipt` on :data:`RECEIPTS`.  Amounts are ints in base units; gas prices
in wei per gas.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.domain import Token
from keel.engine.bus import Topic
from keel.errors import ValidationError
from keel.execution import RoutePlan

__all__ = ["GWEI", "RECEIPTS", "Receipt", "RouteCall", "SwapCall", "Tx"]

GWEI = 10**9


@dataclass(frozen=True, slots=True)
class SwapCall:
    """Swap exactly ``amount_in`` of ``token_in`` on venue ``venue`` for at least ``min_amount_out``."""

    venue: str
    token_in: Token
    amount_in: int
    min_amount_out: int
    deadline_ns: int | None = None


@dataclass(frozen=True, slots=True)
class RouteCall:
    """Execute a :class:`keel.execution.RoutePlan` as a router contract would: each leg swaps its
    exact input along its path (outputs forwarded), and the whole call reverts unless the total
    output reaches ``min_amount_out``.  Amounts are re-computed on the state at execution."""

    plan: RoutePlan
    min_amount_out: int
    deadline_ns: int | None = None

    @property
    def token_in(self) -> Token:
        return self.plan.token_in

    @property
    def amount_in(self) -> int:
        return self.plan.amount_in

    @property
    def venues(self) -> tuple[str, ...]:
        return self.plan.venues_touched

    def as_single_swap(self) -> SwapCall | None:
        """The equivalent one-venue swap when the plan has a single one-hop leg (what a sandwich bot sees)."""
        legs = self.plan.legs
        if len(legs) == 1 and len(legs[0].venues) == 1 and not legs[0].exact_out:
            return SwapCall(legs[0].venues[0], self.token_in, self.amount_in, self.min_amount_out, self.deadline_ns)
        return None


@dataclass(frozen=True, slots=True)
class Tx:
    """A transaction: who sends it, what it calls, and the EIP-1559 fee caps (wei per gas)."""

    sender: str
    call: SwapCall | RouteCall
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int = 300_000
    tag: str = ""

    def __post_init__(self) -> None:
        if self.max_priority_fee_per_gas < 0 or self.max_fee_per_gas < self.max_priority_fee_per_gas:
            raise ValidationError("max_fee_per_gas", self.max_fee_per_gas, "must be >= max_priority_fee_per_gas >= 0")
        if self.call.amount_in <= 0:
            raise ValidationError("amount_in", self.call.amount_in, "must be a positive int")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What happened to a transaction.  ``mev_loss`` is output lost to a sandwich (output-token base units)."""

    tx_id: int
    sender: str
    tag: str
    block_number: int
    ts_ns: int
    status: bool
    gas_used: int
    effective_gas_price: int
    amount_in: int
    amount_out: int
    token_in: str
    revert_reason: str = ""
    mev_loss: int = 0
    submitted_ns: int = 0

    @property
    def fee_wei(self) -> int:
        return self.gas_used * self.effective_gas_price


RECEIPTS: Topic[Receipt] = Topic("receipt", Receipt)
