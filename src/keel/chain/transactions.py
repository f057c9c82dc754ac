"""Sending transactions: preflight, sign, journal, broadcast, confirm, replace, recover.

:class:`TransactionManager` is the only path from an intent to a broadcast transaction:

1. **Preflight, before signing**: addresses and amounts validated; gas estimated at the
   pending block (a revert here, e.g. insufficient allowance, is a :class:`PreflightError`
   carrying the contract's reason); ETH balance >= value + gas * maxFeePerGas.
2. **Sign** with the :class:`~keel.chain.signer.Signer` (EIP-1559, type 2, chain id of the node).
3. **Journal** the signed bytes (fsync) *before* broadcasting, then broadcast.
4. **Wait** for a receipt ``confirmations`` blocks deep.  If a seen receipt leaves the chain
   (reorg), the same signed bytes are re-broadcast; if the nonce was meanwhile consumed by
   another transaction, the intent is marked dropped (:class:`TxDroppedError`).
5. **Speed-up / cancel** re-sign the same nonce with fees bumped per :class:`GasPolicy`.
6. **Recover** after a restart: journaled, unfinished intents are found mined, still
   pending, or re-broadcast from their journaled bytes; nothing is signed twice because an
   intent id already in the journal is never signed again.  An intent past its deadline
   (``deadline_s``, chain time) that the node does not hold is marked dropped and never sent.
   Every re-broadcast (bytes signed by an earlier process, or sent again after they vanished
   from the node) is journaled, counted in :attr:`TransactionManager.rebroadcasts` and reported
   to :attr:`TransactionManager.on_rebroadcast`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError

from keel.chain.client import ChainClient, checksum
from keel.chain.errors import InsufficientFundsError, PreflightError, TxDroppedError, TxRevertedError
from keel.chain.gas import FeeQuote, GasPolicy
from keel.chain.journal import Attempt, IntentState, Journal
from keel.chain.nonces import NonceManager
from keel.chain.signer import Signer
from keel.errors import ChainError, ValidationError

__all__ = ["PendingTx", "TransactionManager", "TxReceipt", "TxRequest"]


@dataclass(frozen=True, slots=True)
class TxRequest:
    """What to send: ``to`` (None deploys ``data`` as a contract), ``data`` calldata, ``value`` in wei.

    ``gas`` fixes the gas limit (skipping the estimate); None estimates at the pending block.
    """

    to: str | None
    data: bytes = b""
    value: int = 0
    gas: int | None = None

    def __post_init__(self) -> None:
        if self.to is not None:
            object.__setattr__(self, "to", checksum("to", self.to))
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise ValidationError("value", self.value, "must be a non-negative int in wei")
        if not isinstance(self.data, bytes | bytearray):
            raise ValidationError("data", self.data, "must be bytes")
        if self.to is None and not self.data:
            raise ValidationError("data", b"", "a contract creation needs bytecode")
        if self.gas is not None and (not isinstance(self.gas, int) or self.gas < 21_000):
            raise ValidationError("gas", self.gas, "must be an int >= 21000")


@dataclass(frozen=True, slots=True)
class PendingTx:
    """A journaled transaction: ``tx_hash`` is the latest attempt for ``intent`` at ``nonce``."""

    intent: str
    sender: str
    nonce: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """A mined transaction, ``confirmations`` deep when returned by :meth:`TransactionManager.wait`."""

    intent: str
    tx_hash: str
    kind: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int
    effective_gas_price: int
    contract_address: str | None
    logs: tuple[Any, ...]

    @property
    def fee_wei(self) -> int:
        return self.gas_used * self.effective_gas_price


def _hex(b: Any) -> str:
    return "0x" + bytes(b).hex()


def _revert_reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for prefix in (
        "('",
        "execution reverted: ",
        "VM Exception while processing transaction: reverted with reason string ",
    ):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.strip("'\")(, ")[:160]


class _NonceTakenError(ChainError):
    """Internal: a never-broadcast transaction's nonce was used by another sender."""


class _NonceGapError(ChainError):
    """Internal: the node is missing a lower nonce of ours."""


class TransactionManager:
    """Sends transactions for one :class:`Signer` through one :class:`ChainClient`.

    Create with :meth:`open` (reads nonces from the node, adopts the journal's open intents).
    """

    def __init__(self, client: ChainClient, signer: Signer, journal: Journal, policy: GasPolicy) -> None:
        self.client = client
        self.signer = signer
        self.journal = journal
        self.policy = policy
        self.address = to_checksum_address(signer.address)
        self.nonces = NonceManager(self.address)
        self.poll_s = 0.05
        self.sign_count = 0
        self.broadcast_count = 0
        self.rebroadcasts: list[tuple[str, str, str]] = []  # (intent, tx_hash, why)
        self.on_rebroadcast: Callable[[str, str, str], None] | None = None
        # Called after each durable step with (step, intent): "signed" (journaled, not yet sent),
        # "sent" (broadcast and journaled), "mined" (receipt seen).  Observers only (logs, fault tests).
        self.on_step: Callable[[str, str], None] | None = None
        self._fresh: set[str] = set()  # hashes signed by this process and not yet broadcast

    def __repr__(self) -> str:
        return f"TransactionManager(account={self.address}, chain_id={self.client.chain_id}, journal={self.journal!r})"

    @classmethod
    async def open(
        cls, client: ChainClient, signer: Signer, journal: Journal, policy: GasPolicy | None = None
    ) -> TransactionManager:
        self = cls(client, signer, journal, policy or GasPolicy())
        for state in journal.intents.values():
            if state.sender == self.address and state.chain_id != client.chain_id:
                raise ChainError(
                    f"journal={journal.where!r}: holds transactions for chain {state.chain_id}, "
                    f"node is {client.chain_id}"
                )
        await self.sync_nonces()
        return self

    async def sync_nonces(self) -> None:
        latest = await self.client.nonce(self.address, "latest")
        pending = await self.client.nonce(self.address, "pending")
        self.nonces.sync(latest, max(pending, latest))
        for state in self.journal.open_intents(self.address):
            if state.nonce >= latest:
                self.nonces.adopt(state.nonce)

    # ---- preflight ----------------------------------------------------------------------------
    async def _fees(self) -> FeeQuote:
        block = await self.client.get_block("pending")
        base = int(block.get("baseFeePerGas", 0) or 0)
        tip = await self.client.max_priority_fee()
        return self.policy.fees(base, tip)

    async def preflight(self, request: TxRequest) -> tuple[int, FeeQuote]:
        """Gas limit and fees for ``request``; raises before anything is signed if it cannot succeed."""
        tx: dict[str, Any] = {"from": self.address, "value": request.value, "data": bytes(request.data)}
        if request.to is not None:
            tx["to"] = request.to
        fees = await self._fees()
        if request.gas is not None:
            gas = request.gas
        else:
            try:
                estimate = await self.client.estimate_gas(tx, "pending")
            except (ContractLogicError, ContractCustomError, ContractPanicError) as exc:
                raise PreflightError(f"to={request.to}: would revert: {_revert_reason(exc)}") from None
            except Web3RPCError as exc:
                reason = _revert_reason(exc)
                if "insufficient funds" in reason.lower():
                    raise InsufficientFundsError(f"account={self.address}: insufficient ETH ({reason})") from None
                raise PreflightError(f"to={request.to}: estimate failed: {reason}") from None
            except ChainError:
                raise
            except Exception as exc:  # in-process backends raise their own revert types
                raise PreflightError(f"to={request.to}: would revert: {_revert_reason(exc)}") from None
            gas = self.policy.gas_limit(estimate)
        balance = await self.client.balance(self.address, "pending")
        need = request.value + gas * fees.max_fee_per_gas
        if balance < need:
            raise InsufficientFundsError(
                f"account={self.address}: balance {balance} wei < {need} wei needed (value {request.value} + "
                f"gas {gas} x maxFeePerGas {fees.max_fee_per_gas})"
            )
        return gas, fees

    # ---- signing and sending ------------------------------------------------------------------
    async def _sign(self, nonce: int, request: TxRequest, gas: int, fees: FeeQuote, kind: str) -> Attempt:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.client.chain_id,
            "nonce": nonce,
            "value": request.value,
            "data": bytes(request.data),
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        if request.to is not None:
            tx["to"] = request.to
        signed = await self.signer.sign_transaction(tx)
        self.sign_count += 1
        return Attempt(
            tx_hash=signed.tx_hash,
            raw_hex=_hex(signed.raw),
            to=request.to or "",
            value=request.value,
            data_hex=_hex(request.data),
            gas=gas,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            kind=kind,
        )

    def pending(self, intent: str) -> PendingTx:
        """The journaled transaction of ``intent`` (its latest attempt)."""
        state = self.journal.intents.get(intent)
        if state is None:
            raise ValidationError("intent", intent, f"not in the journal {self.journal.where}")
        return self._pending(state)

    def _pending(self, state: IntentState) -> PendingTx:
        return PendingTx(intent=state.intent, sender=state.sender, nonce=state.nonce, tx_hash=state.latest.tx_hash)

    def _step(self, step: str, intent: str) -> None:
        if self.on_step is not None:
            self.on_step(step, intent)

    async def prepare(
        self,
        intent: str,
        request: TxRequest,
        *,
        deadline_s: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PendingTx:
        """Preflight, sign and journal ``request`` as ``intent`` without broadcasting it.

        ``deadline_s`` (chain time, unix seconds): after it the transaction is never (re)sent;
        ``meta``: journaled with it for the caller (see :meth:`keel.chain.Journal.record_signed`).
        """
        known = self.journal.intents.get(intent)
        if known is not None and known.status != "released":
            return self._pending(known)
        gas, fees = await self.preflight(request)
        nonce = self.nonces.reserve()
        try:
            attempt = await self._sign(nonce, request, gas, fees, "call" if request.to else "create")
            self.journal.record_signed(
                intent=intent,
                sender=self.address,
                chain_id=self.client.chain_id,
                nonce=nonce,
                attempt=attempt,
                deadline_s=deadline_s,
                meta=meta,
            )
        except BaseException:
            self.nonces.release(nonce)
            raise
        self._fresh.add(attempt.tx_hash)
        self._step("signed", intent)
        return self._pending(self.journal.intents[intent])

    async def broadcast(self, pending: PendingTx) -> PendingTx:
        """Broadcast the journaled bytes of ``pending``'s latest attempt (idempotent)."""
        state = self.journal.intents[pending.intent]
        attempt = state.latest
        again = attempt.tx_hash not in self._fresh
        if again and await self._past_deadline(state):
            raise TxDroppedError(f"intent={state.intent!r}: past its deadline; not sent again")
        try:
            self._fresh.discard(attempt.tx_hash)
            await self.client.send_raw(bytes.fromhex(attempt.raw_hex[2:]))
        except Web3RPCError as exc:
            message = str(exc).lower()
            if "already known" in message or "known transaction" in message or "already imported" in message:
                pass
            elif "nonce too low" in message or "nonce is too low" in message:
                # Either our own attempt is already mined, or someone else used the nonce: decide on chain.
                receipt = await self._find_receipt(state)
                if receipt is None and state.status == "signed" and len(state.attempts) == 1:
                    # Never accepted by any node, and now it never can be: free the intent to re-sign.
                    self.journal.record_released(state.intent, "nonce taken before broadcast")
                    self.nonces.done(state.nonce)
                    raise _NonceTakenError(state.nonce) from None
                if receipt is None:
                    self.journal.record_dropped(state.intent, "nonce consumed by another transaction")
                    self.nonces.done(state.nonce)
                    raise TxDroppedError(
                        f"intent={state.intent!r}: nonce {state.nonce} was used by another transaction"
                    ) from None
            elif "nonce too high" in message and state.status == "signed" and len(state.attempts) == 1:
                # A lower nonce of ours is missing on the node (a reorg took it, or a node restart lost
                # its mempool): free this intent; submit() recovers the journal and re-signs.
                self.journal.record_released(state.intent, "nonce gap on the node")
                self.nonces.release(state.nonce)
                raise _NonceGapError(state.nonce) from None
            elif await self.client.transaction(attempt.tx_hash) is not None:
                pass  # the node errored but holds (or mined) the transaction: it was sent
            else:
                if state.status == "signed" and len(state.attempts) == 1:
                    self.journal.record_released(state.intent, _revert_reason(exc))
                    self.nonces.release(state.nonce)
                raise ChainError(
                    f"intent={state.intent!r}: node rejected the transaction: {_revert_reason(exc)}"
                ) from None
        self.broadcast_count += 1
        if again:
            why = "journaled before a restart" if state.status == "signed" else "vanished from the node"
            self.journal.record_rebroadcast(state.intent, attempt.tx_hash, why)
            self.rebroadcasts.append((state.intent, attempt.tx_hash, why))
            if self.on_rebroadcast is not None:
                self.on_rebroadcast(state.intent, attempt.tx_hash, why)
        if state.status == "signed":
            self.journal.record_sent(state.intent, attempt.tx_hash)
        self._step("sent", state.intent)
        return self._pending(state)

    async def _past_deadline(self, state: IntentState) -> bool:
        """True (and the intent marked dropped, its nonce freed) when ``state`` can only revert now."""
        if state.deadline_s is None or state.final:
            return False
        head = await self.client.get_block("latest")
        if int(head["timestamp"]) < state.deadline_s:
            return False
        if await self._find_receipt(state) is not None or await self._known_to_node(state):
            return False
        self.journal.record_dropped(state.intent, f"past its deadline ({state.deadline_s}); never sent again")
        if state.nonce in self.nonces.in_flight:
            self.nonces.release(state.nonce)
        return True

    async def submit(
        self,
        intent: str,
        request: TxRequest,
        *,
        deadline_s: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PendingTx:
        """Send ``request`` once under the id ``intent``: a journaled intent is never signed again."""
        known = self.journal.intents.get(intent)
        if known is not None and known.status != "released":
            if known.status == "dropped":
                raise TxDroppedError(f"intent={intent!r}: dropped earlier; not sent again")
            if known.status == "signed":
                return await self.broadcast(self._pending(known))
            return self._pending(known)
        for _ in range(3):
            try:
                return await self.broadcast(await self.prepare(intent, request, deadline_s=deadline_s, meta=meta))
            except _NonceTakenError:
                await self.sync_nonces()  # another sender used the nonce: take the next free one
            except _NonceGapError:
                await self.recover()  # re-broadcast our vanished transactions from the journal
                self.nonces.rewind(await self.client.nonce(self.address, "pending"))
        raise ChainError(f"intent={intent!r}: nonce conflicts with the node three times in a row")

    async def send(
        self,
        intent: str,
        request: TxRequest,
        confirmations: int = 1,
        timeout_s: float = 60.0,
        *,
        deadline_s: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> TxReceipt:
        """:meth:`submit` then :meth:`wait`; raises :class:`TxRevertedError` if the transaction reverted."""
        pending = await self.submit(intent, request, deadline_s=deadline_s, meta=meta)
        receipt = await self.wait(pending, confirmations=confirmations, timeout_s=timeout_s)
        if receipt.status != 1:
            raise TxRevertedError(
                f"intent={intent!r}: transaction {receipt.tx_hash} reverted in block {receipt.block_number}"
            )
        return receipt

    # ---- receipts, confirmations, reorgs ------------------------------------------------------
    async def _find_receipt(self, state: IntentState) -> dict[str, Any] | None:
        for attempt in reversed(state.attempts):
            r = await self.client.receipt(attempt.tx_hash)
            if r is not None:
                return r
        return None

    def _receipt(self, state: IntentState, r: dict[str, Any]) -> TxReceipt:
        tx_hash = _hex(r["transactionHash"])
        kind = next((a.kind for a in state.attempts if a.tx_hash == tx_hash), "call")
        contract = r.get("contractAddress")
        return TxReceipt(
            intent=state.intent,
            tx_hash=tx_hash,
            kind=kind,
            block_number=int(r["blockNumber"]),
            block_hash=_hex(r["blockHash"]),
            status=int(r["status"]),
            gas_used=int(r["gasUsed"]),
            effective_gas_price=int(r.get("effectiveGasPrice", 0) or 0),
            contract_address=None if not contract else to_checksum_address(contract),
            logs=tuple(r.get("logs", ())),
        )

    async def _known_to_node(self, state: IntentState) -> bool:
        for attempt in state.attempts:
            if await self.client.transaction(attempt.tx_hash) is not None:
                return True
        return False

    async def check(self, pending: PendingTx) -> TxReceipt | None:
        """One look at the chain: the canonical receipt, or None (after re-broadcasting a vanished one)."""
        state = self.journal.intents[pending.intent]
        if state.status == "dropped":
            raise TxDroppedError(f"intent={state.intent!r}: dropped (nonce {state.nonce} used by another transaction)")
        r = await self._find_receipt(state)
        if r is not None:
            block_hash = _hex(r["blockHash"])
            canonical = await self.client.block_hash(int(r["blockNumber"]))
            if canonical == block_hash:
                if state.status != "mined" or state.block_hash != block_hash:
                    self.journal.record_mined(
                        state.intent, _hex(r["transactionHash"]), int(r["blockNumber"]), block_hash, int(r["status"])
                    )
                    self.nonces.done(state.nonce)
                    self._step("mined", state.intent)
                return self._receipt(state, r)
        # No canonical receipt: pending in a mempool, or gone (reorg / node restart / eviction).
        if state.status == "mined":
            self.journal.record_unmined(state.intent, state.mined_hash)
        if await self._known_to_node(state):
            return None
        latest = await self.client.nonce(self.address, "latest")
        if latest > state.nonce:
            r = await self._find_receipt(state)
            if r is not None:
                return None  # mined between our two looks; the next check reads it
            self.journal.record_dropped(state.intent, "nonce consumed by another transaction")
            self.nonces.done(state.nonce)
            raise TxDroppedError(f"intent={state.intent!r}: dropped (nonce {state.nonce} used by another transaction)")
        await self.broadcast(pending)  # past its deadline: dropped there (TxDroppedError), never sent
        return None

    async def wait(
        self, pending: PendingTx, confirmations: int = 1, timeout_s: float = 60.0, poll_s: float | None = None
    ) -> TxReceipt:
        """Block until ``pending`` (any of its attempts) is mined ``confirmations`` deep on the canonical chain."""
        if confirmations < 1:
            raise ValidationError("confirmations", confirmations, "must be >= 1")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            receipt = await self.check(pending)
            if receipt is not None:
                head = await self.client.block_number()
                if head - receipt.block_number + 1 >= confirmations:
                    return receipt
            if loop.time() > deadline:
                raise ChainError(
                    f"intent={pending.intent!r}: not confirmed {confirmations} deep within {timeout_s:g}s "
                    f"(latest attempt {self.journal.intents[pending.intent].latest.tx_hash})"
                )
            await asyncio.sleep(self.poll_s if poll_s is None else poll_s)

    # ---- replacement --------------------------------------------------------------------------
    async def _replace(self, pending: PendingTx, request: TxRequest, kind: str) -> PendingTx:
        state = self.journal.intents[pending.intent]
        if state.final:
            raise ChainError(f"intent={state.intent!r}: already {state.status}, cannot replace")
        if await self._find_receipt(state) is not None:
            raise ChainError(f"intent={state.intent!r}: already mined, cannot replace")
        last = state.latest
        fees = self.policy.bump(FeeQuote(last.max_fee_per_gas, last.max_priority_fee_per_gas), floor=await self._fees())
        gas = request.gas if request.gas is not None else last.gas
        balance = await self.client.balance(self.address, "latest")
        need = request.value + gas * fees.max_fee_per_gas
        if balance < need:
            raise InsufficientFundsError(
                f"account={self.address}: balance {balance} wei < {need} wei for the replacement"
            )
        attempt = await self._sign(state.nonce, request, gas, fees, kind)
        self.journal.record_signed(
            intent=state.intent, sender=self.address, chain_id=self.client.chain_id, nonce=state.nonce, attempt=attempt
        )
        return await self.broadcast(self._pending(state))

    async def speed_up(self, pending: PendingTx) -> PendingTx:
        """Re-send the same transaction at the same nonce with fees bumped."""
        last = self.journal.intents[pending.intent].latest
        to = last.to or None
        request = TxRequest(to=to, data=bytes.fromhex(last.data_hex[2:]), value=last.value, gas=last.gas)
        return await self._replace(pending, request, last.kind)

    async def cancel(self, pending: PendingTx) -> PendingTx:
        """Replace the transaction with a 0-value transfer to self at the same nonce (bumped fees)."""
        return await self._replace(pending, TxRequest(to=self.address, gas=21_000), "cancel")

    # ---- restart ------------------------------------------------------------------------------
    async def recover(self, reorg_window: int = 64) -> list[PendingTx]:
        """After a restart: reconcile every unfinished (or recently mined) journaled intent with the chain.

        Returns the intents still pending after re-broadcasting what the node no longer knows.
        """
        head = await self.client.block_number()
        still: list[PendingTx] = []
        for state in sorted(self.journal.intents.values(), key=lambda s: s.nonce):
            if state.sender != self.address or state.status in ("dropped", "released"):
                continue
            if state.status == "mined" and state.block_number < head - reorg_window:
                continue
            try:
                receipt = await self.check(self._pending(state))
            except TxDroppedError:
                continue
            if receipt is None:
                still.append(self._pending(state))
        self.nonces = NonceManager(self.address)  # from the node's counts and the journal's open intents only
        await self.sync_nonces()
        return still
