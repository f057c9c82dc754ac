"""Bus taps that feed run subscribers, and the recording of a live run's pipeline into the store.

:class:`Fanout` is the tap both a simulation (:mod:`keel.runtime.simulate`) and a live run
(:mod:`keel.runtime.live`) attach to their engine's bus: every typed pipeline event goes to each
subscriber's ``on_event(topic, event)`` as it happens, and each :class:`keel.engine.BlockSnapshot` to
``on_snapshot`` with that block's events.

:func:`live_store_recording` records a live run the way a simulation's :class:`keel.store.StoreSubscriber`
does, except for what the live journal (:class:`keel.store.journal.StoreJournal`) already keeps: a live
run's transactions, receipts and fills are the journal's (one row per fill the chain did, keyed by
transaction hash), and the account's token balances are its positions (exact base units).  So
:class:`LiveStoreSubscriber` passes the subscriber every event except ``TxSubmitted`` and ``Receipt``
(their intents and ``tx-<id>`` fills would be a second record of the journal's), the subscriber writes
no agent fill rows (``agent_fills=False``: an agent's off-chain fills, such as the options a portfolio
manager opens, stay ``fill`` event rows), and the pool tokens are left out of the snapshot's positions (the
journal's balances are the exact ones).  Events, intents stated, skipped decisions, oracle readings, risk
snapshots and PnL attribution are recorded per block.

A restarted live run resumes its run id (the journal's binding): the recorder continues the event,
oracle and alert numbering after the highest ones the store holds for that run.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from keel.engine import BlockSnapshot
from keel.engine.pipeline import TRANSACTIONS, TxSubmitted
from keel.engine.transactions import RECEIPTS, Receipt

if TYPE_CHECKING:
    from keel.store import Store, StoreRecorder

__all__ = ["JOURNALED_TOPICS", "Fanout", "LiveStoreSubscriber", "live_store_recording"]

JOURNALED_TOPICS = frozenset({TRANSACTIONS.name, RECEIPTS.name})
"""Topics whose events a live run's journal records (transactions signed, sent and mined; fills by hash)."""


_SNAPSHOT_FIELDS = tuple(f.name for f in dataclasses.fields(BlockSnapshot))
if _SNAPSHOT_FIELDS[-1] != "events":  # pragma: no cover - Fanout passes the others positionally, then events
    raise ImportError("BlockSnapshot.events must be its last field")
_snapshot_values = operator.attrgetter(*_SNAPSHOT_FIELDS[:-1])
_new_snapshot: Callable[..., BlockSnapshot] = BlockSnapshot  # every field positionally, in declaration order


def _with_events(snapshot: BlockSnapshot, events: tuple[Any, ...]) -> BlockSnapshot:
    """``dataclasses.replace(snapshot, events=events)``, without its per-call field walk."""
    if type(snapshot) is BlockSnapshot:
        return _new_snapshot(*_snapshot_values(snapshot), events)
    return dataclasses.replace(snapshot, events=events)


class Fanout:
    """The bus tap feeding run subscribers: events as they happen, the snapshot with its block's events."""

    def __init__(self, subscribers: list[Any]) -> None:
        self.subscribers = subscribers
        self.block_events: list[Any] = []

    def __call__(self, topic: str, message: Any) -> None:
        if isinstance(message, BlockSnapshot):
            snapshot = _with_events(message, tuple(self.block_events))
            self.block_events = []
            for sub in self.subscribers:
                sub.on_snapshot(snapshot)
            return
        self.block_events.append(message)
        for sub in self.subscribers:
            sub.on_event(topic, message)


class LiveStoreSubscriber:
    """A run subscriber for a live run: a :class:`keel.store.StoreSubscriber` without what the journal records.

    ``journal_assets``: position names the journal records as the account's balances (the pool tokens)."""

    def __init__(self, inner: Any, journal_assets: Iterable[str] = ()) -> None:
        self.inner = inner
        self.journal_assets = frozenset(journal_assets)

    def on_event(self, topic: str, event: object) -> None:
        if topic in JOURNALED_TOPICS or isinstance(event, TxSubmitted | Receipt):
            return
        self.inner.on_event(topic, event)

    def on_snapshot(self, snapshot: BlockSnapshot) -> None:
        if self.journal_assets:
            kept = tuple((name, q) for name, q in snapshot.positions if name not in self.journal_assets)
            if len(kept) != len(snapshot.positions):
                snapshot = dataclasses.replace(snapshot, positions=kept)
        self.inner.on_snapshot(snapshot)

    def on_end(self, summary: dict[str, Any]) -> None:
        self.inner.on_end(summary)


def live_store_recording(
    store: Store, run_id: str, journal_assets: Iterable[str] = (), *, account: str = "desk"
) -> tuple[Fanout, StoreRecorder]:
    """The bus tap that records live run ``run_id`` into ``store`` and its recorder (flush it per block, close
    it at the end).  Sequence numbers continue the ones the store holds for the run (a restart resumes it)."""
    from keel.store import StoreRecorder
    from keel.store.subscriber import StoreSubscriber

    events, oracle, alerts = store.next_sequences(run_id)
    # not append-only: a restart continues the run's rows, and a block seen again is upserted, never refused
    recorder = StoreRecorder(store, run_id, event_seq=events, oracle_seq=oracle, alert_seq=alerts, append_only=False)
    # the journal records the run's fills (one per mined hedge): agents' fills stay events only
    subscriber = LiveStoreSubscriber(StoreSubscriber(recorder, account=account, agent_fills=False), journal_assets)
    return Fanout([subscriber]), recorder
