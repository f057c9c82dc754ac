"""The live EVM environment: what an agent's world offers, read from and carried out on a node.

:class:`LiveEnvironment` has the shape of ``keel.engine.Environment`` (keel.chain is layer 2
and does not import the engine; the protocol is structural): a block clock (``block_number``,
``now_ns``, ``block_time_ns``), ``venues`` (keel.venues pools synced exactly from the chain each
block by :class:`~keel.chain.pool_sync.PoolSync`), ``pool_state(name)``, ``balance(holder,
token)`` (the account's balances read at the synced block) and ``submit(tx)``, which queues an
agent's transaction.  The runtime then calls :meth:`execute` for each queued one: every leg of
the call becomes one router swap signed, journaled and confirmed through
:class:`~keel.chain.swaps.SwapExecutor`, with its predicted output (keel.venues on the synced
state) journaled beside it, and the chain's outcome comes back as a :class:`LiveOutcome` that the
runtime turns into the engine's receipt.  Nothing is sent while :attr:`sending` is False (the
stop flag: a signal or kill switch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.chain.bindings import erc20_balance
from keel.chain.client import ChainClient
from keel.chain.errors import PreflightError, RpcUnavailableError, TxDroppedError, TxRevertedError
from keel.chain.pool_sync import PoolSync, to_venue
from keel.chain.swaps import SwapExecutor
from keel.domain import NS_PER_SECOND, PoolState, Token
from keel.errors import ChainError, ValidationError

__all__ = ["LegOutcome", "LiveEnvironment", "LiveOutcome", "LivePool"]


@dataclass(frozen=True, slots=True)
class LivePool:
    """A venue name the agents use, and where it lives on chain (``kind`` uniswap_v3/uniswap_v2, fee in pips)."""

    name: str
    kind: str
    address: str
    fee: int


@dataclass(frozen=True, slots=True)
class LegOutcome:
    """One swap sent for a leg: what keel.venues predicted and what the chain did (base units)."""

    intent: str
    venue: str
    token_in: str
    token_out: str
    amount_in: int
    predicted_out: int
    amount_out: int
    status: str  # "filled", "failed: <reason>", "refused: <reason>" (refused = never signed)
    tx_hash: str = ""
    gas_used: int = 0
    fee_wei: int = 0
    block_number: int = -1

    @property
    def filled(self) -> bool:
        return self.status == "filled"


@dataclass(slots=True)
class LiveOutcome:
    """What happened to one queued transaction (all its legs)."""

    tx_id: int
    legs: list[LegOutcome] = field(default_factory=list)

    @property
    def status(self) -> bool:
        return any(leg.filled for leg in self.legs)

    @property
    def amount_in(self) -> int:
        return sum(leg.amount_in for leg in self.legs if leg.filled)

    @property
    def amount_out(self) -> int:
        return sum(leg.amount_out for leg in self.legs if leg.filled)

    @property
    def gas_used(self) -> int:
        return sum(leg.gas_used for leg in self.legs)

    @property
    def fee_wei(self) -> int:
        return sum(leg.fee_wei for leg in self.legs)

    @property
    def block_number(self) -> int:
        return max((leg.block_number for leg in self.legs), default=-1)

    @property
    def reason(self) -> str:
        return "; ".join(leg.status for leg in self.legs if not leg.filled)


class LiveEnvironment:
    """The environment protocol over a node for one account (see the module docstring).

    Build with :meth:`open`; call :meth:`advance` once per block before the agents run.
    """

    def __init__(
        self,
        client: ChainClient,
        executor: SwapExecutor,
        pools: list[LivePool],
        syncs: dict[str, PoolSync],
        tokens: dict[str, tuple[Token, Token]],
        *,
        block_time_ns: int,
    ) -> None:
        self.client = client
        self.executor = executor
        self.pools = {p.name: p for p in pools}
        self.syncs = syncs
        self.tokens = tokens
        self._block_time_ns = block_time_ns
        self._venues: dict[str, Any] = {}
        self._balances: dict[str, int] = {}
        self._block_number = -1
        self._now_ns = 0
        self._base_fee = 0
        self._gas_used = 0
        self.queue: list[tuple[int, Any]] = []
        self._next_id = 0
        self.sending = True
        self.time_shift_ns = 0  # engine time = chain time - shift (--anchor-to-chain runs a config's clock)
        self.engine: Any = None  # the runtime's engine (``keel.runtime.build_world`` reads it)
        # The agents' view of each pool's tokens: symbol and decimals, as in simulation (no address);
        # the chain's token (with its address) is looked up by symbol when a transaction is sent.
        self.agent_tokens = {
            name: (Token(t0.symbol, t0.decimals), Token(t1.symbol, t1.decimals)) for name, (t0, t1) in tokens.items()
        }

    @classmethod
    async def open(
        cls,
        client: ChainClient,
        executor: SwapExecutor,
        pools: list[LivePool],
        *,
        block_time_ns: int,
        tick_lens: str | None = None,
    ) -> LiveEnvironment:
        """Sync every pool at the head block and read the account's balances."""
        if not pools:
            raise ValidationError("pools", pools, "the live environment needs at least one pool")
        from keel.chain.pool_sync import read_token

        syncs: dict[str, PoolSync] = {}
        tokens: dict[str, tuple[Token, Token]] = {}
        head = await client.block_number()
        for p in pools:
            if p.kind not in ("uniswap_v3", "uniswap_v2"):
                raise ValidationError(f"pools.{p.name}.kind", p.kind, "must be 'uniswap_v3' or 'uniswap_v2'")
            if not await client.code(p.address):
                raise ValidationError(f"pools.{p.name}", p.address, "no contract at this address on the chain")
            sync = PoolSync(client, p.kind, p.address, tick_lens=tick_lens if p.kind == "uniswap_v3" else None)
            state = await sync.start(head)
            syncs[p.name] = sync
            tokens[p.name] = (await read_token(client, state.token0), await read_token(client, state.token1))
        self = cls(client, executor, pools, syncs, tokens, block_time_ns=block_time_ns)
        await self._load(head)
        return self

    # ---- the environment protocol ---------------------------------------------------------------
    @property
    def block_number(self) -> int:
        return self._block_number

    @property
    def now_ns(self) -> int:
        """Engine time of the synced block: its chain timestamp less :attr:`time_shift_ns`."""
        return self._now_ns - self.time_shift_ns

    @property
    def chain_now_ns(self) -> int:
        return self._now_ns

    @property
    def block_time_ns(self) -> int:
        return self._block_time_ns

    @property
    def base_fee_wei(self) -> int:
        return self._base_fee

    @property
    def base_fee(self) -> int:
        """The synced block's base fee, wei per gas (``keel.sim.ChainSim`` has the same attribute)."""
        return self._base_fee

    @property
    def gas_used(self) -> int:
        return self._gas_used

    @property
    def venues(self) -> dict[str, Any]:
        """name -> keel.venues pool holding the synced state; the same objects all run long (refreshed in place)."""
        return self._venues

    @property
    def account(self) -> str:
        return self.executor.tm.address

    def submit(self, tx: Any) -> int:
        """Queue an agent's transaction (``keel.engine.Tx``); returns its id.  Sent by :meth:`execute`."""
        tx_id = self._next_id
        self._next_id += 1
        self.queue.append((tx_id, tx))
        return tx_id

    def balance(self, holder: str, token: str) -> int:
        """The account's balance of ``token`` (a symbol, or 'ETH') at the synced block.

        Live, every agent of the run trades from the one account, so ``holder`` (an agent name)
        does not change the answer; the simulator keeps one balance per funded agent instead."""
        return self._balances.get(token, 0)

    def cached_balances(self) -> dict[str, int]:
        """ETH and pool-token balances of the account read at the synced block (base units)."""
        return dict(self._balances)

    def pool_state(self, venue: str) -> PoolState:
        sync = self.syncs.get(venue)
        if sync is None or sync.state is None:
            raise ValidationError("venue", venue, f"not a live pool (have {sorted(self.syncs)})")
        return sync.state

    # ---- reading the chain -----------------------------------------------------------------------
    def all_tokens(self) -> dict[str, Token]:
        out: dict[str, Token] = {}
        for t0, t1 in self.tokens.values():
            out[t0.symbol] = t0
            out[t1.symbol] = t1
        return out

    async def read_balances(self, block: int | str = "latest") -> dict[str, int]:
        """ETH and every pool token of the account (base units)."""
        out = {"ETH": await self.client.balance(self.account, block)}
        for sym, tok in sorted(self.all_tokens().items()):
            out[sym] = await erc20_balance(self.client, str(tok.address), self.account, block)
        return out

    async def _load(self, number: int) -> None:
        head = await self.client.get_block(number)
        self._block_number = int(head["number"])
        self._now_ns = int(head["timestamp"]) * NS_PER_SECOND
        self._base_fee = int(head.get("baseFeePerGas", 0) or 0)
        self._gas_used = int(head["gasUsed"])
        for name, sync in self.syncs.items():
            state = await sync.refresh(number)
            fresh = to_venue(state, *self.tokens[name])
            a0, a1 = self.agent_tokens[name]
            fresh.token0, fresh.token1 = a0, a1
            fresh.name = name
            old = self._venues.get(name)
            if old is None:
                self._venues[name] = fresh
            else:  # agents, the oracle and the router hold this object: refresh it in place
                old.__dict__.update(fresh.__dict__)
        self._balances = await self.read_balances(number)

    async def reload(self) -> None:
        """Re-read the head block, the pools and the balances (after transactions outside the block loop)."""
        await self._load(await self.client.block_number())

    async def advance(self, *, mine: bool, timeout_s: float = 120.0, poll_s: float = 0.5) -> None:
        """The next block: mine one (a local test chain, ``block_time_ns`` later) or wait for it; then sync."""
        last = self._block_number
        if mine:  # exactly one block time after the last synced block, as a simulated chain produces blocks
            step_s = max(1, self._block_time_ns // NS_PER_SECOND)
            try:
                await self.client.rpc("evm_setNextBlockTimestamp", [self._now_ns // NS_PER_SECOND + step_s])
            except ChainError:  # blocks mined since (our own transactions) are already later: just move on
                await self.client.rpc("evm_increaseTime", [step_s])
            await self.client.rpc("evm_mine")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.client.block_number() <= last:
            if loop.time() > deadline:
                raise ChainError(f"rpc={self.client.endpoint!r}: no new block within {timeout_s:g}s")
            await asyncio.sleep(poll_s)
        await self._load(await self.client.block_number())

    # ---- carrying transactions out ---------------------------------------------------------------
    def _legs(self, tx: Any) -> list[tuple[str, Token, int, int]]:
        """(venue, token_in, amount_in, min_out) per leg of a SwapCall or a one-hop-per-leg RouteCall."""
        call = tx.call
        plan = getattr(call, "plan", None)
        if plan is None:
            return [(call.venue, call.token_in, int(call.amount_in), int(call.min_amount_out))]
        legs = []
        total_out = max(1, int(plan.amount_out))
        for i, leg in enumerate(plan.legs):
            if len(leg.venues) != 1 or getattr(leg, "exact_out", False):
                raise ValidationError(f"plan.legs[{i}]", leg.venues, "live mode sends one-hop exact-input legs only")
            min_out = -(-int(leg.amount_out) * int(call.min_amount_out) // total_out)  # pro rata, rounded up
            legs.append((leg.venues[0], leg.tokens[0], int(leg.amount_in), min_out))
        return legs

    async def execute(self, tx_id: int, tx: Any, *, intent: str, meta: Mapping[str, Any] | None = None) -> LiveOutcome:
        """Send ``tx``'s legs as router swaps (intent ids ``{intent}:{leg}``); returns what happened."""
        outcome = LiveOutcome(tx_id)
        try:
            legs = self._legs(tx)
        except ValidationError as exc:
            outcome.legs.append(LegOutcome(intent, "", "", "", 0, 0, 0, f"refused: {exc}"))
            return outcome
        ts = self.now_ns  # the agent's deadline is in engine time
        deadline_ns = getattr(tx.call, "deadline_ns", None) or ts + 60 * NS_PER_SECOND
        deadline_s = max(1, (deadline_ns - ts) // NS_PER_SECOND)
        for i, (venue_name, agent_token_in, amount_in, min_out) in enumerate(legs):
            leg_intent = f"{intent}:{i}"
            pool = self.pools.get(venue_name)
            if pool is None:
                outcome.legs.append(
                    LegOutcome(
                        leg_intent, venue_name, agent_token_in.symbol, "", amount_in, 0, 0, "refused: unknown venue"
                    )
                )
                continue
            t0, t1 = self.tokens[venue_name]
            token_in, token_out = (t0, t1) if agent_token_in.symbol == t0.symbol else (t1, t0)
            venue = self._venues[venue_name]
            predicted = int(venue.quote_exact_in(agent_token_in, amount_in).amount_out)
            record = {
                "venue": venue_name, "token_in": token_in.symbol, "token_out": token_out.symbol,
                "amount_in": amount_in, "predicted_out": predicted, "min_out": min_out,
                "block": self._block_number, **dict(meta or {}),
            }  # fmt: skip
            known = self.executor.tm.journal.intents.get(leg_intent)
            if not self.sending and (known is None or known.status == "released"):
                outcome.legs.append(
                    LegOutcome(leg_intent, venue_name, token_in.symbol, token_out.symbol, amount_in, predicted, 0,
                               "refused: stopping")
                )  # fmt: skip
                continue
            try:
                fill = await self.executor.swap_exact_in(
                    leg_intent, kind=pool.kind, token_in=str(token_in.address), token_out=str(token_out.address),
                    amount_in=amount_in, min_amount_out=min_out, fee=pool.fee, deadline_s=int(deadline_s), meta=record,
                )  # fmt: skip
            except PreflightError as exc:
                status = "refused" if self.executor.tm.journal.intents.get(leg_intent) is None else "failed"
                outcome.legs.append(
                    LegOutcome(leg_intent, venue_name, token_in.symbol, token_out.symbol, amount_in, predicted, 0,
                               f"{status}: {exc}")
                )  # fmt: skip
                continue
            except (TxRevertedError, TxDroppedError, ChainError) as exc:
                if isinstance(exc, RpcUnavailableError):
                    raise
                state = self.executor.tm.journal.intents.get(leg_intent)
                r = await self.client.receipt(state.mined_hash) if state is not None and state.mined_hash else None
                gas = int(r["gasUsed"]) if r else 0
                fee = gas * int(r.get("effectiveGasPrice", 0) or 0) if r else 0
                outcome.legs.append(
                    LegOutcome(leg_intent, venue_name, token_in.symbol, token_out.symbol, amount_in, predicted, 0,
                               f"failed: {exc}", state.mined_hash if state else "", gas, fee,
                               state.block_number if state else -1)
                )  # fmt: skip
                continue
            outcome.legs.append(
                LegOutcome(leg_intent, venue_name, token_in.symbol, token_out.symbol, fill.amount_in, predicted,
                           fill.amount_out, "filled", fill.tx_hash, fill.gas_used, fill.fee_wei, fill.block_number)
            )  # fmt: skip
        return outcome
