"""Append-only journal of signed and sent transactions, so a killed process restarts safely.

Each line is one JSON record, flushed and fsync'ed before the action it announces:
a transaction is journaled as ``signed`` (with its raw bytes) *before* it is broadcast,
so after a crash every transaction that might have reached a node is known and can be
re-broadcast (the same bytes: same nonce and hash, so never a second send) or found mined.
Callers name each transaction with an *intent id*; submitting an intent id that the
journal already holds returns the journaled transaction instead of signing a new one.
The raw transaction is public data (it is what a node broadcasts); no key is ever written.
One process holds a journal at a time (an exclusive ``flock``).

A journal is *bound* (:meth:`TxJournal.bind`) to one chain (chain id and genesis block hash),
one account and one run id before anything is sent through it: a journal from another chain,
genesis or account is refused (:class:`~keel.chain.errors.ForeignJournalError`, one line naming
the journal and what differs), so nothing journaled on one chain is ever broadcast on another.
:class:`Journal` is the interface the transaction manager and the live runtime use; this file
journal and the state-store journal (``keel.store``) both implement it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from keel.chain.errors import ForeignJournalError
from keel.errors import ChainError, ValidationError

__all__ = ["Attempt", "IntentState", "Journal", "JournalBinding", "TxJournal", "archive_journal"]

_FINAL = ("mined", "dropped", "released")
_INTENT_EVENTS = ("signed", "sent", "mined", "unmined", "dropped", "released", "rebroadcast")


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
    deadline_s: int | None = None  # chain time (unix seconds) after which the transaction can only revert
    meta: dict[str, Any] = field(default_factory=dict)  # the caller's plan (e.g. a hedge's predicted output)
    rebroadcasts: int = 0

    @property
    def final(self) -> bool:
        return self.status in _FINAL

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]


@dataclass(frozen=True, slots=True)
class JournalBinding:
    """What a journal belongs to: ``chain_id``, ``genesis_hash`` (block 0, 0x-hex), ``account``
    (checksummed) and ``run_id`` (the run that created it; restarts resume it)."""

    chain_id: int
    genesis_hash: str
    account: str
    run_id: str

    def differences(self, other: JournalBinding) -> list[str]:
        """``field journal-value != other-value`` for chain id, genesis and account (run id is not compared)."""
        out = []
        if self.chain_id != other.chain_id:
            out.append(f"chain id {self.chain_id} != {other.chain_id}")
        if self.genesis_hash.lower() != other.genesis_hash.lower():
            out.append(f"genesis {self.genesis_hash[:10]}… != {other.genesis_hash[:10]}…")
        if self.account.lower() != other.account.lower():
            out.append(f"account {self.account} != {other.account}")
        return out

    def as_record(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "account": self.account,
            "run_id": self.run_id,
        }


@runtime_checkable
class Journal(Protocol):
    """The transaction journal interface (file: :class:`TxJournal`; store-backed: ``keel.store``).

    Every ``record_*`` call is durable when it returns (the file journal fsyncs) and is applied to
    ``intents``.  ``bind`` must be called before the first ``record_signed``.  ``note`` stores the
    caller's own records (hedge plans, fills, balance checkpoints) in order; ``notes(kind)`` reads
    them back after a restart.  ``close(summary)`` writes a final ``closed`` record and releases
    the single-writer lock; ``closed`` says whether the last session ended that way.
    """

    intents: dict[str, IntentState]

    @property
    def where(self) -> str:
        """Where the journal lives (a path or a store URL), for messages."""
        ...

    @property
    def binding(self) -> JournalBinding | None: ...

    @property
    def closed(self) -> bool: ...

    def bind(self, binding: JournalBinding) -> JournalBinding: ...

    def record_signed(
        self,
        *,
        intent: str,
        sender: str,
        chain_id: int,
        nonce: int,
        attempt: Attempt,
        deadline_s: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None: ...

    def record_sent(self, intent: str, tx_hash: str) -> None: ...

    def record_mined(self, intent: str, tx_hash: str, block_number: int, block_hash: str, status: int) -> None: ...

    def record_unmined(self, intent: str, tx_hash: str) -> None: ...

    def record_dropped(self, intent: str, reason: str) -> None: ...

    def record_released(self, intent: str, reason: str) -> None: ...

    def record_rebroadcast(self, intent: str, tx_hash: str, reason: str) -> None: ...

    def record_external(self, tx_hash: str, nonce: int, block_number: int) -> None: ...

    def note(self, kind: str, data: Mapping[str, Any]) -> None: ...

    def notes(self, kind: str | None = None) -> list[dict[str, Any]]: ...

    def open_intents(self, sender: str | None = None) -> list[IntentState]: ...

    def lines(self) -> list[str]: ...

    def close(self, summary: Mapping[str, Any] | None = None) -> None: ...


def archive_journal(path: str | Path) -> Path | None:
    """Move the journal at ``path`` aside (``NAME.archived-YYYYmmddTHHMMSSZ[-k]``); None if there is none.

    Refuses (ChainError) while another process holds it.
    """
    source = Path(path)
    if not source.exists():
        return None
    with open(source, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ChainError(f"journal={str(source)!r}: in use by another process") from None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = source.with_name(f"{source.name}.archived-{stamp}")
        k = 1
        while target.exists():
            target = source.with_name(f"{source.name}.archived-{stamp}-{k}")
            k += 1
        os.replace(source, target)
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return target


class TxJournal:
    """The journal file at ``path`` (created if missing); holds an exclusive lock while open."""

    def __init__(self, path: str | Path | None) -> None:
        """``path=None`` keeps the journal in memory only (no crash safety: deployments, tests)."""
        self.intents: dict[str, IntentState] = {}
        self.externals: list[dict[str, Any]] = []
        self._binding: JournalBinding | None = None
        self._notes: list[dict[str, Any]] = []
        self._closed = False
        self._shut = False
        self._session = False  # bind() succeeded in this session: close() ends it with a `closed` record
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
        try:
            self._replay()
        except BaseException:
            self._fh.close()  # also releases the lock
            self._fh = None
            raise

    def __repr__(self) -> str:
        return f"TxJournal({str(self.path)!r}, {len(self.intents)} intents)"

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def binding(self) -> JournalBinding | None:
        return self._binding

    @property
    def closed(self) -> bool:
        """True when the last session ended with :meth:`close` (a killed run leaves it False)."""
        return self._closed

    @property
    def is_open(self) -> bool:
        """True while this object holds the journal (lock held, records accepted)."""
        return not self._shut and (self._memory is not None or self._fh is not None)

    def bind(self, binding: JournalBinding) -> JournalBinding:
        """Bind a fresh journal to ``binding``, or check that an existing one belongs to the same chain,
        genesis and account (then its run id is kept: a restart resumes the run).  Returns the binding.

        A journal with transactions but no binding (an older Keel), or bound elsewhere, is refused
        with :class:`ForeignJournalError`; nothing is written then.
        """
        if self._binding is None:
            if self.intents:
                raise ForeignJournalError(
                    f"journal={self.where!r}: holds {len(self.intents)} transactions but no chain binding "
                    "(written by an older keel); use --new-journal to archive it and start fresh"
                )
            self._append({"event": "bind", **binding.as_record()})
            assert self._binding is not None
            self._session = True
            return self._binding
        diff = self._binding.differences(binding)
        if diff:
            raise ForeignJournalError(
                f"journal={self.where!r}: belongs to another chain or account ({'; '.join(diff)}); "
                "nothing from it is sent; use --new-journal to archive it and start fresh"
            )
        self._append({"event": "resume", "run_id": self._binding.run_id})
        self._session = True
        return self._binding

    def close(self, summary: Mapping[str, Any] | None = None) -> None:
        """End the session: a ``closed`` record (with ``summary``) if this session bound the journal (or a
        summary is given), then release the lock.  A refused :meth:`bind` leaves the file untouched.  Idempotent."""
        if not self.is_open:
            return
        if self._session or summary is not None:
            self._append({"event": "closed", "summary": dict(summary or {})})
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        self._shut = True

    def __enter__(self) -> TxJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> None:
        if self._shut:
            raise ChainError(f"journal={str(self.path)!r}: closed")
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

    def record_signed(
        self,
        *,
        intent: str,
        sender: str,
        chain_id: int,
        nonce: int,
        attempt: Attempt,
        deadline_s: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """A new signed transaction for ``intent`` (first attempt or a replacement).

        ``deadline_s``: chain time after which it can only revert (it is then never re-broadcast);
        ``meta``: JSON-able facts the caller needs after a restart (never key material).
        """
        if not intent or "\n" in intent:
            raise ValidationError("intent", intent, "must be a non-empty single-line id")
        if self._binding is not None and chain_id != self._binding.chain_id:
            raise ForeignJournalError(
                f"journal={self.where!r}: bound to chain {self._binding.chain_id}, not {chain_id}"
            )
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
                "deadline_s": deadline_s,
                "meta": dict(meta or {}),
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

    def record_rebroadcast(self, intent: str, tx_hash: str, reason: str) -> None:
        """Journaled bytes sent again (after a restart, or after they vanished from the node)."""
        self._append({"event": "rebroadcast", "intent": intent, "tx_hash": tx_hash, "reason": reason})

    def record_external(self, tx_hash: str, nonce: int, block_number: int) -> None:
        """A transaction of the account found on chain that no journal entry explains (adopted, reported)."""
        self._append({"event": "external", "tx_hash": tx_hash, "nonce": nonce, "block_number": block_number})

    def note(self, kind: str, data: Mapping[str, Any]) -> None:
        """The caller's own record (``kind`` e.g. 'fill', 'checkpoint'); JSON-able, never key material."""
        if not kind or "\n" in kind:
            raise ValidationError("kind", kind, "must be a non-empty single-line name")
        self._append({"event": "note", "kind": kind, "data": dict(data)})

    def notes(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The notes written so far (all sessions), oldest first, optionally of one ``kind``."""
        return [dict(n["data"]) for n in self._notes if kind is None or n["kind"] == kind]

    # ---- reading ------------------------------------------------------------------------------
    def _replay(self) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        try:
            lines = self._fh.read().splitlines()
        except UnicodeDecodeError as exc:
            raise ChainError(f"journal={str(self.path)!r}: not UTF-8 text (byte {exc.start}), not a journal") from None
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                if i == len(lines) - 1:
                    break  # a torn last line from a crash mid-write: the action it announced never ran
                raise ChainError(f"journal={str(self.path)!r}: corrupt line {i + 1}") from None
            try:
                self._apply(record)
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ChainError(f"journal={str(self.path)!r}: line {i + 1} is not a journal record") from None
        self._fh.seek(0, os.SEEK_END)

    def _apply(self, r: dict[str, Any]) -> None:
        event = r["event"]
        self._closed = event == "closed"
        if event not in _INTENT_EVENTS:
            if event == "bind":
                self._binding = JournalBinding(
                    int(r["chain_id"]), str(r["genesis_hash"]), str(r["account"]), str(r["run_id"])
                )
            elif event == "note":
                self._notes.append({"kind": r["kind"], "data": r["data"]})
            elif event == "external":
                self.externals.append({k: r[k] for k in ("tx_hash", "nonce", "block_number")})
            return
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
                    deadline_s=None if r.get("deadline_s") is None else int(r["deadline_s"]),
                    meta=dict(r.get("meta") or {}),
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
        elif event == "rebroadcast":
            state.rebroadcasts += 1

    def open_intents(self, sender: str | None = None) -> list[IntentState]:
        """Intents not final (signed or sent), in nonce order."""
        out = [s for s in self.intents.values() if not s.final and (sender is None or s.sender == sender)]
        return sorted(out, key=lambda s: s.nonce)

    def lines(self) -> list[str]:
        """Every journal line (for audits and the key-leak scan)."""
        if self._memory is not None:
            return list(self._memory)
        return self.path.read_text(encoding="utf-8").splitlines()
