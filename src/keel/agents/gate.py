"""The oracle gate every trading agent passes: no decision on a HALTED reading, and say so.

An agent that mixes in :class:`OracleGate` keeps the latest ``keel.oracle.OracleReading``
(published at stage ORACLE, before the agents) and calls :meth:`OracleGate.halted` before a
decision: on a HALTED reading it publishes a ``DecisionSkipped`` (cause ``"oracle_halted"``,
the oracle's reasons in ``reason``), records it, and the agent does not act.
"""

from __future__ import annotations

from keel.engine import DECISIONS, Block, Context, DecisionSkipped
from keel.oracle.reading import OracleReading

__all__ = ["OracleGate"]


class OracleGate:
    name: str
    ctx: Context
    reading: OracleReading | None = None
    halted_skips: int = 0

    def observe(self, message: object) -> bool:
        """Keep ``message`` if it is an oracle reading; True when it was one."""
        if isinstance(message, OracleReading):
            self.reading = message
            return True
        return False

    def halted(self, block: Block, decision: str) -> bool:
        """True (and a DecisionSkipped event) when this block's reading is HALTED."""
        reading = self.reading
        if reading is None or reading.usable:
            return False
        self.halted_skips += 1
        reason = "oracle halted: " + ("; ".join(reading.reasons) or "no usable price")
        self.ctx.publish(
            DECISIONS, DecisionSkipped(block.ts_ns, block.number, self.name, decision, "oracle_halted", reason)
        )
        self.ctx.record("decision_skipped", decision, detail=reason)
        return True
