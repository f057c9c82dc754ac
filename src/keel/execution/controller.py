"""Execution controller: parent orders worked over blocks as pure, event-driven decisions.

The caller (a chain simulator, a live loop, a test harness) drives it:

* ``on_block(block_number, ts_ns, venues, oracle_price, observed_volume)`` returns the child
  orders to send in this block.  Each child carries a :class:`~keel.execution.RoutePlan`
  re-planned on the venues' current state, a ``min_out`` (oracle value of the child less the
  slippage tolerance, and never less than an intent's pro-rata minimum) and a
  ``deadline_block``.  A child whose quote is already below its ``min_out`` is not sent (the
  block is recorded as skipped with the reason): the guard against manipulated pools and
  sandwiches, since a child's on-chain minimum makes any extraction beyond it revert.
* ``on_result(child, ChildFill | Revert)`` updates the order; a reverted or expired child's
  amount is re-planned in a later block.
* ``report(order_id)`` gives the implementation shortfall against the arrival oracle price
  (gross and net of gas), gas, fills, reverts and skipped blocks.

Schedules: ``TWAP`` (cumulative target ``amount * elapsed / duration`` blocks, the rest at the
last block), ``PARTICIPATION`` (each child at most ``participation`` times the volume observed
in the previous block; no catch-up past the limit), ``ICEBERG`` (one visible child of ``clip``
at a time) and ``IMMEDIATE`` (everything at once: intents).

``oracle_price`` maps each token to its price in a common numeraire (e.g. USD per whole token);
``observed_volume`` maps a token to the base units of it traded on the market in the last block.
Nothing here reads a clock or draws random numbers: the same events give the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from keel.domain import Token
from keel.errors import ExecutionError, KeelError, ValidationError
from keel.execution.router import RoutePlan, SmartRouter
from keel.venues.base import Revert, Venue

__all__ = [
    "Algo",
    "ChildFill",
    "ChildOrder",
    "ExecutionController",
    "ExecutionReport",
    "OrderStatus",
    "ParentOrder",
    "fill_child",
]


class Algo(str, Enum):
    TWAP = "twap"
    PARTICIPATION = "participation"
    ICEBERG = "iceberg"
    IMMEDIATE = "immediate"


class OrderStatus(str, Enum):
    WORKING = "working"
    FILLED = "filled"
    EXPIRED = "expired"


def _pos_int(name: str, value: int, *, zero_ok: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not zero_ok):
        raise ValidationError(name, value, "must be a " + ("non-negative" if zero_ok else "positive") + " int")


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """Sell ``amount`` (base units) of ``sell_token`` for ``buy_token`` between two blocks.

    ``end_block`` is the deadline (inclusive).  ``slippage_bps``: a child's minimum output is
    its oracle value times ``1 - slippage_bps/1e4``.  ``participation`` (PARTICIPATION) is the
    largest fraction of observed volume per block; ``clip`` (ICEBERG) the visible size;
    ``child_ttl_blocks`` the blocks a child may wait for inclusion; ``min_out`` an overall
    minimum output for the whole amount (intents), enforced pro rata on every child.
    """

    order_id: str
    sell_token: Token
    buy_token: Token
    amount: int
    algo: Algo
    start_block: int
    end_block: int
    slippage_bps: float = 50.0
    participation: float = 0.1
    clip: int = 0
    child_ttl_blocks: int = 1
    min_out: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.order_id, str) or not self.order_id:
            raise ValidationError("order_id", self.order_id, "must be a non-empty string")
        if self.sell_token == self.buy_token:
            raise ValidationError("buy_token", self.buy_token, "must differ from sell_token")
        _pos_int("amount", self.amount)
        try:
            object.__setattr__(self, "algo", Algo(self.algo))
        except ValueError as exc:
            raise ValidationError("algo", self.algo, "must be twap, participation, iceberg or immediate") from exc
        _pos_int("start_block", self.start_block, zero_ok=True)
        _pos_int("end_block", self.end_block, zero_ok=True)
        if self.end_block < self.start_block:
            raise ValidationError("end_block", self.end_block, f"is before start_block {self.start_block}")
        if not (isinstance(self.slippage_bps, int | float) and 0 <= self.slippage_bps < 10_000):
            raise ValidationError("slippage_bps", self.slippage_bps, "must be in [0, 10000)")
        if not (isinstance(self.participation, int | float) and 0 < self.participation <= 1):
            raise ValidationError("participation", self.participation, "must be in (0, 1]")
        _pos_int("clip", self.clip, zero_ok=True)
        if self.algo is Algo.ICEBERG and self.clip <= 0:
            raise ValidationError("clip", self.clip, "an iceberg order needs a positive clip")
        _pos_int("child_ttl_blocks", self.child_ttl_blocks, zero_ok=True)
        _pos_int("min_out", self.min_out, zero_ok=True)


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """One child: execute ``plan`` in ``block`` .. ``deadline_block``; revert below ``min_out``.

    ``oracle_out`` is the child's value at the oracle price (buy-token base units).
    """

    child_id: int
    order_id: str
    block: int
    deadline_block: int
    amount_in: int
    min_out: int
    oracle_out: int
    plan: RoutePlan


@dataclass(frozen=True, slots=True)
class ChildFill:
    """A child that executed: what it spent, received and burned in gas."""

    amount_in: int
    amount_out: int
    gas_units: int


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """Where a parent order stands.

    Prices are human units of buy token per sell token.  ``shortfall_bps`` is the
    implementation shortfall of the filled part against the arrival oracle price (positive is a
    cost); ``shortfall_net_bps`` also counts gas (valued in the buy token at each fill).
    """

    order_id: str
    status: OrderStatus
    amount: int
    filled_in: int
    filled_out: int
    remaining: int
    arrival_price: float
    avg_price: float
    shortfall_bps: float
    shortfall_net_bps: float
    gas_units: int
    gas_cost_out: int
    children: int
    fills: int
    reverts: int
    skipped: tuple[tuple[int, str], ...]
    revert_reasons: tuple[str, ...]


@dataclass
class _OrderState:
    order: ParentOrder
    status: OrderStatus = OrderStatus.WORKING
    arrival_price: float = math.nan
    filled_in: int = 0
    filled_out: int = 0
    gas_units: int = 0
    gas_cost_out: int = 0
    children: int = 0
    fills: int = 0
    reverts: int = 0
    in_flight: dict[int, ChildOrder] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    revert_reasons: list[str] = field(default_factory=list)

    @property
    def in_flight_in(self) -> int:
        return sum(c.amount_in for c in self.in_flight.values())


class ExecutionController:
    """Works parent orders block by block (see the module docstring).

    ``gas_price_wei`` and ``gas_token`` (the native token, priced by the oracle map) value gas
    in the buy token; ``max_hops`` bounds routes.
    """

    def __init__(self, *, gas_price_wei: int = 0, gas_token: Token | None = None, max_hops: int = 3) -> None:
        _pos_int("gas_price_wei", gas_price_wei, zero_ok=True)
        if gas_price_wei > 0 and gas_token is None:
            raise ValidationError("gas_token", None, "needed to value gas when gas_price_wei > 0")
        self.gas_price_wei = gas_price_wei
        self.gas_token = gas_token
        self.max_hops = max_hops
        self._orders: dict[str, _OrderState] = {}
        self._next_child = 1
        self._child_order: dict[int, str] = {}

    # ------------------------------------------------------------------ orders
    def submit(self, order: ParentOrder) -> str:
        """Add a parent order; returns its id."""
        if not isinstance(order, ParentOrder):
            raise ValidationError("order", order, "must be a ParentOrder")
        if order.order_id in self._orders:
            raise ValidationError("order_id", order.order_id, "already submitted")
        self._orders[order.order_id] = _OrderState(order)
        return order.order_id

    def cancel(self, order_id: str) -> None:
        """Stop sending children for ``order_id`` (in-flight children still report)."""
        st = self._state(order_id)
        if st.status is OrderStatus.WORKING:
            st.status = OrderStatus.EXPIRED
            st.skipped.append((-1, "cancelled"))

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(self._orders)

    def _state(self, order_id: str) -> _OrderState:
        try:
            return self._orders[order_id]
        except KeyError:
            raise ValidationError("order_id", order_id, "unknown order") from None

    # ------------------------------------------------------------------ pricing helpers
    def router(self, venues: Iterable[Venue], oracle_price: Mapping[Token, float]) -> SmartRouter:
        """The router this controller plans with, gas valued from ``oracle_price``."""
        gas_token = self.gas_token
        if self.gas_price_wei > 0 and gas_token is not None:
            native = _price(oracle_price, gas_token)

            def gas_token_price(token: Token) -> float:
                return native / _price(oracle_price, token)

            return SmartRouter(
                venues, gas_price_wei=self.gas_price_wei, gas_token_price=gas_token_price, max_hops=self.max_hops
            )
        return SmartRouter(venues, max_hops=self.max_hops)

    @staticmethod
    def oracle_value(sell: Token, buy: Token, amount: int, oracle_price: Mapping[Token, float]) -> float:
        """Value of ``amount`` base units of ``sell`` in base units of ``buy`` at the oracle."""
        px = _price(oracle_price, sell) / _price(oracle_price, buy)
        return amount / sell.unit * px * buy.unit

    # ------------------------------------------------------------------ events
    def on_block(
        self,
        block_number: int,
        ts_ns: int,
        venues: Iterable[Venue],
        oracle_price: Mapping[Token, float],
        observed_volume: Mapping[Token, int] | None = None,
    ) -> list[ChildOrder]:
        """Children to send in ``block_number`` (re-planned on the venues' current state)."""
        _pos_int("block_number", block_number, zero_ok=True)
        if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
            raise ValidationError("ts_ns", ts_ns, "must be int nanoseconds UTC")
        venue_list = list(venues)
        volume = observed_volume or {}
        out: list[ChildOrder] = []
        router: SmartRouter | None = None
        for st in self._orders.values():
            order = st.order
            # children past their deadline that never reported are treated as reverted
            for cid in [c for c, ch in st.in_flight.items() if ch.deadline_block < block_number]:
                st.in_flight.pop(cid)
                st.reverts += 1
                st.revert_reasons.append("EXPIRED")
            if st.status is not OrderStatus.WORKING or block_number < order.start_block:
                continue
            if block_number > order.end_block:
                st.status = OrderStatus.FILLED if st.filled_in >= order.amount else OrderStatus.EXPIRED
                continue
            try:
                px = _price(oracle_price, order.sell_token) / _price(oracle_price, order.buy_token)
            except ExecutionError as exc:
                st.skipped.append((block_number, str(exc)))
                continue
            if math.isnan(st.arrival_price):
                st.arrival_price = px
            size = self._child_size(st, block_number, volume)
            if size <= 0:
                continue
            if router is None:
                try:
                    router = self.router(venue_list, oracle_price)
                except KeelError as exc:
                    st.skipped.append((block_number, str(exc)))
                    continue
            try:
                plan = router.quote_exact_in(order.sell_token, order.buy_token, size)
            except KeelError as exc:
                st.skipped.append((block_number, str(exc)))
                continue
            oracle_out = math.floor(size / order.sell_token.unit * px * order.buy_token.unit)
            min_out = math.floor(oracle_out * (1.0 - order.slippage_bps / 1e4))
            if order.min_out:
                min_out = max(min_out, -((-order.min_out * size) // order.amount))
            if plan.amount_out < min_out:
                st.skipped.append(
                    (block_number, f"quote {plan.amount_out} below min_out {min_out} (oracle {oracle_out})")
                )
                continue
            child = ChildOrder(
                self._next_child,
                order.order_id,
                block_number,
                block_number + order.child_ttl_blocks,
                size,
                min_out,
                oracle_out,
                plan,
            )
            self._next_child += 1
            self._child_order[child.child_id] = order.order_id
            st.in_flight[child.child_id] = child
            st.children += 1
            out.append(child)
        return out

    def _child_size(self, st: _OrderState, block: int, volume: Mapping[Token, int]) -> int:
        order = st.order
        free = order.amount - st.filled_in - st.in_flight_in
        if free <= 0:
            return 0
        if order.algo is Algo.IMMEDIATE:
            return free
        if order.algo is Algo.ICEBERG:
            return 0 if st.in_flight else min(order.clip, free)
        if order.algo is Algo.PARTICIPATION:
            vol = volume.get(order.sell_token, 0)
            return max(0, min(free, math.floor(order.participation * vol)))
        # TWAP
        if block >= order.end_block:
            return free
        duration = order.end_block - order.start_block + 1
        elapsed = block - order.start_block + 1
        target = order.amount * elapsed // duration
        return max(0, min(free, target - st.filled_in - st.in_flight_in))

    def on_result(self, child: ChildOrder, result: ChildFill | Revert) -> None:
        """Record what happened to ``child``: a :class:`ChildFill` or the :class:`Revert`."""
        order_id = self._child_order.get(child.child_id)
        if order_id is None:
            raise ValidationError("child.child_id", child.child_id, "not a child of this controller")
        st = self._orders[order_id]
        if st.in_flight.pop(child.child_id, None) is None:
            return  # already expired
        if isinstance(result, Revert):
            st.reverts += 1
            st.revert_reasons.append(result.reason)
            return
        if not isinstance(result, ChildFill):
            raise ValidationError("result", result, "must be a ChildFill or a Revert")
        st.fills += 1
        st.filled_in += result.amount_in
        st.filled_out += result.amount_out
        st.gas_units += result.gas_units
        if result.gas_units and child.plan.gas_units:
            st.gas_cost_out += -((-child.plan.gas_cost * result.gas_units) // child.plan.gas_units)
        if st.filled_in >= st.order.amount:
            st.status = OrderStatus.FILLED

    def report(self, order_id: str) -> ExecutionReport:
        """Implementation shortfall, gas, fills and reverts of one parent order."""
        st = self._state(order_id)
        o = st.order
        fin = st.filled_in / o.sell_token.unit
        fout = st.filled_out / o.buy_token.unit
        gas_h = st.gas_cost_out / o.buy_token.unit
        avg = fout / fin if fin > 0 else math.nan
        if fin > 0 and st.arrival_price > 0:
            bench = fin * st.arrival_price
            is_bps = (bench - fout) / bench * 1e4
            is_net = (bench - fout + gas_h) / bench * 1e4
        else:
            is_bps = is_net = math.nan
        return ExecutionReport(
            o.order_id,
            st.status,
            o.amount,
            st.filled_in,
            st.filled_out,
            o.amount - st.filled_in,
            st.arrival_price,
            avg,
            is_bps,
            is_net,
            st.gas_units,
            st.gas_cost_out,
            st.children,
            st.fills,
            st.reverts,
            tuple(st.skipped),
            tuple(st.revert_reasons),
        )


def _price(oracle_price: Mapping[Token, float], token: Token) -> float:
    try:
        p = float(oracle_price[token])
    except KeyError:
        raise ExecutionError(f"oracle_price: no price for {token}") from None
    if not math.isfinite(p) or p <= 0:
        raise ExecutionError(f"oracle_price[{token}]={p}: not a usable price (halted or invalid)")
    return p


def fill_child(child: ChildOrder, venues: Iterable[Venue], block_number: int) -> ChildFill | Revert:
    """Execute ``child`` atomically on ``venues`` as a router contract would in ``block_number``.

    Legs run in order with their planned inputs; a leg that consumes an intermediate token takes
    what earlier legs produced (the last such leg takes the remainder).  If the total output is
    below ``min_out`` or the block is past the deadline, nothing changes and the
    :class:`Revert` is returned (``'TOO_LITTLE_RECEIVED'``, ``'EXPIRED'``, or the venue's reason).
    """
    if block_number > child.deadline_block:
        return Revert("EXPIRED", f"block {block_number} > deadline {child.deadline_block}")
    table = {v.name: v for v in venues}
    plan = child.plan
    try:
        trial: dict[str, Venue] = {str(name): table[name].copy() for leg in plan.legs for name in leg.venues}
    except KeyError as exc:
        return Revert("NO_VENUE", f"venue {str(exc.args[0])!r} not present")
    try:
        result = _run_legs(plan, trial)
    except Revert as exc:
        return exc
    if result.amount_out < child.min_out:
        return Revert("TOO_LITTLE_RECEIVED", f"out {result.amount_out} < min_out {child.min_out}")
    _run_legs(plan, table)  # deterministic: same result on the real venues
    return result


def _run_legs(plan: RoutePlan, table: Mapping[str, Venue]) -> ChildFill:
    last_use: dict[Token, int] = {}
    for i, leg in enumerate(plan.legs):
        last_use[leg.token_in] = i
    balance: dict[Token, int] = {}
    total_in = total_out = gas = 0
    for i, leg in enumerate(plan.legs):
        tok = leg.token_in
        if tok == plan.token_in:
            amount = leg.amount_in
            total_in += amount
        else:
            have = balance.get(tok, 0)
            amount = have if last_use[tok] == i else min(leg.amount_in, have)
            if amount <= 0:
                continue
            balance[tok] = have - amount
        for name, t in zip(leg.venues, leg.tokens, strict=False):
            q = table[name].swap_exact_in(t, amount)
            if q.amount_in != amount:
                raise Revert("LIQ", f"{name} took {q.amount_in} of {amount}")
            amount = q.amount_out
            gas += q.gas_units
        if leg.token_out == plan.token_out:
            total_out += amount
        else:
            balance[leg.token_out] = balance.get(leg.token_out, 0) + amount
    return ChildFill(total_in, total_out, gas)
