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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keel.chain import TxJournal
from keel.errors import ChainError
from keel.store.store import Store
from keel.store.types import StoreError

__all__ = ["StoreJournal", "lease_key"]


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
        lease_ttl_s: float = 15.0,
    ) -> None:
        super().__init__(None)  # in-memory state, no file
        self._memory = None
        self.store = store
        self.account = account
        self.chain_id = int(chain_id)
        self.run_id = run_id
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

    def _append(self, record: dict[str, Any]) -> None:
        if self._shut:
            raise ChainError(f"journal={self.where!r}: closed")
        if self._lost:
            raise ChainError(f"journal={self.where!r}: lease lost to another run; stopping before any further write")
        self.store.append_journal(self.account, self.chain_id, self.run_id, record)
        self._apply(record)

    def close(self, summary: Mapping[str, Any] | None = None) -> None:
        if self._shut:
            return
        try:
            super().close(summary)
        finally:
            self._shut = True
            self._stop.set()
            self._heartbeat.join(timeout=5)
            self.store.release_lease(self.key, self.run_id)

    def lines(self) -> list[str]:
        return [json.dumps(r, sort_keys=True) for r in self.store.journal_records(self.account, self.chain_id)]
