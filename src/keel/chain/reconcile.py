"""Reconciliation at start: the account's nonce, pending transactions, token balances and pool
positions on chain, matched with what the journal says happened.

Read-only: nothing here signs or sends.  :func:`reconcile` returns a :class:`Reconciliation`
that explains every nonce the account consumed since the journal's first session: a journaled
transaction, or a transaction the journal does not know, *adopted as external* (located by
scanning the blocks since the last session; reported, and written to the journal by the
caller).  A journaled transaction recorded as mined at a nonce the chain has not reached is a
mismatch no one can explain (the chain was reset or rewritten): it is a *problem*, and the
live runtime stops before its agent starts.  Token balances are checked the same way by
:func:`balance_problems` once pending transactions are settled: a balance below what the
journal's fills leave is a problem, a balance above it an external deposit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keel.chain.client import ChainClient, checksum
from keel.chain.journal import Journal

__all__ = ["ExternalTx", "Reconciliation", "balance_problems", "reconcile"]


@dataclass(frozen=True, slots=True)
class ExternalTx:
    """A transaction of the account that the journal did not send."""

    tx_hash: str
    nonce: int
    block_number: int


@dataclass(slots=True)
class Reconciliation:
    """What the chain and the journal say (nonces are the account's transaction counts)."""

    account: str
    latest_nonce: int
    pending_nonce: int
    start_nonce: int
    journal_mined: int
    open_intents: list[str] = field(default_factory=list)
    external: list[ExternalTx] = field(default_factory=list)
    unlocated_external: int = 0
    unknown_pending: int = 0
    lp_positions: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Short lines (< 80 columns where the data allows) for the console."""
        out = [
            f"nonce    {self.latest_nonce} mined, {self.pending_nonce - self.latest_nonce} pending; "
            f"journal: {self.journal_mined} mined, {len(self.open_intents)} open"
        ]
        for ext in self.external:
            out.append(f"external tx nonce {ext.nonce} block {ext.block_number} (adopted):")
            out.append(f"  {ext.tx_hash}")
        if self.unlocated_external:
            out.append(f"external txs not located in the scanned blocks: {self.unlocated_external} (adopted)")
        if self.unknown_pending:
            out.append(f"pending txs the journal did not send: {self.unknown_pending}")
        if self.lp_positions:
            out.append(f"LP positions held (not opened by keel): {self.lp_positions}")
        return out


async def reconcile(
    client: ChainClient,
    journal: Journal,
    account: str,
    *,
    start_nonce: int,
    scan_from_block: int,
    max_scan_blocks: int = 2000,
    position_manager: str | None = None,
) -> Reconciliation:
    """Match the chain's view of ``account`` with ``journal`` (see the module docstring).

    ``start_nonce``: the account's mined nonce when the journal's first session began;
    ``scan_from_block``: the head block of the last session (external transactions are looked
    for from there, at most ``max_scan_blocks`` blocks).
    """
    account = checksum("account", account)
    latest = await client.nonce(account, "latest")
    pending = max(latest, await client.nonce(account, "pending"))
    mine = [s for s in journal.intents.values() if s.sender == account]
    mined = {s.nonce: s for s in mine if s.status == "mined"}
    open_ = {s.nonce: s for s in mine if not s.final}
    adopted = {int(e["nonce"]) for e in getattr(journal, "externals", [])}
    rec = Reconciliation(
        account=account,
        latest_nonce=latest,
        pending_nonce=pending,
        start_nonce=start_nonce,
        journal_mined=len(mined),
        open_intents=[s.intent for s in sorted(open_.values(), key=lambda s: s.nonce)],
    )
    for nonce, state in sorted(mined.items()):
        if nonce >= latest:
            rec.problems.append(
                f"journal={journal.where!r}: {state.intent!r} is recorded mined at nonce {nonce} "
                f"(tx {state.mined_hash}, block {state.block_number}) but the chain's nonce is {latest}: "
                "the chain was reset or rewritten"
            )
    if latest < start_nonce:
        rec.problems.append(
            f"journal={journal.where!r}: the account's nonce was {start_nonce} when this journal began, "
            f"the chain says {latest}: the chain was reset or rewritten"
        )
    unknown = [n for n in range(start_nonce, latest) if n not in mined and n not in open_ and n not in adopted]
    if unknown:
        head = await client.block_number()
        first = max(scan_from_block, head - max_scan_blocks + 1, 0)
        wanted = set(unknown)
        for number in range(first, head + 1):
            for tx in await client.block_transactions(number):
                sender = tx.get("from")
                if sender is None or checksum("from", str(sender)) != account:
                    continue
                nonce = int(tx["nonce"])
                if nonce in wanted:
                    h = tx["hash"]
                    tx_hash = h if isinstance(h, str) else "0x" + bytes(h).hex()
                    rec.external.append(ExternalTx(tx_hash, nonce, number))
                    wanted.discard(nonce)
        rec.unlocated_external = len(wanted)
    rec.unknown_pending = sum(1 for n in range(latest, pending) if n not in open_)
    if position_manager:
        pm = client.contract("NonfungiblePositionManager", position_manager)
        rec.lp_positions = int(await client.call("balanceOf", pm.functions.balanceOf(account)))
    return rec


def balance_problems(
    expected: Mapping[str, int], actual: Mapping[str, int], *, journal: str
) -> tuple[list[str], dict[str, int]]:
    """Compare token balances with what the journal's fills leave: ``(problems, deposits)``.

    A balance below the expected one (``expected - actual`` base units missing) is a problem no
    journal entry explains; one above it is an external deposit (returned per token).
    """
    problems: list[str] = []
    deposits: dict[str, int] = {}
    for token in sorted(expected):
        have, want = int(actual.get(token, 0)), int(expected[token])
        if have < want:
            problems.append(
                f"journal={journal!r}: {token} balance {have} is {want - have} base units below what the "
                "journal's fills leave; something outside this journal spent it"
            )
        elif have > want:
            deposits[token] = have - want
    return problems, deposits
