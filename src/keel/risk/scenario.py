"""The scenario grid of portfolio margin and its compiled revaluation kernels.

A grid is a list of (price move, vol shock, weight) scenarios applied to every instrument of
one underlying.  As in CME SPAN, each listed instrument is revalued once per scenario into a
*risk array* (PnL per unit, USD), and an account's scenario PnL is the quantity-weighted sum
of its instruments' risk arrays: the expensive option revaluation is shared by every account
holding the instrument, the per-account work is a gather and a sum.

Defaults follow Deribit's portfolio margin: price moves of ±16% in 9 steps, implied-vol shocks
``σ' = σ·(1 + v·(30/max(DTE, 1))^0.3)`` with v ∈ {−30%, 0, +45%} (27 regular scenarios), and
two extended moves (−66%, +500%) whose losses count at a dampened weight of 1/3 (SPAN's
extreme-move convention).  Options are revalued with the Black-Scholes formula using the
branch-free normal cdf of :mod:`keel.pricing.simd` (vectorizes to SIMD; relative accuracy
~1e-13, checked against ``keel.pricing.kernels.bs_price`` and QuantLib in the tests).

For books whose positions share no listed instrument (OTC strikes), :func:`position_scan`
revalues every position itself in one pass without materializing risk arrays.

Instrument kinds in the kernels: ``KIND_LINEAR`` (value S per unit: spot holdings, linear
perpetuals and futures), ``KIND_INVERSE`` (1 USD notional of an inverse perpetual/future,
PnL valued in USD at the scenario price: ``S'/S − 1``), ``KIND_CALL`` and ``KIND_PUT``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
from numba import njit, prange

from keel.errors import ValidationError
from keel.pricing.simd import vnorm_cdf

__all__ = [
    "KIND_CALL",
    "KIND_INVERSE",
    "KIND_LINEAR",
    "KIND_PUT",
    "ScenarioGrid",
    "portfolio_scan",
    "position_scan",
    "risk_arrays",
]

KIND_LINEAR = 0
KIND_INVERSE = 1
KIND_CALL = 2
KIND_PUT = 3


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """Price moves × vol shocks, plus dampened extended moves.

    ``price_range``: the largest regular relative move (0.16 = ±16%), ``n_price`` points
    spaced evenly over ``[−range, +range]``.  ``vol_shocks``: relative implied-vol shocks
    scaled per option by ``(30/max(DTE, dte_floor_days))^vol_power``.  ``extended_moves``
    are relative moves evaluated at unshocked vol whose PnL counts times ``extended_weight``.
    """

    price_range: float = 0.16
    n_price: int = 9
    vol_shocks: tuple[float, ...] = (-0.30, 0.0, 0.45)
    vol_power: float = 0.3
    dte_floor_days: float = 1.0
    extended_moves: tuple[float, ...] = (-0.66, 5.0)
    extended_weight: float = 1.0 / 3.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.price_range) and 0.0 < self.price_range < 1.0):
            raise ValidationError("price_range", self.price_range, "must be in (0, 1)")
        if self.n_price < 1:
            raise ValidationError("n_price", self.n_price, "must be at least 1")
        if any(not math.isfinite(v) or v <= -1.0 for v in self.vol_shocks) or not self.vol_shocks:
            raise ValidationError("vol_shocks", self.vol_shocks, "must be finite and > -1")
        if any(not math.isfinite(m) or m <= -1.0 for m in self.extended_moves):
            raise ValidationError("extended_moves", self.extended_moves, "must be finite and > -1")
        if not 0.0 <= self.extended_weight <= 1.0:
            raise ValidationError("extended_weight", self.extended_weight, "must be in [0, 1]")

    @classmethod
    def deribit(cls) -> ScenarioGrid:
        """Deribit-style defaults (±16%, 9×3 regular scenarios, −66%/+500% extended at 1/3)."""
        return cls()

    def with_range(self, price_range: float) -> ScenarioGrid:
        """The same grid with another price range (the predictive model scales this)."""
        return ScenarioGrid(
            price_range,
            self.n_price,
            self.vol_shocks,
            self.vol_power,
            self.dte_floor_days,
            self.extended_moves,
            self.extended_weight,
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(moves, vol_shocks, weights) per scenario, regular scenarios first (read-only arrays)."""
        return _grid_arrays(self)

    def _build_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.n_price == 1:
            pm = np.zeros(1)
        else:
            pm = np.linspace(-self.price_range, self.price_range, self.n_price)
        moves = [float(m) for m in pm for _ in self.vol_shocks]
        shocks = [float(v) for _ in pm for v in self.vol_shocks]
        weights = [1.0] * len(moves)
        for m in self.extended_moves:
            moves.append(float(m))
            shocks.append(0.0)
            weights.append(float(self.extended_weight))
        out = (np.array(moves), np.array(shocks), np.array(weights))
        for a in out:
            a.flags.writeable = False
        return out

    @property
    def n_regular(self) -> int:
        return self.n_price * len(self.vol_shocks)

    @property
    def n_scenarios(self) -> int:
        return self.n_regular + len(self.extended_moves)


@lru_cache(maxsize=256)
def _grid_arrays(grid: ScenarioGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return grid._build_arrays()


@lru_cache(maxsize=256)
def _log_gross(grid: ScenarioGrid) -> np.ndarray:
    """``ln(1 + move)`` per scenario (the only part of d1 a spot move changes)."""
    out: np.ndarray = np.log1p(grid.arrays()[0])
    out.flags.writeable = False
    return out


@njit(cache=True, inline="always", error_model="numpy")
def _bs_scen(sgn, s1, kdf, x, sd):  # type: ignore[no-untyped-def]
    """Black-Scholes value at scenario spot ``s1`` with ``x = ln(s1/K) + rT``, ``sd = σ'√T``.

    Branch-free (``vnorm_cdf`` from :mod:`keel.pricing.simd`) so loops over it vectorize;
    ``kdf = K·e^{−rT}``.  ``sd`` tiny (T = 0) gives the intrinsic value exactly.
    """
    return _bs_d1(sgn, s1, kdf, x / sd + 0.5 * sd, sd)


@njit(cache=True, inline="always", error_model="numpy")
def _bs_d1(sgn, s1, kdf, d1, sd):  # type: ignore[no-untyped-def]
    """Black-Scholes value from ``d1`` and ``sd = σ'√T`` (``d2 = d1 − sd``), branch-free."""
    return sgn * (s1 * vnorm_cdf(sgn * d1) - kdf * vnorm_cdf(sgn * (d1 - sd)))


# T = 0 options: sd = σ'·_SQRT_T_MIN, so d1 = ±huge and Φ is exactly 0 or 1 (intrinsic value)
_SQRT_T_MIN = 1e-150


def _risk_arrays_impl(kind, strike, t, sigma, spot, rate, moves, lnm, shocks, weights, vol_power, dte_floor):  # type: ignore[no-untyped-def]
    n = kind.shape[0]
    m = moves.shape[0]
    out = np.empty((n, m))
    for i in prange(n):
        s0 = spot[i]
        k = kind[i]
        if k == KIND_LINEAR:
            for j in range(m):
                out[i, j] = weights[j] * s0 * moves[j]
        elif k == KIND_INVERSE:
            for j in range(m):
                out[i, j] = weights[j] * moves[j]
        else:
            sgn = 1.0 if k == KIND_CALL else -1.0
            sig = sigma[i]
            sqt = max(math.sqrt(t[i]), _SQRT_T_MIN)
            x0 = math.log(s0 / strike[i]) + rate * t[i]
            kdf = strike[i] * math.exp(-rate * t[i])
            v0 = _bs_scen(sgn, s0, kdf, x0, sig * sqt)
            scale = (30.0 / max(t[i] * 365.0, dte_floor)) ** vol_power
            for j in range(m):  # vectorized across scenarios
                vol = max(sig * (1.0 + shocks[j] * scale), 0.01 * sig)
                v = _bs_scen(sgn, s0 * (1.0 + moves[j]), kdf, x0 + lnm[j], vol * sqt)
                out[i, j] = weights[j] * (v - v0)
    return out


# One threaded compilation per kernel.  (A second, serial ``njit`` of the same Python
# function would share its on-disk cache entry, since numba's cache key does not include the
# ``parallel`` flag: whichever compiled last was loaded for both.)  Small batches (one
# account) run the threaded kernel on one thread instead: waking a worker can cost a
# scheduler slice (milliseconds) on a busy machine.
_risk_arrays_par = njit(cache=True, parallel=True)(_risk_arrays_impl)
_PARALLEL_MIN_WORK = 50_000


@contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """All numba threads for ``work`` >= ``_PARALLEL_MIN_WORK`` element-scenarios, else one."""
    if work >= _PARALLEL_MIN_WORK:
        yield
        return
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


def risk_arrays(
    kind: np.ndarray,
    strike: np.ndarray,
    t: np.ndarray,
    sigma: np.ndarray,
    spot: np.ndarray,
    grid: ScenarioGrid,
    rate: float = 0.0,
) -> np.ndarray:
    """PnL per unit (USD) of each instrument in each scenario of ``grid``, shape ``(n_instr, n_scen)``.

    ``kind`` int codes (``KIND_*``); ``strike`` USD; ``t`` years ACT/365; ``sigma`` annualized;
    ``spot`` USD of each instrument's underlying.  Extended scenarios are already weighted.
    """
    kind = np.ascontiguousarray(kind, dtype=np.int64)
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (strike, t, sigma, spot)]
    n = kind.shape[0]
    for name, a in zip(("strike", "t", "sigma", "spot"), arrs, strict=True):
        if a.shape != (n,):
            raise ValidationError(name, a.shape, f"must have shape ({n},)")
        if not np.all(np.isfinite(a)):
            raise ValidationError(name, "NaN/inf", "every value must be finite")
    if np.any(arrs[3] <= 0):
        raise ValidationError("spot", float(arrs[3].min()), "must be positive")
    opt = (kind == KIND_CALL) | (kind == KIND_PUT)
    if np.any(opt & ((arrs[0] <= 0) | (arrs[2] <= 0) | (arrs[1] < 0))):
        raise ValidationError("options", "strike/sigma/t", "options need strike > 0, sigma > 0, t >= 0")
    moves, shocks, weights = grid.arrays()
    power, floor = float(grid.vol_power), float(grid.dte_floor_days)
    strike_a, t_a, sigma_a, spot_a = arrs
    lnm = _log_gross(grid)
    with _threads_for(n * moves.size):
        out = _risk_arrays_par(
            kind, strike_a, t_a, sigma_a, spot_a, float(rate), moves, lnm, shocks, weights, power, floor
        )
    return np.asarray(out)


def _portfolio_scan_impl(idx, qty, risk, group, n_groups, contingency):  # type: ignore[no-untyped-def]
    n_acc, n_pos = idx.shape
    n_scen = risk.shape[1]
    loss = np.zeros(n_acc)
    cont = np.zeros(n_acc)
    for a in prange(n_acc):
        pnl = np.zeros((n_groups, n_scen))
        c = 0.0
        for p in range(n_pos):
            i = idx[a, p]
            if i < 0:
                continue
            q = qty[a, p]
            g = group[i]
            for j in range(n_scen):
                pnl[g, j] += q * risk[i, j]
            if q < 0.0:
                c -= q * contingency[i]
        worst = 0.0
        for g in range(n_groups):
            mn = 0.0
            for j in range(n_scen):
                if pnl[g, j] < mn:
                    mn = pnl[g, j]
            worst -= mn
        loss[a] = worst
        cont[a] = c
    return loss, cont


_portfolio_scan_par = njit(cache=True, parallel=True)(_portfolio_scan_impl)


def portfolio_scan(
    idx: np.ndarray,
    qty: np.ndarray,
    risk: np.ndarray,
    group: np.ndarray | None = None,
    contingency: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Worst scenario loss and contingency add-on per account (USD), vectorized over accounts.

    ``idx`` ``(n_accounts, n_slots)`` int: row of ``risk`` each slot holds (−1 = empty);
    ``qty`` same shape, signed quantities; ``risk`` from :func:`risk_arrays`; ``group`` the
    underlying id of each instrument (losses are taken per underlying and summed, no
    cross-underlying offsets); ``contingency`` USD add-on per unit short of each instrument.
    A slot should hold an account's *net* quantity in an instrument (net-short contingency).
    """
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    qty = np.ascontiguousarray(qty, dtype=np.float64)
    risk = np.ascontiguousarray(risk, dtype=np.float64)
    if idx.shape != qty.shape or idx.ndim != 2:
        raise ValidationError("qty", qty.shape, f"must match idx shape {idx.shape}")
    n_instr = risk.shape[0]
    if idx.size and (idx.max() >= n_instr or idx.min() < -1):
        raise ValidationError("idx", int(idx.max()), f"instrument rows must be in [-1, {n_instr})")
    if not np.all(np.isfinite(qty)):
        raise ValidationError("qty", "NaN/inf", "quantities must be finite")
    g = np.zeros(n_instr, dtype=np.int64) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    c = np.zeros(n_instr) if contingency is None else np.ascontiguousarray(contingency, dtype=np.float64)
    n_groups = int(g.max()) + 1 if n_instr else 1
    with _threads_for(idx.size * risk.shape[1]):
        loss, cont = _portfolio_scan_par(idx, qty, risk, g, n_groups, c)
    return np.asarray(loss), np.asarray(cont)


# ------------------------------------------------------------------ per-position scan -----
_BLOCK_ACCOUNTS = 32  # accounts per work block (≈320 positions: buffers stay in L1/L2)


def _position_scan_impl(  # type: ignore[no-untyped-def]
    kind,
    strike,
    t,
    sigma,
    spot,
    qty,
    group,
    n_pos,
    n_groups,
    cont_unit,
    rate,
    moves,
    lnm,
    ushocks,
    shock_idx,
    weights,
    vol_power,
    dte_floor,
    block,
):
    # flat (account-major) arrays: the block's positions are contiguous
    n_acc = qty.shape[0] // n_pos
    m = moves.shape[0]
    loss = np.zeros(n_acc)
    cont = np.zeros(n_acc)
    gross = 1.0 + moves
    n_blocks = (n_acc + block - 1) // block
    for b in prange(n_blocks):
        a0 = b * block
        a1 = min(n_acc, a0 + block)
        nk = (a1 - a0) * n_pos
        # per-position parts of d1 that no scenario changes (SoA, contiguous in k)
        sgn = np.empty(nk)
        s0 = np.empty(nk)
        kdf = np.empty(nk)
        x0 = np.empty(nk)
        sqt = np.empty(nk)
        sig = np.empty(nk)
        scale = np.empty(nk)
        v0 = np.empty(nk)
        qo = np.empty(nk)  # quantity on the option part (0 for delta-one)
        ql = np.empty(nk)  # USD per unit of move for delta-one (0 for options)
        val = np.empty(nk)
        k0 = a0 * n_pos
        for k in range(nk):
            i = k0 + k
            q = qty[i]
            kd = kind[i]
            s = spot[i]
            is_opt = kd >= KIND_CALL and q != 0.0  # validated: codes 0..3
            if is_opt:
                sgn[k] = 1.0 if kd == KIND_CALL else -1.0
                s0[k] = s
                tt = t[i]
                sqt[k] = max(math.sqrt(tt), _SQRT_T_MIN)
                x0[k] = math.log(s / strike[i]) + rate * tt
                kdf[k] = strike[i] * math.exp(-rate * tt)
                sig[k] = sigma[i]
                scale[k] = (30.0 / max(tt * 365.0, dte_floor)) ** vol_power
                qo[k] = q
                ql[k] = 0.0
            else:  # harmless option parameters, weighted by zero
                sgn[k] = 1.0
                s0[k] = 1.0
                sqt[k] = 1.0
                x0[k] = 0.0
                kdf[k] = 1.0
                sig[k] = 1.0
                scale[k] = 0.0
                qo[k] = 0.0
                if q == 0.0:
                    ql[k] = 0.0
                elif kd == KIND_INVERSE:
                    ql[k] = q
                else:
                    ql[k] = q * s
            if q < 0.0:
                cont[a0 + k // n_pos] -= q * cont_unit[i]
        for k in range(nk):
            v0[k] = _bs_scen(sgn[k], s0[k], kdf[k], x0[k], sig[k] * sqt[k])
        # a vol shock changes only σ': 1/sd and sd/2 once per (distinct shock, position)
        n_u = ushocks.shape[0]
        inv_sd = np.empty((n_u, nk))
        half_sd = np.empty((n_u, nk))
        for u in range(n_u):
            hu = ushocks[u]
            for k in range(nk):
                sd = max(sig[k] * (1.0 + hu * scale[k]), 0.01 * sig[k]) * sqt[k]
                inv_sd[u, k] = 1.0 / sd
                half_sd[u, k] = 0.5 * sd
        pnl = np.zeros((a1 - a0, n_groups, m))
        for j in range(m):  # scenario-major: the inner loop runs over contiguous positions
            mj = moves[j]
            gj = gross[j]
            lj = lnm[j]
            wj = weights[j]
            isd = inv_sd[shock_idx[j]]
            hsd = half_sd[shock_idx[j]]
            for k in range(nk):
                v = _bs_d1(sgn[k], s0[k] * gj, kdf[k], (x0[k] + lj) * isd[k] + hsd[k], 2.0 * hsd[k])
                val[k] = wj * (qo[k] * (v - v0[k]) + ql[k] * mj)
            for r in range(a1 - a0):
                kr = r * n_pos
                for p in range(n_pos):
                    pnl[r, group[k0 + kr + p], j] += val[kr + p]
        for r in range(a1 - a0):
            worst = 0.0
            for g in range(n_groups):
                mn = 0.0
                for j in range(m):
                    if pnl[r, g, j] < mn:
                        mn = pnl[r, g, j]
                worst -= mn
            loss[a0 + r] = worst
    return loss, cont


_position_scan_par = njit(cache=True, parallel=True, error_model="numpy", fastmath={"contract"})(_position_scan_impl)


@njit(cache=True)
def _first_bad(kind, strike, t, sigma, spot, qty):  # type: ignore[no-untyped-def]
    """(account, slot, field code) of the first invalid occupied slot, or (−1, −1, 0)."""
    n_acc, n_pos = qty.shape
    for a in range(n_acc):
        for p in range(n_pos):
            q = qty[a, p]
            if not math.isfinite(q):
                return a, p, 1
            if q == 0.0:
                continue
            kd = kind[a, p]
            if kd < KIND_LINEAR or kd > KIND_PUT:
                return a, p, 2
            if not (spot[a, p] > 0.0 and math.isfinite(spot[a, p])):
                return a, p, 3
            if kd >= KIND_CALL:
                if not (strike[a, p] > 0.0 and math.isfinite(strike[a, p])):
                    return a, p, 4
                if not (sigma[a, p] > 0.0 and math.isfinite(sigma[a, p])):
                    return a, p, 5
                if not (t[a, p] >= 0.0 and math.isfinite(t[a, p])):
                    return a, p, 6
    return -1, -1, 0


_BAD_FIELD = {1: "qty", 2: "kind", 3: "spot", 4: "strike", 5: "sigma", 6: "t"}
_BAD_PROBLEM = {
    1: "quantities must be finite",
    2: "must be one of KIND_LINEAR, KIND_INVERSE, KIND_CALL, KIND_PUT",
    3: "must be finite and positive",
    4: "options need a finite strike > 0",
    5: "options need a finite sigma > 0",
    6: "options need a finite t >= 0",
}


def position_scan(
    kind: np.ndarray,
    strike: np.ndarray,
    t: np.ndarray,
    sigma: np.ndarray,
    spot: np.ndarray,
    qty: np.ndarray,
    grid: ScenarioGrid,
    rate: float = 0.0,
    group: np.ndarray | None = None,
    contingency: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Worst scenario loss and contingency add-on per account (USD), every position revalued itself.

    The per-position counterpart of :func:`risk_arrays` + :func:`portfolio_scan`, for books
    whose positions share no instrument (OTC strikes, per-account marks).  All arrays are
    ``(n_accounts, n_slots)``: ``kind`` (``KIND_*``), ``strike`` USD, ``t`` years ACT/365,
    ``sigma`` annualized, ``spot`` USD of the position's underlying, ``qty`` signed units
    (0 = empty slot; its other fields are ignored), ``group`` the underlying id (losses are
    taken per underlying and summed), ``contingency`` USD per unit short.  Same formula and
    grid conventions as :func:`risk_arrays` (extended scenarios weighted).

    One compiled pass: accounts in blocks across threads; per block the scenario-independent
    parts of d1 (``ln(S/K) + rT``, ``√T``, the vol-shock scale, the base value) are computed
    once, then each scenario is a branch-free loop over the block's contiguous positions that
    LLVM vectorizes (``keel.pricing.simd`` normal cdf); no risk array is materialized.
    """
    kind = np.ascontiguousarray(kind, dtype=np.int64)
    q = np.ascontiguousarray(qty, dtype=np.float64)
    if q.ndim != 2:
        raise ValidationError("qty", q.shape, "must be 2-D (n_accounts, n_slots)")
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (strike, t, sigma, spot)]
    for name, a in zip(("kind", "strike", "t", "sigma", "spot"), [kind, *arrs], strict=True):
        if a.shape != q.shape:
            raise ValidationError(name, a.shape, f"must have the shape of qty {q.shape}")
    g = np.zeros(q.shape, dtype=np.int64) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    c = np.zeros(q.shape) if contingency is None else np.ascontiguousarray(contingency, dtype=np.float64)
    if g.shape != q.shape or c.shape != q.shape:
        raise ValidationError("group/contingency", (g.shape, c.shape), f"must have the shape of qty {q.shape}")
    if g.size and g.min() < 0:
        raise ValidationError("group", int(g.min()), "underlying ids must be >= 0")
    if not np.all(np.isfinite(c)):
        raise ValidationError("contingency", "NaN/inf", "must be finite")
    strike_a, t_a, sigma_a, spot_a = arrs
    a_bad, p_bad, code = _first_bad(kind, strike_a, t_a, sigma_a, spot_a, q)
    if code:
        field_name = _BAD_FIELD[code]
        value = {"qty": q, "kind": kind, "spot": spot_a, "strike": strike_a, "sigma": sigma_a, "t": t_a}[field_name]
        raise ValidationError(f"{field_name}[{a_bad}, {p_bad}]", value[a_bad, p_bad].item(), _BAD_PROBLEM[code])
    moves, shocks, weights = grid.arrays()
    n_groups = int(g.max()) + 1 if g.size else 1
    ushocks, shock_idx = np.unique(shocks, return_inverse=True)
    with _threads_for(q.size * moves.size):
        loss, cont = _position_scan_par(
            kind.reshape(-1),
            strike_a.reshape(-1),
            t_a.reshape(-1),
            sigma_a.reshape(-1),
            spot_a.reshape(-1),
            q.reshape(-1),
            g.reshape(-1),
            q.shape[1],
            n_groups,
            c.reshape(-1),
            float(rate),
            moves,
            _log_gross(grid),
            ushocks,
            shock_idx,
            weights,
            float(grid.vol_power),
            float(grid.dte_floor_days),
            _BLOCK_ACCOUNTS,
        )
    return np.asarray(loss), np.asarray(cont)
