"""The live transaction journal kept in the store (the file journal stays an option).

:class:`StoreJournal` implements :class:`keel.chain.Journal`: every record is one committed row of
the store's ``transactions`` table before the call returns (the file journal fsyncs a line), and the
state is replayed from that table when it opens.  It is keyed by account and chain, not by run, so a
run restarted after a kill sees every transaction an earlier session signed: pending ones are
re-broadcast from their journaled bytes (same nonce and hash: never a second send) or found mined.

Opening it takes the store's single-writer lease on ``account@chain_id`` (the file journal's
``flock``): a second live process on the same account refuses, naming the run that holds it.  A
heartbeat thread renews the lease; a SIGKILLed holder's lease expires (at once on the same host,
after ``lease_ttl_s`` elsewhere).  A journal that lost its lease refuses to write.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keel.chain import JournalBinding, TxJournal
from keel.errors import ChainError
from keel.store.store import Store
from keel.store.types import StoreError

__all__ = ["StoreJournal", "lease_key"]


def _ended_status(summary: Mapping[str, Any] | None) -> str:
    """The store's status for a closed live run from its summary's ``status`` (``keel.runtime.live.LiveSummary``):
    ``stopped: ...`` (a signal, the kill switch, a kill through the store) is ``killed``; ``refused: ...`` and
    ``error: ...`` are ``failed``; anything else (``completed``, no summary) is ``finished``."""
    status = str((summary or {}).get("status", ""))
    if status.startswith("stopped"):
        return "killed"
    if status.startswith(("refused", "error")):
        return "failed"
    return "finished"


def lease_key(account: str, chain_id: int) -> str:
    """The lease name of one account on one chain (``0xabc...@31337``, address lower-cased)."""
    return f"{account.lower()}@{int(chain_id)}"


class StoreJournal(TxJournal):
    """The journal of ``account`` on ``chain_id`` in ``store``, written by run ``run_id``."""

    def __init__(
        self,
        store: Store,
        account: str,
        chain_id: int,
        run_id: str,
        *,
        name: str = "live",
        config_text: str = "",
        lease_ttl_s: float = 15.0,
    ) -> None:
        super().__init__(None)  # in-memory state, no file
        self._memory = None
        self.store = store
        self.account = account
        self.chain_id = int(chain_id)
        self.run_id = run_id
        self.name = name
        self.config_text = config_text
        self._last_block = -1  # positions rows get increasing block numbers (the chain's when notes carry one)
        self.key = lease_key(account, chain_id)
        self.path = Path(f"<{store.url} {self.key}>")
        self._ttl = lease_ttl_s
        try:
            store.acquire_lease(self.key, run_id, lease_ttl_s)
        except StoreError as exc:
            raise ChainError(str(exc)) from None
        self._lost = False
        self._stop = threading.Event()
        for record in store.journal_records(self.account, self.chain_id):
            self._apply(record)
        self._heartbeat = threading.Thread(target=self._renew, name=f"keel-lease-{self.key}", daemon=True)
        self._heartbeat.start()

    def __repr__(self) -> str:
        return f"StoreJournal({self.key}, {len(self.intents)} intents)"

    @property
    def where(self) -> str:
        return f"{self.store.url} ({self.key})"

    @property
    def is_open(self) -> bool:
        return not self._shut

    def _renew(self) -> None:
        while not self._stop.wait(self._ttl / 3):
            try:
                if not self.store.renew_lease(self.key, self.run_id, self._ttl):
                    self._lost = True
                    return
            except Exception:  # a database hiccup: try again at the next beat; the lease may expire
                continue

    def bind(self, binding: JournalBinding) -> JournalBinding:
        """As :meth:`TxJournal.bind`; the run named by the binding (a restart resumes it) is the store's run."""
        bound = super().bind(binding)
        if bound.run_id != self.run_id:
            self.store.acquire_lease(self.key, bound.run_id, self._ttl)  # ours already: renamed to the resumed run
            self.run_id = bound.run_id
        try:
            self.store.run(bound.run_id)
        except StoreError:
            self.store.create_run(
                self.name,
                config_text=self.config_text,
                mode="live",
                chain_id=self.chain_id,
                account=self.account,
                run_id=bound.run_id,
            )
        else:
            self.store.adopt_run(bound.run_id)
        held = self.store.positions(bound.run_id)
        self._last_block = max((p.block_number for p in held), default=-1)
        return bound

    def _rows_for(self, record: dict[str, Any]) -> dict[str, list[dict[str, Any]]] | None:
        """Store rows that a note stands for, committed with it: a filled hedge is a fill; a baseline of
        token balances is the account's positions (exact base units)."""
        if self._binding is None:
            return None
        if record.get("event") == "closed":  # the run's end balances are its final positions
            balances = (record.get("summary") or {}).get("end_balances")
            if isinstance(balances, dict) and balances:
                return self._positions({"actual": balances})
            return None
        if record.get("event") != "note":
            return None
        data = record.get("data") or {}
        now = time.time_ns()
        if record.get("kind") == "fill" and data.get("status") == "filled":
            return {
                "fills": [
                    {
                        "fill_id": str(data.get("tx_hash") or data["intent"]),
                        "ts_ns": now,
                        "block_number": int(data.get("block", -1)),
                        "source": "hedger",
                        "instrument": f"{data['token_in']}->{data['token_out']}",
                        "token_in": str(data["token_in"]),
                        "token_out": str(data["token_out"]),
                        "amount_in": int(data["amount_in"]),
                        "amount_out": int(data["amount_out"]),
                        "fee": 0,
                        "fee_token": "",
                        "quantity": None,
                        "price": None,
                        "intent_id": str(data["intent"]),
                        "tx_hash": str(data.get("tx_hash", "")),
                    }
                ]
            }
        if record.get("kind") == "baseline" and isinstance(data.get("actual"), dict):
            return self._positions(data)
        return None

    def _positions(self, data: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
        block = max(int(data.get("block", -1)), self._last_block + 1)
        now = time.time_ns()
        return {
            "positions": [
                {
                    "block_number": block,
                    "ts_ns": now,
                    "account": self.account.lower(),
                    "asset": str(token),
                    "amount": int(amount),
                    "decimals": int((data.get("decimals") or {}).get(token, 0)),
                }
                for token, amount in sorted(data["actual"].items())
            ]
        }

    def _append(self, record: dict[str, Any]) -> None:
        if self._shut:
            raise ChainError(f"journal={self.where!r}: closed")
        if self._lost:
            raise ChainError(f"journal={self.where!r}: lease lost to another run; stopping before any further write")
        rows = self._rows_for(record)
        self.store.append_journal(self.account, self.chain_id, self.run_id, record, rows)
        if rows and rows.get("positions"):
            self._last_block = int(rows["positions"][0]["block_number"])
        self._apply(record)

    def close(self, summary: Mapping[str, Any] | None = None) -> None:
        if self._shut:
            return
        try:
            super().close(summary)
            if self._binding is not None:
                self.store.finish_run(
                    self.run_id,
                    _ended_status(summary),
                    summary_json=json.dumps(dict(summary or {}), sort_keys=True, default=str),
                )
        finally:
            self._shut = True
            self._stop.set()
            self._heartbeat.join(timeout=5)
            self.store.release_lease(self.key, self.run_id)

    def lines(self) -> list[str]:
        return [json.dumps(r, sort_keys=True) for r in self.store.journal_records(self.account, self.chain_id)]
