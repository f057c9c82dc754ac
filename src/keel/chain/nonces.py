"""Per-account nonce bookkeeping that survives gaps and replacements.

The manager hands out nonces locally (no round trip per transaction) and reconciles
with the node: ``latest`` (mined count) and ``pending`` (mined + mempool) transaction
counts.  A nonce whose transaction was never seen by the node (signing or broadcast
failed) is *released* and handed out again first, so no gap is left behind; a nonce
used by someone else (another process with the same key) moves the counter forward.
Replacements (speed-up, cancel) reuse their nonce and never reserve a new one.
Pure state: the caller does the I/O and passes the counts in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keel.errors import ValidationError

__all__ = ["NonceManager"]


@dataclass(slots=True)
class NonceManager:
    """Nonces of one account.  ``next_nonce`` is the next never-used nonce."""

    address: str
    next_nonce: int = 0
    _released: set[int] = field(default_factory=set)
    _in_flight: set[int] = field(default_factory=set)

    def sync(self, latest: int, pending: int) -> None:
        """Reconcile with the node's ``latest`` (mined) and ``pending`` transaction counts."""
        if latest < 0 or pending < latest:
            raise ValidationError("nonce counts", (latest, pending), "need 0 <= latest <= pending")
        if pending > self.next_nonce:
            self.next_nonce = pending
        self._released = {n for n in self._released if n >= latest}
        self._in_flight = {n for n in self._in_flight if n >= latest}

    def reserve(self) -> int:
        """The nonce for a new transaction: the lowest released one, else the next fresh one."""
        if self._released:
            n = min(self._released)
            self._released.discard(n)
        else:
            n = self.next_nonce
            self.next_nonce += 1
        self._in_flight.add(n)
        return n

    def adopt(self, nonce: int) -> None:
        """Record a nonce already used by a journaled transaction (restart)."""
        self._in_flight.add(nonce)
        self._released.discard(nonce)
        self.next_nonce = max(self.next_nonce, nonce + 1)

    def release(self, nonce: int) -> None:
        """Give back a nonce whose transaction the node never received."""
        if nonce not in self._in_flight:
            raise ValidationError("nonce", nonce, "is not in flight")
        self._in_flight.discard(nonce)
        if nonce == self.next_nonce - 1:
            self.next_nonce -= 1
            while self.next_nonce - 1 in self._released:
                self._released.discard(self.next_nonce - 1)
                self.next_nonce -= 1
        else:
            self._released.add(nonce)

    def done(self, nonce: int) -> None:
        """The transaction at ``nonce`` is mined (or its nonce consumed)."""
        self._in_flight.discard(nonce)

    def rewind(self, pending: int) -> None:
        """The node holds nothing of ours from ``pending`` on (lost in a reorg or a node restart, and not
        in the journal): hand those nonces out again."""
        if pending < self.next_nonce:
            self.next_nonce = pending
            self._released = {n for n in self._released if n < pending}
            self._in_flight = {n for n in self._in_flight if n < pending}

    def gaps(self, latest: int) -> list[int]:
        """Nonces in ``[latest, next_nonce)`` with no transaction in flight: they block everything above."""
        return [n for n in range(latest, self.next_nonce) if n not in self._in_flight]

    @property
    def in_flight(self) -> frozenset[int]:
        return frozenset(self._in_flight)
