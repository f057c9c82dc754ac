"""Gas limits and EIP-1559 fees.

Gas is estimated against the **pending** block and padded by a safety margin.  At
``latest``, Hardhat under-estimates a Uniswap v3 swap: the pool's oracle observation is
written only in the first swap of a block, and estimating against the already-mined block
skips that write, so the estimate is short and the swap reverts out of gas.  Against
``pending`` the simulated block is a fresh one and the write is counted.

Fees: ``maxFeePerGas = base_fee_multiplier * baseFee(pending) + tip``, ``maxPriorityFeePerGas = tip``;
a replacement (speed-up or cancel) raises both by at least ``replacement_bump_bps`` (nodes
require +10%; the default is +12.5%).  All values are ints in wei or gas units.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.errors import ValidationError

__all__ = ["FeeQuote", "GasPolicy"]


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """EIP-1559 fee caps in wei per gas."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def __post_init__(self) -> None:
        if self.max_priority_fee_per_gas < 0:
            raise ValidationError("max_priority_fee_per_gas", self.max_priority_fee_per_gas, "must be >= 0")
        if self.max_fee_per_gas < self.max_priority_fee_per_gas:
            raise ValidationError("max_fee_per_gas", self.max_fee_per_gas, "is below the priority fee")


@dataclass(frozen=True, slots=True)
class GasPolicy:
    """How gas limits and fees are chosen.

    ``margin_bps``: safety margin added to the pending-block estimate (2000 = +20%).
    ``base_fee_multiplier``: headroom over the pending base fee for the fee cap.
    ``priority_fee_wei``: tip; None asks the node (``eth_maxPriorityFeePerGas``).
    ``max_fee_cap_wei``: refuse to sign above this fee cap (None: no cap).
    ``replacement_bump_bps``: increase of both fee fields when replacing (1250 = +12.5%).
    """

    margin_bps: int = 2000
    base_fee_multiplier: int = 2
    priority_fee_wei: int | None = None
    max_fee_cap_wei: int | None = None
    replacement_bump_bps: int = 1250

    def __post_init__(self) -> None:
        if not 0 <= self.margin_bps <= 100_000:
            raise ValidationError("margin_bps", self.margin_bps, "must be in [0, 100000]")
        if self.base_fee_multiplier < 1:
            raise ValidationError("base_fee_multiplier", self.base_fee_multiplier, "must be >= 1")
        if self.replacement_bump_bps < 1000:
            raise ValidationError("replacement_bump_bps", self.replacement_bump_bps, "nodes need at least +10% (1000)")
        if self.priority_fee_wei is not None and self.priority_fee_wei < 0:
            raise ValidationError("priority_fee_wei", self.priority_fee_wei, "must be >= 0")

    def gas_limit(self, estimate: int) -> int:
        """The estimate plus the margin, rounded up."""
        if estimate <= 0:
            raise ValidationError("gas_estimate", estimate, "must be positive")
        return -(-estimate * (10_000 + self.margin_bps) // 10_000)

    def fees(self, pending_base_fee: int, tip: int) -> FeeQuote:
        """Fee caps for a pending block with ``pending_base_fee``; ``tip`` is used unless the policy fixes one."""
        if pending_base_fee < 0:
            raise ValidationError("base_fee", pending_base_fee, "must be >= 0")
        prio = self.priority_fee_wei if self.priority_fee_wei is not None else tip
        quote = FeeQuote(
            max_fee_per_gas=self.base_fee_multiplier * pending_base_fee + prio, max_priority_fee_per_gas=prio
        )
        self.check_cap(quote)
        return quote

    def bump(self, fees: FeeQuote, floor: FeeQuote | None = None) -> FeeQuote:
        """Fees for a replacement: both fields up by ``replacement_bump_bps`` (rounded up), at least ``floor``."""

        def up(x: int) -> int:
            return max(x + 1, -(-x * (10_000 + self.replacement_bump_bps) // 10_000))

        prio = up(fees.max_priority_fee_per_gas)
        cap = up(fees.max_fee_per_gas)
        if floor is not None:
            prio = max(prio, floor.max_priority_fee_per_gas)
            cap = max(cap, floor.max_fee_per_gas)
        quote = FeeQuote(max_fee_per_gas=max(cap, prio), max_priority_fee_per_gas=prio)
        self.check_cap(quote)
        return quote

    def check_cap(self, fees: FeeQuote) -> None:
        if self.max_fee_cap_wei is not None and fees.max_fee_per_gas > self.max_fee_cap_wei:
            raise ValidationError(
                "max_fee_per_gas", fees.max_fee_per_gas, f"above the policy cap {self.max_fee_cap_wei}"
            )
