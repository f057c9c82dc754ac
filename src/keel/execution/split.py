# mypy: disable-error-code="no-untyped-def"
# (numba kernels below take untyped array arguments; their public wrappers are typed)
"""Split optimizer: maximize output net of gas over parallel venues and edge-disjoint paths.

Method (float64, numba)
-----------------------
*One hop* (parallel venues between the same two tokens): for a common marginal rate ``μ``
each venue's input ``x_i(μ)`` solves ``out_i'(x) = μ`` in closed form inside a segment
(``x = (√(X·Y·g/μ) − X)/g``) after a binary search over the segment starts.  The total
``Σ x_i(μ)`` is decreasing in ``μ``; a safeguarded Illinois (regula falsi) search in ``log μ``
finds the ``μ*`` at which it equals the hop's input.  This is the KKT condition of the concave
program ``max Σ out_i(x_i) s.t. Σ x_i = x`` (marginal-price equalization).  Across a jump of
``x_i(μ)`` (a fixed-price order-book level) the residual is interpolated onto that venue.

*A path* (up to 3 hops) composes hops: the output of hop h is the input of hop h+1; its
marginal rate is the product of the hop rates.

*Parallel paths* (edge-disjoint token paths): an outer Illinois search on the path marginal
``λ`` finds ``Σ_p x_p(λ) = amount``; ``x_p(λ)`` is itself found by a search on the path input.

*Gas* is a fixed cost per venue touched (valued in the output token), which makes the problem a
concave program over a chosen subset of venues.  The subset is found by local search with
exact bounds: the output lost by dropping venue i is at least its surplus
``s_i = (out_i(x_i) − μ·x_i)·D`` (``D`` the downstream marginal), and the output gained by adding
it is at most ``s_i(μ)``; only moves those bounds allow are re-solved exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from keel.execution.curves import Curve

__all__ = ["SplitModel", "SplitProblem", "SplitSolution", "optimize_split"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_TOUCH = 1.0  # a venue given less than one base unit is not touched (no gas)


# ----------------------------------------------------------------------------- numba kernels
@njit(cache=True)
def _venue_at_mu(j, mu, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0):
    """(x, out) at which venue j's marginal output rate equals mu."""
    off = vOff[j]
    n = vN[j]
    if n == 0 or sM0[off] <= mu:
        return 0.0, 0.0
    # last segment whose start marginal exceeds mu
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sM0[off + mid] > mu:
            lo = mid
        else:
            hi = mid - 1
    k = off + lo
    g = vGamma[j]
    X = sX[k]
    Y = sY[k]
    cap = sCap[k]
    if X > 0.0:
        t = (math.sqrt(X * Y * g / mu) - X) / g
        if t > cap:
            t = cap
        if t < 0.0:
            t = 0.0
        return sC0[k] + t, sO0[k] + Y * g * t / (X + g * t)
    return sC0[k] + cap, sO0[k] + Y * g * cap


@njit(cache=True)
def _venue_out(j, x, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0):
    off = vOff[j]
    n = vN[j]
    if n == 0 or x <= 0.0:
        return 0.0
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sC0[off + mid] <= x:
            lo = mid
        else:
            hi = mid - 1
    k = off + lo
    t = x - sC0[k]
    if t > sCap[k]:
        t = sCap[k]
    g = vGamma[j]
    if sX[k] > 0.0:
        return sO0[k] + sY[k] * g * t / (sX[k] + g * t)
    return sO0[k] + sY[k] * g * t


@njit(cache=True)
def _hop_sum(a, b, mu, hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0):
    s = 0.0
    for q in range(a, b):
        j = hV[q]
        if active[j]:
            x, _ = _venue_at_mu(j, mu, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0)
            s += x
    return s


@njit(cache=True)
def _hop_solve(h, x, hOff, hN, hV, active, alloc, outs, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0):
    """Split input x over the active venues of hop h; returns (mu, total out, feasible)."""
    a = hOff[h]
    b = a + hN[h]
    mhi = 0.0
    capacity = 0.0
    for q in range(a, b):
        j = hV[q]
        alloc[j] = 0.0
        outs[j] = 0.0
        if active[j] and vN[j] > 0:
            if sM0[vOff[j]] > mhi:
                mhi = sM0[vOff[j]]
            capacity += vMaxIn[j]
    if mhi <= 0.0:
        return 0.0, 0.0, False
    if x <= 0.0:
        return mhi, 0.0, True
    if x >= capacity:
        return 0.0, 0.0, False
    t_hi = math.log(mhi)
    f_hi = -x
    t_lo = t_hi - 1.0
    f_lo = _hop_sum(a, b, math.exp(t_lo), hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0) - x
    step = 1.0
    while f_lo < 0.0:
        t_hi = t_lo
        f_hi = f_lo
        step *= 2.0
        t_lo = t_lo - step
        if t_lo < -740.0:
            return 0.0, 0.0, False
        f_lo = _hop_sum(a, b, math.exp(t_lo), hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0) - x
    # Illinois on the decreasing function f(t); f_lo >= 0 > f_hi
    side = 0
    for _ in range(200):
        if t_hi - t_lo <= 1e-15 * max(1.0, abs(t_hi)) or f_lo - f_hi <= 1e-15 * x:
            break
        t = t_lo + f_lo * (t_hi - t_lo) / (f_lo - f_hi)
        if not (t_lo < t < t_hi):
            t = 0.5 * (t_lo + t_hi)
        f = _hop_sum(a, b, math.exp(t), hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0) - x
        if f == 0.0:
            t_lo = t
            t_hi = t
            f_lo = 0.0
            f_hi = 0.0
            break
        if f > 0.0:
            t_lo = t
            f_lo = f
            if side == 1:
                f_hi *= 0.5
            side = 1
        else:
            t_hi = t
            f_hi = f
            if side == -1:
                f_lo *= 0.5
            side = -1
    mu_lo = math.exp(t_lo)
    mu_hi = math.exp(t_hi)
    s_lo = 0.0
    s_hi = 0.0
    for q in range(a, b):
        j = hV[q]
        if active[j]:
            xl, _ = _venue_at_mu(j, mu_lo, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0)
            xh, _ = _venue_at_mu(j, mu_hi, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0)
            s_lo += xl
            s_hi += xh
            alloc[j] = xh
            outs[j] = xl  # stash x at mu_lo
    w = 0.0
    if s_lo > s_hi:
        w = (x - s_hi) / (s_lo - s_hi)
    total = 0.0
    for q in range(a, b):
        j = hV[q]
        if active[j]:
            xj = alloc[j] + w * (outs[j] - alloc[j])
            alloc[j] = xj
            yj = _venue_out(j, xj, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0)
            outs[j] = yj
            total += yj
    return math.sqrt(mu_lo * mu_hi), total, True


@njit(cache=True)
def _path_eval(
    p, x, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
):
    """Output and marginal rate of path p for input x (fills alloc/outs/hMu); feasible flag."""
    amount = x
    marg = 1.0
    ok = True
    for hh in range(pOff[p], pOff[p] + pN[p]):
        mu, y, feas = _hop_solve(
            hh, amount, hOff, hN, hV, active, alloc, outs, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
        )
        hMu[hh] = mu
        if not feas:
            ok = False
            marg = 0.0
            amount = 0.0
            break
        marg *= mu
        amount = y
    return amount, marg, ok


@njit(cache=True)
def _path_marg0(p, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0):
    m = 1.0
    for hh in range(pOff[p], pOff[p] + pN[p]):
        best = 0.0
        for q in range(hOff[hh], hOff[hh] + hN[hh]):
            j = hV[q]
            if active[j] and vN[j] > 0 and sM0[vOff[j]] > best:
                best = sM0[vOff[j]]
        m *= best
    return m


@njit(cache=True)
def _path_x_at(
    p,
    lam,
    amax,
    pOff,
    pN,
    hOff,
    hN,
    hV,
    active,
    alloc,
    outs,
    hMu,
    vOff,
    vN,
    vGamma,
    vMaxIn,
    sX,
    sY,
    sCap,
    sC0,
    sO0,
    sM0,
):
    """Input of path p at which its marginal rate equals lam (capped at amax)."""
    if _path_marg0(p, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0) <= lam:
        return 0.0
    u_hi = math.log(amax)
    _, m, ok = _path_eval(
        p, amax, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
    )
    if ok and m >= lam:
        return amax
    g_hi = (math.log(m) - math.log(lam)) if (ok and m > 0.0) else -50.0
    u_lo = u_hi - 1.0
    step = 1.0
    while True:
        _, m, ok = _path_eval(
            p,
            math.exp(u_lo),
            pOff,
            pN,
            hOff,
            hN,
            hV,
            active,
            alloc,
            outs,
            hMu,
            vOff,
            vN,
            vGamma,
            vMaxIn,
            sX,
            sY,
            sCap,
            sC0,
            sO0,
            sM0,
        )
        g_lo = (math.log(m) - math.log(lam)) if (ok and m > 0.0) else -50.0
        if g_lo >= 0.0:
            break
        u_hi = u_lo
        g_hi = g_lo
        step *= 2.0
        u_lo -= step
        if u_lo < u_hi - 80.0:
            return 0.0
    side = 0
    for _ in range(200):
        if u_hi - u_lo <= 1e-15 * max(1.0, abs(u_hi)) or g_lo - g_hi <= 1e-16:
            break
        u = u_lo + g_lo * (u_hi - u_lo) / (g_lo - g_hi)
        if not (u_lo < u < u_hi):
            u = 0.5 * (u_lo + u_hi)
        _, m, ok = _path_eval(
            p,
            math.exp(u),
            pOff,
            pN,
            hOff,
            hN,
            hV,
            active,
            alloc,
            outs,
            hMu,
            vOff,
            vN,
            vGamma,
            vMaxIn,
            sX,
            sY,
            sCap,
            sC0,
            sO0,
            sM0,
        )
        g = (math.log(m) - math.log(lam)) if (ok and m > 0.0) else -50.0
        if g > 0.0:
            u_lo = u
            g_lo = g
            if side == 1:
                g_hi *= 0.5
            side = 1
        elif g < 0.0:
            u_hi = u
            g_hi = g
            if side == -1:
                g_lo *= 0.5
            side = -1
        else:
            return math.exp(u)
    return math.exp(0.5 * (u_lo + u_hi))


@njit(cache=True)
def _paths_sum(
    lam,
    amount,
    pActive,
    xs,
    pOff,
    pN,
    hOff,
    hN,
    hV,
    active,
    alloc,
    outs,
    hMu,
    vOff,
    vN,
    vGamma,
    vMaxIn,
    sX,
    sY,
    sCap,
    sC0,
    sO0,
    sM0,
):
    s = 0.0
    for p in range(pOff.size):
        xs[p] = 0.0
        if pActive[p]:
            xs[p] = _path_x_at(
                p, lam, amount, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY,
                sCap, sC0, sO0, sM0,
            )  # fmt: skip
            s += xs[p]
    return s


@njit(cache=True)
def _solve(
    amount,
    pOff,
    pN,
    hOff,
    hN,
    hV,
    active,
    vGas,
    alloc,
    outs,
    hMu,
    xp,
    yp,
    vOff,
    vN,
    vGamma,
    vMaxIn,
    sX,
    sY,
    sCap,
    sC0,
    sO0,
    sM0,
):
    """Optimal split of ``amount`` for the given active venues; returns (gross out, net out)."""
    n_paths = pOff.size
    pActive = np.zeros(n_paths, dtype=np.bool_)
    n_act = 0
    last = -1
    for p in range(n_paths):
        ok = True
        for hh in range(pOff[p], pOff[p] + pN[p]):
            any_v = False
            for q in range(hOff[hh], hOff[hh] + hN[hh]):
                if active[hV[q]] and vN[hV[q]] > 0:
                    any_v = True
            if not any_v:
                ok = False
        pActive[p] = ok
        if ok:
            n_act += 1
            last = p
        xp[p] = 0.0
        yp[p] = 0.0
    for j in range(alloc.size):
        alloc[j] = 0.0
        outs[j] = 0.0
    if n_act == 0:
        return -1.0, -1.0
    if n_act == 1:
        xp[last] = amount
    else:
        xs_lo = np.zeros(n_paths)
        xs_hi = np.zeros(n_paths)
        lam_hi = 0.0
        for p in range(n_paths):
            if pActive[p]:
                m = _path_marg0(p, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0)
                if m > lam_hi:
                    lam_hi = m
        t_hi = math.log(lam_hi)
        f_hi = -amount
        t_lo = t_hi - 1.0
        f_lo = (
            _paths_sum(
                math.exp(t_lo), amount, pActive, xs_lo, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN,
                vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0,
            )
            - amount
        )  # fmt: skip
        step = 1.0
        while f_lo < 0.0:
            t_hi = t_lo
            f_hi = f_lo
            for p in range(n_paths):
                xs_hi[p] = xs_lo[p]
            step *= 2.0
            t_lo -= step
            if t_lo < -740.0:
                return -1.0, -1.0
            f_lo = (
                _paths_sum(
                    math.exp(t_lo), amount, pActive, xs_lo, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff,
                    vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0,
                )
                - amount
            )  # fmt: skip
        tmp = np.zeros(n_paths)
        side = 0
        for _ in range(200):
            if t_hi - t_lo <= 1e-14 * max(1.0, abs(t_hi)) or f_lo - f_hi <= 1e-14 * amount:
                break
            t = t_lo + f_lo * (t_hi - t_lo) / (f_lo - f_hi)
            if not (t_lo < t < t_hi):
                t = 0.5 * (t_lo + t_hi)
            f = (
                _paths_sum(
                    math.exp(t), amount, pActive, tmp, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN,
                    vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0,
                )
                - amount
            )  # fmt: skip
            if f >= 0.0:
                t_lo = t
                f_lo = f
                for p in range(n_paths):
                    xs_lo[p] = tmp[p]
                if side == 1:
                    f_hi *= 0.5
                side = 1
                if f == 0.0:
                    break
            else:
                t_hi = t
                f_hi = f
                for p in range(n_paths):
                    xs_hi[p] = tmp[p]
                if side == -1:
                    f_lo *= 0.5
                side = -1
        s_lo = 0.0
        s_hi = 0.0
        for p in range(n_paths):
            s_lo += xs_lo[p]
            s_hi += xs_hi[p]
        w = 0.0
        if s_lo > s_hi:
            w = (amount - s_hi) / (s_lo - s_hi)
        for p in range(n_paths):
            xp[p] = xs_hi[p] + w * (xs_lo[p] - xs_hi[p])
    gross = 0.0
    for p in range(n_paths):
        if pActive[p] and xp[p] > 0.0:
            y, _, ok = _path_eval(
                p, xp[p], pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap,
                sC0, sO0, sM0,
            )  # fmt: skip
            if not ok:
                return -1.0, -1.0
            yp[p] = y
            gross += y
        else:
            for hh in range(pOff[p], pOff[p] + pN[p]):
                for q in range(hOff[hh], hOff[hh] + hN[hh]):
                    alloc[hV[q]] = 0.0
                    outs[hV[q]] = 0.0
    gas = 0.0
    for j in range(alloc.size):
        if alloc[j] >= 1.0:
            gas += vGas[j]
    return gross, gross - gas


# ----------------------------------------------------------------------------- Python side
@dataclass(frozen=True, slots=True)
class SplitProblem:
    """Flattened problem: ``paths[p]`` is a list of hops, each hop a list of venue indices
    into ``curves``; ``gas_out[j]`` is venue j's gas per touch valued in output-token units."""

    curves: tuple[Curve, ...]
    paths: tuple[tuple[tuple[int, ...], ...], ...]
    gas_out: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SplitSolution:
    """Float solution: per-venue gross input ``alloc`` and output ``outs``, per-path input
    ``path_in``, the active venue mask, the hop marginal rates ``hop_mu`` (flattened), and
    the modelled gross and net (gas deducted) outputs."""

    alloc: FloatArray
    outs: FloatArray
    path_in: FloatArray
    active: BoolArray
    hop_mu: FloatArray
    gross: float
    net: float


class SplitModel:
    """Numba-ready arrays of a :class:`SplitProblem`; ``solve`` for a fixed venue set, ``optimize`` with gas."""

    def __init__(self, problem: SplitProblem) -> None:
        curves = problem.curves
        self.vN = np.array([c.X.size for c in curves], dtype=np.int64)
        self.vOff = np.zeros(len(curves), dtype=np.int64)
        if len(curves) > 1:
            self.vOff[1:] = np.cumsum(self.vN)[:-1]
        cat = np.concatenate

        def col(name: str) -> FloatArray:
            arrs = [getattr(c, name) for c in curves]
            return cat(arrs) if arrs else np.zeros(0)

        self.sX, self.sY, self.sCap = col("X"), col("Y"), col("cap")
        self.sC0, self.sO0, self.sM0 = col("c0"), col("o0"), col("m0")
        self.vGamma = np.array([c.gamma for c in curves], dtype=np.float64)
        self.vMaxIn = np.array([c.max_in for c in curves], dtype=np.float64)
        self.vGas = np.array(problem.gas_out, dtype=np.float64)
        hops = [hop for path in problem.paths for hop in path]
        self.pN = np.array([len(path) for path in problem.paths], dtype=np.int64)
        self.pOff = np.zeros(len(problem.paths), dtype=np.int64)
        if len(problem.paths) > 1:
            self.pOff[1:] = np.cumsum(self.pN)[:-1]
        self.hN = np.array([len(h) for h in hops], dtype=np.int64)
        self.hOff = np.zeros(len(hops), dtype=np.int64)
        if len(hops) > 1:
            self.hOff[1:] = np.cumsum(self.hN)[:-1]
        self.hV = np.array([j for h in hops for j in h], dtype=np.int64)
        self.hop_of = np.full(len(curves), -1, dtype=np.int64)
        for hh, hop in enumerate(hops):
            for j in hop:
                self.hop_of[j] = hh
        self.path_of_hop = np.repeat(np.arange(len(problem.paths)), self.pN)
        self.n_hops = len(hops)

    def solve(self, amount: float, active: BoolArray) -> SplitSolution:
        n = self.vN.size
        alloc = np.zeros(n)
        outs = np.zeros(n)
        hMu = np.zeros(self.n_hops)
        xp = np.zeros(self.pN.size)
        yp = np.zeros(self.pN.size)
        gross, net = _solve(
            float(amount), self.pOff, self.pN, self.hOff, self.hN, self.hV, active, self.vGas, alloc, outs, hMu,
            xp, yp, self.vOff, self.vN, self.vGamma, self.vMaxIn, self.sX, self.sY, self.sCap, self.sC0, self.sO0,
            self.sM0,
        )  # fmt: skip
        if gross < 0:
            net = -math.inf
        # the path evaluation leaves hMu from the last path evaluated; recompute per path
        for p in range(self.pN.size):
            if xp[p] > 0:
                a2 = np.zeros(n)
                o2 = np.zeros(n)
                _path_eval(
                    p, xp[p], self.pOff, self.pN, self.hOff, self.hN, self.hV, active, a2, o2, hMu, self.vOff,
                    self.vN, self.vGamma, self.vMaxIn, self.sX, self.sY, self.sCap, self.sC0, self.sO0, self.sM0,
                )  # fmt: skip
        return SplitSolution(alloc, outs, xp, active.copy(), hMu, float(gross), float(net))

    def surplus(self, sol: SplitSolution) -> tuple[FloatArray, FloatArray]:
        """Per venue: surplus bound s_i in output units, and its downstream factor."""
        n = self.vN.size
        s = np.full(n, -math.inf)
        down = np.zeros(self.n_hops)
        for p in range(self.pN.size):
            d = 1.0
            for hh in range(self.pOff[p] + self.pN[p] - 1, self.pOff[p] - 1, -1):
                down[hh] = d
                d *= sol.hop_mu[hh]
        for j in range(n):
            hh = self.hop_of[j]
            if hh < 0 or self.vN[j] == 0:
                continue
            p = self.path_of_hop[hh]
            if sol.path_in[p] <= 0 and sol.active[j]:
                s[j] = 0.0
                continue
            mu = sol.hop_mu[hh]
            if mu <= 0.0:
                continue
            if sol.active[j]:
                x, y = sol.alloc[j], sol.outs[j]
            else:
                x, y = _venue_at_mu(
                    j, mu, self.vOff, self.vN, self.vGamma, self.sX, self.sY, self.sCap, self.sC0, self.sO0, self.sM0
                )
            s[j] = (y - mu * x) * down[hh]
        return s, down

    def optimize(self, amount: float, *, max_moves: int = 64) -> SplitSolution:
        """Best split of ``amount`` net of gas (local search over the venues touched)."""
        arr = self
        n = arr.vN.size
        active = arr.vN > 0
        best = arr.solve(amount, active)
        gas = arr.vGas
        if not np.any(gas > 0) or not math.isfinite(best.net):
            return best
        # Phase A: bulk drops by the lower bound on loss, keeping one venue per hop alive.
        for _ in range(n):
            s, _ = arr.surplus(best)
            drop = best.active & (best.alloc >= _TOUCH) & (s < gas)
            if not np.any(drop):
                break
            for hh in range(arr.n_hops):
                members = arr.hV[arr.hOff[hh] : arr.hOff[hh] + arr.hN[hh]]
                alive = [j for j in members if best.active[j] and not drop[j]]
                if not alive:
                    cand = [j for j in members if drop[j]]
                    if cand:
                        keep = max(cand, key=lambda j: s[j] - gas[j])
                        drop[keep] = False
            if not np.any(drop):
                break
            trial = arr.solve(amount, best.active & ~drop)
            if trial.net > best.net:
                best = trial
            else:
                break
        # Phase B: exact single moves allowed by the bounds, best improvement first.
        for _ in range(max_moves):
            s, _ = arr.surplus(best)
            cands: list[int] = []
            for j in range(n):
                if arr.vN[j] == 0:
                    continue
                if (best.active[j] and best.alloc[j] >= _TOUCH and s[j] < gas[j]) or (
                    not best.active[j] and s[j] > gas[j]
                ):
                    cands.append(j)
            improved: SplitSolution | None = None
            for j in cands:
                mask = best.active.copy()
                mask[j] = not mask[j]
                trial = arr.solve(amount, mask)
                ref = improved.net if improved is not None else best.net
                if trial.net > ref + 1e-13 * abs(ref):
                    improved = trial
            if improved is None:
                break
            best = improved
        return best


def optimize_split(problem: SplitProblem, amount: float, *, max_moves: int = 64) -> SplitSolution:
    """Best split of ``amount`` (input-token base units, float) net of gas; see the module docstring."""
    return SplitModel(problem).optimize(amount, max_moves=max_moves)
