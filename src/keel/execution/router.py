"""Smart order router: best net output across fragmented liquidity, paths up to 3 hops.

Method
------
1. **Token graph.**  Tokens are nodes; every venue is an edge between its two tokens.  All
   simple token paths from ``token_in`` to ``token_out`` with at most ``max_hops`` (3) hops
   are enumerated (deterministic order: venue order given to the router).
2. **Path selection.**  Paths are ranked by their zero-size marginal rate (product over hops of
   the best venue's fee-adjusted spot rate) and taken greedily while they share no token pair
   with a path already taken (at most ``max_paths``).  Edge-disjoint paths touch disjoint
   venues, so their float models are independent and the split below is exact for them.
3. **Split** (:mod:`keel.execution.split`): marginal-rate equalization across the parallel
   venues of every hop and across paths, with a local search over which venues to touch, so a
   venue is used only when the output it adds pays its gas (valued in the output token).
4. **Exact integer realization.**  The float split is turned into integer amounts (floors;
   the remainder goes to the largest share) and executed *in order* on copies of the venues with
   their own integer math.  A path that uses one venue per hop becomes one leg (a multi-hop
   path); otherwise every hop is its own set of one-venue legs that consume the previous hop's
   exact output.  The plan's amounts are exactly what executing its legs in order produces.
   The best single venue path is realized too when the model rates it as good, and the plan
   with the larger exact net output is returned.

Gas: a plan's ``gas_units`` is the sum of the venues' own figures for the swaps as executed,
less :func:`chained_saving` for consecutive hops of one leg on the same Uniswap v4 PoolManager
(flash accounting: the intermediate token never leaves the singleton; the optimizer itself counts
each venue's stand-alone gas, so it may under-use v4 multi-hop paths, never over-use them);
``gas_cost`` values them in output-token base units as
``gas_units * gas_price_wei * gas_token_price(token_out) * 10**decimals / 1e18`` (rounded up),
where ``gas_token_price(token)`` is the price of one whole native gas token in whole ``token``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from keel.domain import Token
from keel.errors import ExecutionError, ValidationError
from keel.execution.curves import Curve, curve_out
from keel.execution.split import SplitModel, SplitProblem, SplitSolution
from keel.execution.venue_models import CurveCache
from keel.venues.base import Revert, Venue

__all__ = ["RouteLeg", "RoutePlan", "SmartRouter", "StaleVenueError", "VenueRef", "chained_saving", "execute_plan"]

GasTokenPrice = Callable[[Token], float | int | Decimal | Fraction]


_VENUE_ATTRS = ("name", "token0", "token1", "updated_ns", "quote_exact_in", "quote_exact_out", "swap_exact_in", "copy")


class StaleVenueError(ExecutionError):
    """A venue's state is older than the router's ``max_age_ns``."""


class VenueRef(str):
    """A leg's venue: equal to (and hashing as) the venue's unique ``name``, so it keys a
    name -> venue table (e.g. copies of the venues); attribute access (``.name``,
    ``.swap_exact_in``, ...) reaches the venue object the plan was made on."""

    venue: Venue

    def __new__(cls, venue: Venue) -> VenueRef:
        ref = super().__new__(cls, venue.name)
        ref.venue = venue
        return ref

    @property
    def name(self) -> str:
        return str(self)

    def __getattr__(self, attr: str) -> Any:
        if attr == "venue" or attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.venue, attr)

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        # pickled or deep-copied, a reference is the venue's name (venues are not copied along)
        return (str, (str(self),))


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """One leg of a plan: swaps executed as one unit, through ``venues`` in order.

    ``venues[k]`` (a :class:`VenueRef`) swaps ``tokens[k]`` into ``tokens[k + 1]``, so ``tokens``
    has one more entry than ``venues``.  Amounts are exact ints in base units:

    * exact-input leg (``exact_out=False``): ``amount_in`` of ``tokens[0]`` enters ``venues[0]``
      with ``swap_exact_in``; each venue's exact output is the next venue's exact input (the
      intermediate amounts are not stored: they are what the venues return); the last venue's
      output is ``amount_out`` of ``tokens[-1]``.  A leg with several venues is a whole path with
      one venue per hop; a leg with one venue is one swap of a hop split across venues.
    * exact-output leg (``exact_out=True``, always one venue): ``swap_exact_out(tokens[0],
      amount_out)`` delivers ``amount_out`` and takes ``amount_in``.

    ``gas_units`` is the legs' venues' gas for those swaps (v4 hops chained inside one leg on
    the same PoolManager count the flash-accounting saving, see :class:`SmartRouter`).
    """

    venues: tuple[VenueRef, ...]
    tokens: tuple[Token, ...]
    amount_in: int
    amount_out: int
    gas_units: int
    exact_out: bool = False

    @property
    def token_in(self) -> Token:
        return self.tokens[0]

    @property
    def token_out(self) -> Token:
        return self.tokens[-1]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A route: integer ``amount_in`` of ``token_in`` for ``amount_out`` of ``token_out``.

    ``gas_units`` over all legs; ``gas_cost`` is that gas in ``token_out`` base units and
    ``net_amount_out = amount_out - gas_cost``.  ``model_net`` is the optimizer's float figure.

    Shape.  ``legs`` are grouped by path (a token path ``token_in -> ... -> token_out`` taken by
    part of the input); within a path, either one multi-venue leg (one venue per hop) or, when a
    hop is split across venues, the one-venue legs of hop 1, then those of hop 2, and so on.
    Amounts chain exactly: the ``amount_in`` of a path's hop-``h + 1`` legs sum to the
    ``amount_out`` of its hop-``h`` legs (exact input), or the ``amount_out`` of hop ``h`` sum to
    what hop ``h + 1`` takes (exact output).  The legs whose ``token_in`` is the plan's sum to
    ``amount_in``; those whose ``token_out`` is the plan's sum to ``amount_out``.

    Replay leg by leg, in order, on the venues the plan was made on (or the same state anywhere
    else -- a chain, another simulator)::

        for leg in plan.legs:
            if leg.exact_out:
                q = venues[leg.venues[0]].swap_exact_out(leg.tokens[0], leg.amount_out)
                assert q.amount_in == leg.amount_in
            else:
                amount = leg.amount_in
                for name, token in zip(leg.venues, leg.tokens):
                    amount = venues[name].swap_exact_in(token, amount).amount_out
                assert amount == leg.amount_out

    Each leg only spends tokens that ``token_in`` or earlier legs provided, so this order is
    always executable; :func:`execute_plan` does exactly this and raises on any difference.
    """

    token_in: Token
    token_out: Token
    amount_in: int
    amount_out: int
    gas_units: int
    gas_cost: int
    net_amount_out: int
    legs: tuple[RouteLeg, ...]
    exact_out: bool = False
    model_net: float = math.nan

    @property
    def venues_touched(self) -> tuple[str, ...]:
        """Names of the venues the plan touches, in first-use order."""
        seen: dict[str, None] = {}
        for leg in self.legs:
            for name in leg.venues:
                seen.setdefault(str(name), None)
        return tuple(seen)

    @property
    def price(self) -> float:
        """Average execution price in human units of token_out per token_in (gross of gas)."""
        return (self.amount_out / self.token_out.unit) / (self.amount_in / self.token_in.unit)


def chained_saving(previous: Venue | None, venue: Venue) -> int:
    """Gas saved when ``venue``'s swap directly follows ``previous``'s inside one leg and both are
    pools of the same singleton (a Uniswap v4 PoolManager: ``singleton`` names it): with flash
    accounting the intermediate token is neither transferred nor settled.  0 otherwise."""
    if previous is None:
        return 0
    singleton = getattr(venue, "singleton", None)
    if singleton is None or getattr(previous, "singleton", None) != singleton:
        return 0
    saving = getattr(venue, "chained_hop_saving", 0)
    return saving if isinstance(saving, int) else 0


def _by_name(venues: Mapping[str, Venue] | Iterable[Venue]) -> dict[str, Venue]:
    if isinstance(venues, Mapping):
        return dict(venues)
    return {v.name: v for v in venues}


def execute_plan(plan: RoutePlan, venues: Mapping[str, Venue] | Iterable[Venue]) -> tuple[int, int, int]:
    """Execute ``plan``'s legs in order on ``venues`` (mutating them); returns (in, out, gas units).

    Raises :class:`ExecutionError` if any leg's result differs from the plan (the state moved).
    All or nothing, as one on-chain router call: the plan is first run on copies of the venues,
    and only when every leg matches is it applied to the venues themselves, so a refused plan
    leaves every venue exactly as it was.
    """
    table = _by_name(venues)
    missing = sorted({name for leg in plan.legs for name in leg.venues} - set(table))
    if missing:
        raise ExecutionError(f"venue {missing[0]!r} not given")
    _run_plan(plan, {name: v.copy() for name, v in table.items()})
    return _run_plan(plan, table)


def _run_plan(plan: RoutePlan, table: Mapping[str, Venue]) -> tuple[int, int, int]:
    total_in = total_out = gas = 0
    for i, leg in enumerate(plan.legs):
        try:
            if leg.exact_out:
                q = table[leg.venues[0]].swap_exact_out(leg.tokens[0], leg.amount_out)
                got_in, got_out, g = q.amount_in, q.amount_out, q.gas_units
            else:
                amount = leg.amount_in
                g = 0
                prev: Venue | None = None
                for name, tok in zip(leg.venues, leg.tokens, strict=False):
                    v = table[name]
                    q = v.swap_exact_in(tok, amount)
                    if q.amount_in != amount:
                        raise ExecutionError(f"leg {i}: venue {name} took {q.amount_in} of {amount}")
                    amount = q.amount_out
                    g += q.gas_units - chained_saving(prev, v)
                    prev = v
                got_in, got_out = leg.amount_in, amount
        except KeyError as exc:
            raise ExecutionError(f"leg {i}: venue {exc.args[0]!r} not given") from exc
        if got_in != leg.amount_in or got_out != leg.amount_out:
            raise ExecutionError(
                f"leg {i} via {'/'.join(leg.venues)}: got in={got_in} out={got_out}, "
                f"plan in={leg.amount_in} out={leg.amount_out}"
            )
        gas += g
        if leg.token_in == plan.token_in:
            total_in += got_in
        if leg.token_out == plan.token_out:
            total_out += got_out
    return total_in, total_out, gas


def _split_int(total: int, weights: Sequence[float]) -> list[int]:
    """Integers >= 0 proportional to ``weights`` summing exactly to ``total``."""
    wsum = float(sum(weights))
    if total <= 0 or wsum <= 0:
        return [0] * len(weights)
    parts = [math.floor(total * (w / wsum)) for w in weights]
    parts = [max(0, min(p, total)) for p in parts]
    rem = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    k = 0
    while rem != 0 and order:
        i = order[k % len(order)]
        if rem > 0:
            parts[i] += rem
            rem = 0
        elif parts[i] > 0:
            take = min(parts[i], -rem)
            parts[i] -= take
            rem += take
        k += 1
    return parts


def _split_int_capped(total: int, weights: Sequence[float], caps: Sequence[float]) -> list[int]:
    """Like :func:`_split_int` but no part above its cap; the excess goes to parts with room."""
    parts = _split_int(total, weights)
    for _ in range(len(parts) + 1):
        excess = 0
        for i, c in enumerate(caps):
            if math.isfinite(c) and parts[i] > c:
                excess += parts[i] - int(c)
                parts[i] = int(c)
        if excess == 0:
            break
        room = [(c - p if math.isfinite(c) else math.inf) if p > 0 else 0.0 for p, c in zip(parts, caps, strict=True)]
        if not any(r > 0 for r in room):
            raise ExecutionError(f"{total} exceeds the capacity of the venues")
        extra = _split_int(excess, [min(r, 1e300) for r in room])
        parts = [p + e for p, e in zip(parts, extra, strict=True)]
    return parts


@dataclass(frozen=True, slots=True)
class _Path:
    tokens: tuple[Token, ...]
    hops: tuple[tuple[int, ...], ...]  # router venue indices per hop


class SmartRouter:
    """Routes swaps across ``venues`` (any :class:`keel.venues.base.Venue`).

    ``gas_price_wei`` (int) and ``gas_token_price(token)`` (whole ``token`` per whole native gas
    token, e.g. from the oracle) value gas in the output token; with ``gas_price_wei == 0`` gas
    is ignored.  ``max_age_ns`` (optional) refuses to route through a venue whose
    ``updated_ns`` is older than ``now_ns - max_age_ns`` at quote time.
    """

    def __init__(
        self,
        venues: Iterable[Venue],
        *,
        gas_price_wei: int = 0,
        gas_token_price: GasTokenPrice | None = None,
        max_hops: int = 3,
        max_paths: int = 4,
        max_age_ns: int | None = None,
    ) -> None:
        vs = list(venues)
        if not vs:
            raise ValidationError("venues", vs, "need at least one venue")
        names: dict[str, int] = {}
        for i, v in enumerate(vs):
            # duck-typed check of the Venue protocol (isinstance on a runtime protocol is slow)
            if not all(hasattr(v, a) for a in _VENUE_ATTRS):
                raise ValidationError(f"venues[{i}]", v, "does not implement keel.venues.base.Venue")
            first = names.get(v.name)
            if first is not None:
                raise ValidationError(
                    f"venues[{i}].name",
                    v.name,
                    f"duplicate venue name: venues[{first}] ({vs[first]!r}) and venues[{i}] ({v!r}) are both "
                    "named so; give each venue a unique name (plans and execute_plan look venues up by name)",
                )
            names[v.name] = i
        if isinstance(gas_price_wei, bool) or not isinstance(gas_price_wei, int) or gas_price_wei < 0:
            raise ValidationError("gas_price_wei", gas_price_wei, "must be a non-negative int")
        if gas_price_wei > 0 and gas_token_price is None:
            raise ValidationError("gas_token_price", None, "needed to value gas when gas_price_wei > 0")
        if not isinstance(max_hops, int) or not 1 <= max_hops <= 3:
            raise ValidationError("max_hops", max_hops, "must be 1, 2 or 3")
        if not isinstance(max_paths, int) or max_paths < 1:
            raise ValidationError("max_paths", max_paths, "must be a positive int")
        if max_age_ns is not None and (not isinstance(max_age_ns, int) or max_age_ns < 0):
            raise ValidationError("max_age_ns", max_age_ns, "must be a non-negative int of nanoseconds")
        self.venues: tuple[Venue, ...] = tuple(vs)
        self.gas_price_wei = gas_price_wei
        self.gas_token_price = gas_token_price
        self.max_hops = max_hops
        self.max_paths = max_paths
        self.max_age_ns = max_age_ns
        self._cache = CurveCache()
        # per-quote memos (venue models and the gas rate do not change within one quote)
        self._memo: dict[tuple[int, Token], Curve] = {}
        self._rates: dict[Token, float] = {}
        self._adj: dict[Token, dict[Token, list[int]]] = {}
        for i, v in enumerate(self.venues):
            self._adj.setdefault(v.token0, {}).setdefault(v.token1, []).append(i)
            self._adj.setdefault(v.token1, {}).setdefault(v.token0, []).append(i)

    # ------------------------------------------------------------------ public
    @property
    def tokens(self) -> tuple[Token, ...]:
        return tuple(self._adj)

    def gas_cost(self, token_out: Token, gas_units: int) -> int:
        """Gas in ``token_out`` base units (rounded up); 0 when gas is not priced."""
        rate = self._gas_rate_now(token_out)
        return math.ceil(gas_units * rate) if rate else 0

    def quote_exact_in(
        self,
        token_in: Token,
        token_out: Token,
        amount_in: int,
        *,
        now_ns: int | None = None,
        max_age_ns: int | None = None,
    ) -> RoutePlan:
        """Best plan spending exactly ``amount_in`` (base units) of ``token_in``, by net output.

        With ``max_age_ns`` (here or on the router) every venue's ``updated_ns`` must be within
        that age of ``now_ns``, else :class:`StaleVenueError`."""
        self._check(token_in, token_out, "amount_in", amount_in, now_ns, max_age_ns)
        self._memo.clear()
        self._rates.clear()
        paths = self._select_paths(token_in, token_out, amount_in)
        problem, index = self._problem(paths, token_out, amount_in)
        model = SplitModel(problem)
        sol = model.optimize(float(amount_in))
        if not math.isfinite(sol.net):
            raise ExecutionError(
                f"amount_in={amount_in}: exceeds the liquidity of every route from {token_in} to {token_out}"
            )
        candidates: list[RoutePlan] = []
        errors: list[str] = []
        try:
            candidates.append(self._realize_in(paths, problem, index, sol, token_in, token_out, amount_in))
        except (ExecutionError, Revert) as exc:
            errors.append(str(exc))
        single = self._best_single(model, problem, amount_in)
        if single is not None and (not candidates or single.net >= sol.net - abs(sol.net) * 1e-9):
            try:
                candidates.append(self._realize_in(paths, problem, index, single, token_in, token_out, amount_in))
            except (ExecutionError, Revert) as exc:
                errors.append(str(exc))
        if not candidates:
            raise ExecutionError(f"amount_in={amount_in}: no route can absorb it ({'; '.join(errors)})")
        return max(candidates, key=lambda p: (p.net_amount_out, -len(p.legs)))

    def quote_exact_out(
        self,
        token_in: Token,
        token_out: Token,
        amount_out: int,
        *,
        now_ns: int | None = None,
        max_age_ns: int | None = None,
    ) -> RoutePlan:
        """Plan delivering exactly ``amount_out`` of ``token_out`` for the least input (gas-aware split)."""
        self._check(token_in, token_out, "amount_out", amount_out, now_ns, max_age_ns)
        self._memo.clear()
        self._rates.clear()
        paths = self._select_paths(token_in, token_out, amount_out)
        spot = max(self._path_spot(p) for p in paths)
        if spot <= 0:
            raise ExecutionError(f"no liquidity from {token_in} to {token_out}")
        problem, index = self._problem(paths, token_out, 10**60)  # complete models: the input is unknown
        model = SplitModel(problem)
        target = float(amount_out)

        def gross(a: float) -> tuple[float, SplitSolution]:
            s = model.optimize(a)
            return (s.gross if math.isfinite(s.net) else -1.0), s

        a_lo, g_lo = 0.0, 0.0
        a_hi = target / spot
        g_hi, s_hi = gross(a_hi)
        grow = 0
        while g_hi < target:
            if g_hi < 0 or grow > 200:  # beyond capacity
                raise ExecutionError(
                    f"amount_out={amount_out}: more than the liquidity from {token_in} to {token_out} can deliver"
                )
            a_lo, g_lo = a_hi, g_hi
            a_hi *= 1.5
            grow += 1
            g_hi, s_hi = gross(a_hi)
        for _ in range(100):
            if a_hi - a_lo <= max(1e-12 * a_hi, 0.25):
                break
            a = a_lo + (target - g_lo) * (a_hi - a_lo) / (g_hi - g_lo) if g_hi > g_lo else 0.5 * (a_lo + a_hi)
            if not a_lo < a < a_hi:
                a = 0.5 * (a_lo + a_hi)
            g, s = gross(a)
            if g < 0:
                a_hi, g_hi = a, math.inf
                continue
            if g >= target:
                a_hi, g_hi, s_hi = a, g, s
            else:
                a_lo, g_lo = a, g
        try:
            return self._realize_out(paths, problem, index, s_hi, token_in, token_out, amount_out)
        except Revert as exc:
            raise ExecutionError(f"amount_out={amount_out}: {exc}") from exc

    def refresh(self) -> None:
        """Drop cached venue models.  Never needed for Keel venues (models are keyed on their
        ``state_version``); a custom venue without one needs it after changing its liquidity
        without a price or ``updated_ns`` change."""
        self._cache.clear()

    # ------------------------------------------------------------------ checks
    def _check(
        self, token_in: Token, token_out: Token, field: str, amount: int, now_ns: int | None, max_age: int | None
    ) -> None:
        if not isinstance(token_in, Token):
            raise ValidationError("token_in", token_in, "must be a keel Token")
        if not isinstance(token_out, Token):
            raise ValidationError("token_out", token_out, "must be a keel Token")
        if token_in not in self._adj:
            raise ValidationError("token_in", token_in.symbol, "unknown token: no venue trades it")
        if token_out not in self._adj:
            raise ValidationError("token_out", token_out.symbol, "unknown token: no venue trades it")
        if token_in == token_out:
            raise ValidationError("token_out", token_out.symbol, "must differ from token_in")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError(field, amount, "must be an int of base units")
        if amount <= 0:
            raise ValidationError(field, amount, "must be positive")
        max_age = self.max_age_ns if max_age is None else max_age
        if max_age is not None:
            if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
                raise ValidationError("max_age_ns", max_age, "must be a non-negative int of nanoseconds")
            if now_ns is None:
                raise ValidationError("now_ns", now_ns, "needed to check venue ages against max_age_ns")
            for v in self.venues:
                age = now_ns - v.updated_ns
                if age > max_age:
                    raise StaleVenueError(
                        f"venue={v.name!r}: state is {age} ns old at now_ns={now_ns}, older than max_age_ns={max_age}"
                    )

    def _gas_rate(self, token_out: Token) -> float:
        """Output-token base units per gas unit (memoized within one quote)."""
        if self.gas_price_wei == 0 or self.gas_token_price is None:
            return 0.0
        rate = self._rates.get(token_out)
        if rate is None:
            rate = self._rates[token_out] = self._gas_rate_now(token_out)
        return rate

    def _gas_rate_now(self, token_out: Token) -> float:
        if self.gas_price_wei == 0 or self.gas_token_price is None:
            return 0.0
        try:
            price = Fraction(str(self.gas_token_price(token_out)))
        except Exception as exc:
            raise ExecutionError(f"gas_token_price({token_out}) failed: {exc}") from exc
        if price < 0:
            raise ExecutionError(f"gas_token_price({token_out})={price}: must be non-negative")
        return float(self.gas_price_wei * price * token_out.unit / 10**18)

    # ------------------------------------------------------------------ paths and models
    def _enumerate(self, token_in: Token, token_out: Token) -> list[tuple[Token, ...]]:
        out: list[tuple[Token, ...]] = []

        def walk(path: list[Token]) -> None:
            here = path[-1]
            for nxt in self._adj.get(here, {}):
                if nxt in path:
                    continue
                if nxt == token_out:
                    out.append((*path, nxt))
                elif len(path) < self.max_hops:
                    walk([*path, nxt])

        walk([token_in])
        return out

    def _curve(self, i: int, token_in: Token, size_hint: int) -> Curve:
        key = (i, token_in)
        curve = self._memo.get(key)
        if curve is not None and (curve.complete or curve.max_in >= size_hint):
            return curve
        curve = self._memo[key] = self._cache.get(self.venues[i], token_in, size_hint)
        return curve

    def _path_spot(self, path: _Path, amount: int = 1) -> float:
        """Zero-size rate of the path (models built for ``amount`` on the first hop)."""
        m = 1.0
        hint = amount
        for hop, tok in zip(path.hops, path.tokens, strict=False):
            m *= max((self._curve(i, tok, hint + 1).spot for i in hop), default=0.0)
            hint = 1
        return m

    def _select_paths(self, token_in: Token, token_out: Token, amount: int) -> list[_Path]:
        token_paths = self._enumerate(token_in, token_out)
        if not token_paths:
            raise ExecutionError(f"no path from {token_in} to {token_out} within {self.max_hops} hops")
        paths = []
        for tp in token_paths:
            hops = tuple(tuple(self._adj[a][b]) for a, b in itertools.pairwise(tp))
            paths.append(_Path(tp, hops))
        ranked = sorted(paths, key=lambda p: -self._path_spot(p, amount))
        chosen: list[_Path] = []
        used: set[frozenset[Token]] = set()
        for p in ranked:
            pairs = {frozenset((a, b)) for a, b in zip(p.tokens[:-1], p.tokens[1:], strict=True)}
            if pairs & used:
                continue
            if self._path_spot(p) <= 0:
                continue
            chosen.append(p)
            used |= pairs
            if len(chosen) >= self.max_paths:
                break
        if not chosen:
            raise ExecutionError(f"no path with liquidity from {token_in} to {token_out}")
        return chosen

    def _problem(self, paths: list[_Path], token_out: Token, size_hint: int) -> tuple[SplitProblem, list[int]]:
        rate = self._gas_rate(token_out)
        curves: list[Curve] = []
        index: list[int] = []  # problem venue j -> router venue index
        ppaths = []
        for p in paths:
            hops = []
            hint = float(size_hint)  # the most any venue of this hop can be given
            for hop, tok in zip(p.hops, p.tokens, strict=False):
                js = []
                best_spot = 0.0
                for i in hop:
                    js.append(len(curves))
                    c = self._curve(i, tok, min(int(hint) + 1, 10**60))
                    curves.append(c)
                    best_spot = max(best_spot, c.spot)
                    index.append(i)
                hops.append(tuple(js))
                hint *= best_spot
            ppaths.append(tuple(hops))
        gas_out = tuple(c.gas_units * rate for c in curves)
        return SplitProblem(tuple(curves), tuple(ppaths), gas_out), index

    def _best_single(self, model: SplitModel, problem: SplitProblem, amount: int) -> SplitSolution | None:
        """Best one-venue-per-hop route by the model: per path, the venue with the largest
        output at each hop for the amount arriving there."""
        best: SplitSolution | None = None
        n = len(problem.curves)
        for hops in problem.paths:
            mask = np.zeros(n, dtype=np.bool_)
            x = float(amount)
            for hop in hops:
                best_j = max(hop, key=lambda j: curve_out(problem.curves[j], x) - problem.gas_out[j])
                mask[best_j] = True
                x = curve_out(problem.curves[best_j], x)
            sol = model.solve(float(amount), mask)
            if math.isfinite(sol.net) and (best is None or sol.net > best.net):
                best = sol
        return best

    # ------------------------------------------------------------------ realization
    def _realize_in(
        self,
        paths: list[_Path],
        problem: SplitProblem,
        index: list[int],
        sol: SplitSolution,
        token_in: Token,
        token_out: Token,
        amount: int,
    ) -> RoutePlan:
        copies: dict[int, Venue] = {}

        def venue(i: int) -> Venue:
            if i not in copies:
                copies[i] = self.venues[i].copy()
            return copies[i]

        path_amounts = _split_int(amount, [max(0.0, float(x)) for x in sol.path_in])
        j0 = 0
        legs: list[RouteLeg] = []
        total_out = 0
        for p, a_p in zip(paths, path_amounts, strict=True):
            hop_js: list[list[int]] = []
            for hop in p.hops:
                hop_js.append([j0 + k for k in range(len(hop))])
                j0 += len(hop)
            if a_p <= 0:
                continue
            used = [[j for j in js if sol.alloc[j] >= 1.0] for js in hop_js]
            if any(not u for u in used):
                used = [u or [max(js, key=lambda j: sol.alloc[j])] for u, js in zip(used, hop_js, strict=True)]
            if all(len(u) == 1 for u in used):
                amt = a_p
                gas = 0
                names: list[VenueRef] = []
                prev: Venue | None = None
                for u, tok in zip(used, p.tokens, strict=False):
                    v = venue(index[u[0]])
                    q = v.swap_exact_in(tok, amt)
                    if q.amount_in != amt:
                        raise ExecutionError(f"venue {v.name} can absorb only {q.amount_in} of {amt}")
                    amt = q.amount_out
                    gas += q.gas_units - chained_saving(prev, v)
                    prev = v
                    names.append(VenueRef(self.venues[index[u[0]]]))
                legs.append(RouteLeg(tuple(names), p.tokens, a_p, amt, gas))
                total_out += amt
                continue
            amt = a_p
            for u, tok, tok_next in zip(used, p.tokens[:-1], p.tokens[1:], strict=True):
                caps = [problem.curves[j].max_in * (1 - 1e-9) - 1 for j in u]
                shares = _split_int_capped(amt, [float(sol.alloc[j]) for j in u], caps)
                nxt = 0
                for j, share in zip(u, shares, strict=True):
                    if share <= 0:
                        continue
                    v = venue(index[j])
                    q = v.swap_exact_in(tok, share)
                    if q.amount_in != share:
                        raise ExecutionError(f"venue {v.name} can absorb only {q.amount_in} of {share}")
                    ref = VenueRef(self.venues[index[j]])
                    legs.append(RouteLeg((ref,), (tok, tok_next), share, q.amount_out, q.gas_units))
                    nxt += q.amount_out
                amt = nxt
            total_out += amt
        return self._plan(token_in, token_out, amount, total_out, legs, False, sol.net)

    def _realize_out(
        self,
        paths: list[_Path],
        problem: SplitProblem,
        index: list[int],
        sol: SplitSolution,
        token_in: Token,
        token_out: Token,
        amount: int,
    ) -> RoutePlan:
        # output per path, proportional to the model's path outputs
        j0 = 0
        per_path: list[tuple[_Path, list[list[int]]]] = []
        weights: list[float] = []
        for p in paths:
            hop_js: list[list[int]] = []
            for hop in p.hops:
                hop_js.append([j0 + k for k in range(len(hop))])
                j0 += len(hop)
            used = [[j for j in js if sol.alloc[j] >= 1.0] for js in hop_js]
            live = all(used)
            per_path.append((p, used))
            weights.append(float(sum(sol.outs[j] for j in used[-1])) if live else 0.0)
        if sum(weights) <= 0:
            raise ExecutionError(f"amount_out={amount}: no route can deliver it")
        targets = _split_int(amount, weights)
        legs: list[RouteLeg] = []
        total_in = 0
        for (p, used), target in zip(per_path, targets, strict=True):
            if target <= 0:
                continue
            # backward: required inputs per hop (each venue is touched once, so pristine quotes hold)
            hop_legs: list[list[RouteLeg]] = []
            need = target
            for h in range(len(p.hops) - 1, -1, -1):
                u = used[h]
                caps = [problem.curves[j].max_out * (1 - 1e-9) for j in u]
                shares = _split_int_capped(need, [float(sol.outs[j]) for j in u], caps)
                tok, tok_next = p.tokens[h], p.tokens[h + 1]
                this: list[RouteLeg] = []
                req = 0
                for j, share in zip(u, shares, strict=True):
                    if share <= 0:
                        continue
                    v = self.venues[index[j]]
                    q = v.quote_exact_out(tok, share)
                    if q.amount_out != share:
                        raise ExecutionError(f"venue {v.name} can deliver only {q.amount_out} of {share}")
                    this.append(RouteLeg((VenueRef(v),), (tok, tok_next), q.amount_in, share, q.gas_units, True))
                    req += q.amount_in
                hop_legs.append(this)
                need = req
            for hl in reversed(hop_legs):
                legs.extend(hl)
            total_in += need
        return self._plan(token_in, token_out, total_in, amount, legs, True, sol.net)

    def _plan(
        self,
        token_in: Token,
        token_out: Token,
        a_in: int,
        a_out: int,
        legs: list[RouteLeg],
        exact_out: bool,
        model: float,
    ) -> RoutePlan:
        gas = sum(leg.gas_units for leg in legs)
        rate = self._gas_rate(token_out)  # the rate this quote was optimized with
        cost = math.ceil(gas * rate) if rate else 0
        return RoutePlan(
            token_in, token_out, a_in, a_out, gas, cost, a_out - cost, tuple(legs), exact_out, float(model)
        )
