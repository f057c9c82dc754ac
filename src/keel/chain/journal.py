"""Append-only journal of signed and sent transactions, so a killed process restarts safely.

Each line is one JSON record, flushed and fsync'ed before the action it announces:
a transaction is journaled as ``signed`` (with its raw bytes) *before* it is broadcast,
so after a crash every transaction that might have reached a node is known and can be
re-broadcast (the same bytes: same nonce and hash, so never a second send) or found mined.
Callers name each transaction with an *intent id*; submitting an intent id that the
journal already holds returns the journaled transaction instead of signing a new one.
The raw transaction is public data (it is what a node broadcasts); no key is ever written.
One process holds a journal at a time (an exclusive ``flock``).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from keel.errors import ChainError, ValidationError

__all__ = ["Attempt", "IntentState", "TxJournal"]

_FINAL = ("mined", "dropped", "released")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One signed transaction for an intent (a replacement is another attempt at the same nonce)."""

    tx_hash: str
    raw_hex: str
    to: str
    value: int
    data_hex: str
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    kind: str = "call"


@dataclass(slots=True)
class IntentState:
    """What the journal knows about one intent.  ``status``: signed, sent, mined, dropped or released."""

    intent: str
    sender: str
    chain_id: int
    nonce: int
    attempts: list[Attempt] = field(default_factory=list)
    status: str = "signed"
    mined_hash: str = ""
    block_number: int = -1
    block_hash: str = ""
    tx_status: int = -1

    @property
    def final(self) -> bool:
        return self.status in _FINAL

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]


class TxJournal:
    """The journal file at ``path`` (created if missing); holds an exclusive lock while open."""

    def __init__(self, path: str | Path | None) -> None:
        """``path=None`` keeps the journal in memory only (no crash safety: deployments, tests)."""
        self.intents: dict[str, IntentState] = {}
        self._memory: list[str] | None = None
        self._fh: IO[str] | None = None
        if path is None:
            self.path = Path("<memory>")
            self._memory = []
            return
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            raise ChainError(f"journal={str(self.path)!r}: in use by another process") from None
        self._replay()

    def __repr__(self) -> str:
        return f"TxJournal({str(self.path)!r}, {len(self.intents)} intents)"

    def close(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> TxJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> None:
        if self._memory is not None:
            self._memory.append(json.dumps(record, sort_keys=True))
            self._apply(record)
            return
        if self._fh is None:
            raise ChainError(f"journal={str(self.path)!r}: closed")
        self._fh.write(json.dumps(record, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._apply(record)

    def record_signed(self, *, intent: str, sender: str, chain_id: int, nonce: int, attempt: Attempt) -> None:
        """A new signed transaction for ``intent`` (first attempt or a replacement)."""
        if not intent or "\n" in intent:
            raise ValidationError("intent", intent, "must be a non-empty single-line id")
        known = self.intents.get(intent)
        if known is not None and known.status != "released" and (known.nonce != nonce or known.final):
            raise ChainError(f"intent={intent!r}: already journaled at nonce {known.nonce} ({known.status})")
        self._append(
            {
                "event": "signed",
                "intent": intent,
                "sender": sender,
                "chain_id": chain_id,
                "nonce": nonce,
                "to": attempt.to,
                "value": str(attempt.value),
                "data": attempt.data_hex,
                "kind": attempt.kind,
                "tx_hash": attempt.tx_hash,
                "raw": attempt.raw_hex,
                "max_fee_per_gas": str(attempt.max_fee_per_gas),
                "max_priority_fee_per_gas": str(attempt.max_priority_fee_per_gas),
                "gas": str(attempt.gas),
            }
        )

    def record_sent(self, intent: str, tx_hash: str) -> None:
        self._append({"event": "sent", "intent": intent, "tx_hash": tx_hash})

    def record_mined(self, intent: str, tx_hash: str, block_number: int, block_hash: str, status: int) -> None:
        self._append(
            {
                "event": "mined",
                "intent": intent,
                "tx_hash": tx_hash,
                "block_number": block_number,
                "block_hash": block_hash,
                "status": status,
            }
        )

    def record_unmined(self, intent: str, tx_hash: str) -> None:
        """A mined transaction left the chain in a reorg (it may be re-broadcast)."""
        self._append({"event": "unmined", "intent": intent, "tx_hash": tx_hash})

    def record_dropped(self, intent: str, reason: str) -> None:
        self._append({"event": "dropped", "intent": intent, "reason": reason})

    def record_released(self, intent: str, reason: str) -> None:
        """The node never accepted any attempt: the nonce is free again and the intent may be retried."""
        self._append({"event": "released", "intent": intent, "reason": reason})

    # ---- reading ------------------------------------------------------------------------------
    def _replay(self) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        lines = self._fh.read().splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if i == len(lines) - 1:
                    break  # a torn last line from a crash mid-write: the action it announced never ran
                raise ChainError(f"journal={str(self.path)!r}: corrupt line {i + 1}") from None
            self._apply(record)
        self._fh.seek(0, os.SEEK_END)

    def _apply(self, r: dict[str, Any]) -> None:
        event = r["event"]
        intent = r["intent"]
        if event == "signed":
            attempt = Attempt(
                tx_hash=r["tx_hash"],
                raw_hex=r["raw"],
                to=r["to"],
                value=int(r["value"]),
                data_hex=r["data"],
                kind=r["kind"],
                max_fee_per_gas=int(r["max_fee_per_gas"]),
                max_priority_fee_per_gas=int(r["max_priority_fee_per_gas"]),
                gas=int(r["gas"]),
            )
            state = self.intents.get(intent)
            if state is None or state.status == "released":
                state = IntentState(
                    intent=intent,
                    sender=r["sender"],
                    chain_id=int(r["chain_id"]),
                    nonce=int(r["nonce"]),
                )
                self.intents[intent] = state
            state.attempts.append(attempt)
            if state.status != "sent":
                state.status = "signed"
            return
        state = self.intents.get(intent)
        if state is None:
            raise ChainError(f"journal={str(self.path)!r}: event for unknown intent {intent!r}")
        if event == "sent":
            if state.status == "signed":
                state.status = "sent"
        elif event == "mined":
            state.status = "mined"
            state.mined_hash = r["tx_hash"]
            state.block_number = int(r["block_number"])
            state.block_hash = r["block_hash"]
            state.tx_status = int(r["status"])
        elif event == "unmined":
            state.status = "sent"
            state.mined_hash = ""
            state.block_number = -1
            state.block_hash = ""
            state.tx_status = -1
        elif event == "dropped":
            state.status = "dropped"
        elif event == "released":
            state.status = "released"

    def open_intents(self, sender: str | None = None) -> list[IntentState]:
        """Intents not final (signed or sent), in nonce order."""
        out = [s for s in self.intents.values() if not s.final and (sender is None or s.sender == sender)]
        return sorted(out, key=lambda s: s.nonce)

    def lines(self) -> list[str]:
        """Every journal line (for audits and the key-leak scan)."""
        if self._memory is not None:
            return list(self._memory)
        return self.path.read_text(encoding="utf-8").splitlines()
