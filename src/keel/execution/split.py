# mypy: disable-error-code="no-untyped-def"
# (numba kernels below take untyped array arguments; their public wrappers are typed)
"""Split optimizer: maximize output net of gas over parallel venues and edge-disjoint paths.

Method (float64, numba)
-----------------------
*One hop* (parallel venues between the same two tokens): for a common marginal rate ``μ``
each venue's input ``x_i(μ)`` solves ``out_i'(x) = μ`` in closed form inside a segment
(``x = (√(X·Y·g/μ) − X)/g``) after a binary search over the segment starts.  The total
``Σ x_i(μ)`` is decreasing in ``μ``; in ``z = μ^-½`` it is piecewise *linear* for
constant-product segments, so a safeguarded Newton search in ``z`` (exact derivative, kept in a
bracket) lands on the ``μ*`` at which it equals the hop's input in a few steps.  This is the KKT
condition of the concave program ``max Σ out_i(x_i) s.t. Σ x_i = x`` (marginal-price
equalization).  Across a jump of ``x_i(μ)`` (a fixed-price order-book level) the residual is
interpolated onto that venue.

*A path* (up to 3 hops) composes hops: the output of hop h is the input of hop h+1; its
marginal rate ``m(x)`` is the product of the hop rates.

*Parallel paths* (edge-disjoint token paths): two paths are equalized directly on the split,
``m₁(x)^-½ = m₂(A − x)^-½`` (Illinois on x; linear for constant-product paths); more paths by an
outer search on the common path marginal ``λ`` (in ``λ^-½``) with each ``x_p(λ)`` found on the
path input.

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
def _hop_sum_d(a, b, z, hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sM0):
    """Total input of the hop's active venues at z = mu**-0.5, and its derivative in z."""
    mu = 1.0 / (z * z)
    s = 0.0
    d = 0.0
    for q in range(a, b):
        j = hV[q]
        if not active[j]:
            continue
        off = vOff[j]
        n = vN[j]
        if n == 0 or sM0[off] <= mu:
            continue
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
        if X > 0.0:
            r = math.sqrt(X * sY[k] * g)
            t = (z * r - X) / g
            if t >= sCap[k]:
                s += sC0[k] + sCap[k]
            elif t > 0.0:
                s += sC0[k] + t
                d += r / g
            else:
                s += sC0[k]
        else:
            s += sC0[k] + sCap[k]
    return s, d


@njit(cache=True)
def _hop_solve(h, x, hOff, hN, hV, active, alloc, outs, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0):
    """Split input x over the active venues of hop h; returns (mu, total out, feasible).

    Root-finding runs in z = mu**-0.5, in which a constant-product venue's input is linear
    (x = (z*sqrt(X*Y*g) - X)/g), so Illinois converges in a few steps.
    """
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
    # safeguarded Newton in z (x(z) is piecewise linear for constant-product segments)
    z_lo = 1.0 / math.sqrt(mhi)
    z_hi = math.inf
    z = z_lo
    f, d = _hop_sum_d(a, b, z, hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sM0)
    f -= x
    step = 1e-4 * z_lo
    for _ in range(200):
        if d > 0.0:
            zn = z - f / d
        else:
            zn = z + (step if f < 0.0 else -step)
            step *= 4.0
        if math.isinf(z_hi):
            if zn <= z_lo:
                zn = z_lo + step
                step *= 4.0
        elif not (z_lo < zn < z_hi):
            zn = 0.5 * (z_lo + z_hi)
        if zn > 1e150:
            return 0.0, 0.0, False
        z = zn
        f, d = _hop_sum_d(a, b, z, hV, active, vOff, vN, vGamma, sX, sY, sCap, sC0, sM0)
        f -= x
        if abs(f) <= 1e-12 * x:
            z_lo = z
            z_hi = z
            break
        if f < 0.0:
            z_lo = z
        else:
            z_hi = z
        if not math.isinf(z_hi) and z_hi - z_lo <= 1e-15 * z_hi:
            break
    mu_less = 1.0 / (z_lo * z_lo)  # less input
    mu_more = 1.0 / (z_hi * z_hi)  # more input
    s_less = 0.0
    s_more = 0.0
    for q in range(a, b):
        j = hV[q]
        if active[j]:
            xl, _ = _venue_at_mu(j, mu_less, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0)
            xm, _ = _venue_at_mu(j, mu_more, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0, sM0)
            s_less += xl
            s_more += xm
            alloc[j] = xl
            outs[j] = xm  # stash x at mu_more
    w = 0.0
    if s_more > s_less:
        w = (x - s_less) / (s_more - s_less)
    total = 0.0
    for q in range(a, b):
        j = hV[q]
        if active[j]:
            xj = alloc[j] + w * (outs[j] - alloc[j])
            alloc[j] = xj
            yj = _venue_out(j, xj, vOff, vN, vGamma, sX, sY, sCap, sC0, sO0)
            outs[j] = yj
            total += yj
    return 1.0 / (z_lo * z_hi), total, True


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
def _path_g(
    p,
    x,
    target,
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
    """m(x)**-0.5 - target: increasing in x, linear for a constant-product path; inf if infeasible."""
    _, m, ok = _path_eval(
        p, x, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
    )
    if not ok or m <= 0.0:
        return math.inf
    return 1.0 / math.sqrt(m) - target


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
    m0 = _path_marg0(p, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0)
    if m0 <= lam:
        return 0.0
    target = 1.0 / math.sqrt(lam)
    x_lo = 0.0
    g_lo = 1.0 / math.sqrt(m0) - target
    x_hi = amax
    g_hi = _path_g(
        p,
        x_hi,
        target,
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
    if g_hi <= 0.0:
        return amax
    side = 0
    for _ in range(200):
        if x_hi - x_lo <= 1e-15 * x_hi:
            break
        if math.isinf(g_hi):
            x = 0.5 * (x_lo + x_hi)
        else:
            x = x_lo - g_lo * (x_hi - x_lo) / (g_hi - g_lo)
            if not (x_lo < x < x_hi):
                x = 0.5 * (x_lo + x_hi)
        g = _path_g(
            p,
            x,
            target,
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
        if abs(g) <= 1e-13 * target:
            return x
        if g < 0.0:
            x_lo = x
            g_lo = g
            if side == -1 and not math.isinf(g_hi):
                g_hi *= 0.5
            side = -1
        else:
            x_hi = x
            g_hi = g
            if side == 1:
                g_lo *= 0.5
            side = 1
    return 0.5 * (x_lo + x_hi)


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
                p,
                lam,
                amount,
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
            s += xs[p]
    return s


@njit(cache=True)
def _inv_sqrt_m(
    p, x, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
):
    """m_p(x)**-0.5 (inf when the path cannot absorb x)."""
    _, m, ok = _path_eval(
        p, x, pOff, pN, hOff, hN, hV, active, alloc, outs, hMu, vOff, vN, vGamma, vMaxIn, sX, sY, sCap, sC0, sO0, sM0
    )
    if not ok or m <= 0.0:
        return math.inf
    return 1.0 / math.sqrt(m)


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
    elif n_act == 2:
        # two paths: equalize marginals directly on the split, h(x) = m1(x)**-0.5 - m2(A - x)**-0.5
        p1 = -1
        for p in range(n_paths):
            if pActive[p] and p != last:
                p1 = p
        p2 = last
        x_lo = 0.0
        h_lo = 1.0 / math.sqrt(_path_marg0(p1, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0)) - _inv_sqrt_m(
            p2,
            amount,
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
        x_hi = amount
        h_hi = _inv_sqrt_m(
            p1,
            amount,
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
        ) - 1.0 / math.sqrt(_path_marg0(p2, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0))
        if h_lo >= 0.0:
            xp[p2] = amount
        elif h_hi <= 0.0:
            xp[p1] = amount
        else:
            x1 = 0.5 * amount
            side = 0
            for _ in range(200):
                if x_hi - x_lo <= 1e-15 * amount:
                    break
                if math.isinf(h_lo) or math.isinf(h_hi):
                    x1 = 0.5 * (x_lo + x_hi)
                else:
                    x1 = x_lo - h_lo * (x_hi - x_lo) / (h_hi - h_lo)
                    if not (x_lo < x1 < x_hi):
                        x1 = 0.5 * (x_lo + x_hi)
                a1 = _inv_sqrt_m(
                    p1,
                    x1,
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
                a2 = _inv_sqrt_m(
                    p2,
                    amount - x1,
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
                h = a1 - a2
                if abs(h) <= 1e-13 * min(a1, a2):
                    x_lo = x1
                    x_hi = x1
                    break
                if h < 0.0:
                    x_lo = x1
                    h_lo = h
                    if side == -1 and not math.isinf(h_hi):
                        h_hi *= 0.5
                    side = -1
                else:
                    x_hi = x1
                    h_hi = h
                    if side == 1 and not math.isinf(h_lo):
                        h_lo *= 0.5
                    side = 1
            x1 = 0.5 * (x_lo + x_hi)
            xp[p1] = x1
            xp[p2] = amount - x1
    else:
        # outer: common path marginal lam, searched in zeta = lam**-0.5 (sum of inputs increasing)
        xs_less = np.zeros(n_paths)
        xs_more = np.zeros(n_paths)
        tmp = np.zeros(n_paths)
        lam_hi = 0.0
        for p in range(n_paths):
            if pActive[p]:
                m = _path_marg0(p, pOff, pN, hOff, hN, hV, active, vOff, vN, sM0)
                if m > lam_hi:
                    lam_hi = m
        z_lo = 1.0 / math.sqrt(lam_hi)
        f_lo = -amount
        z_hi = 1.0001 * z_lo
        f_hi = (
            _paths_sum(
                1.0 / (z_hi * z_hi),
                amount,
                pActive,
                xs_more,
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
            - amount
        )
        while f_hi < 0.0:
            step = 8.0 * (z_hi - z_lo)
            z_lo = z_hi
            f_lo = f_hi
            for p in range(n_paths):
                xs_less[p] = xs_more[p]
            z_hi = z_lo + step
            if z_hi > 1e150:
                return -1.0, -1.0
            f_hi = (
                _paths_sum(
                    1.0 / (z_hi * z_hi),
                    amount,
                    pActive,
                    xs_more,
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
                - amount
            )
        side = 0
        for _ in range(200):
            if z_hi - z_lo <= 1e-15 * z_hi or f_hi - f_lo <= 1e-14 * amount:
                break
            z = z_lo - f_lo * (z_hi - z_lo) / (f_hi - f_lo)
            if not (z_lo < z < z_hi):
                z = 0.5 * (z_lo + z_hi)
            f = (
                _paths_sum(
                    1.0 / (z * z),
                    amount,
                    pActive,
                    tmp,
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
                - amount
            )
            if abs(f) <= 1e-12 * amount:
                for p in range(n_paths):
                    xs_less[p] = tmp[p]
                    xs_more[p] = tmp[p]
                break
            if f < 0.0:
                z_lo = z
                f_lo = f
                for p in range(n_paths):
                    xs_less[p] = tmp[p]
                if side == -1:
                    f_hi *= 0.5
                side = -1
            else:
                z_hi = z
                f_hi = f
                for p in range(n_paths):
                    xs_more[p] = tmp[p]
                if side == 1:
                    f_lo *= 0.5
                side = 1
        s_less = 0.0
        s_more = 0.0
        for p in range(n_paths):
            s_less += xs_less[p]
            s_more += xs_more[p]
        w = 0.0
        if s_more > s_less:
            w = (amount - s_less) / (s_more - s_less)
        for p in range(n_paths):
            xp[p] = xs_less[p] + w * (xs_more[p] - xs_less[p])
    gross = 0.0
    for p in range(n_paths):
        if pActive[p]:
            # also at x = 0, so every hop's marginal rate (hMu) is that of the final split
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
                hMu[hh] = 0.0
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
        return SplitSolution(alloc, outs, xp, active.copy(), hMu, float(gross), float(net))

    def single_route_mask(self, amount: float) -> BoolArray:
        """One venue per hop on the best path: at each hop the venue giving the most output
        (less its gas) for the amount arriving there."""
        best_mask = np.zeros(self.vN.size, dtype=np.bool_)
        best_out = -math.inf
        args = (self.vOff, self.vN, self.vGamma, self.sX, self.sY, self.sCap, self.sC0, self.sO0)
        for p in range(self.pN.size):
            mask = np.zeros(self.vN.size, dtype=np.bool_)
            x = float(amount)
            gas = 0.0
            for hh in range(self.pOff[p], self.pOff[p] + self.pN[p]):
                members = self.hV[self.hOff[hh] : self.hOff[hh] + self.hN[hh]]
                ok = [j for j in members if self.vN[j] > 0 and self.vMaxIn[j] > x]
                if not ok:
                    x = -math.inf
                    break
                j_best = max(ok, key=lambda j: _venue_out(j, x, *args) - self.vGas[j])
                mask[j_best] = True
                gas += self.vGas[j_best]
                x = _venue_out(j_best, x, *args)
            if x - gas > best_out:
                best_out = x - gas
                best_mask = mask
        return best_mask

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
        single = arr.solve(amount, arr.single_route_mask(amount))
        if single.net > best.net:
            best = single  # small trades: start from one venue per hop and only add
        # Phase A: bulk drops by the lower bound on loss (keeping one venue per hop alive); when a
        # bulk drop does not pay, retry with the worse half of it, and so on.
        for _ in range(n):
            s, _ = arr.surplus(best)
            drop = best.active & (best.alloc >= _TOUCH) & (s < gas)
            for hh in range(arr.n_hops):
                members = arr.hV[arr.hOff[hh] : arr.hOff[hh] + arr.hN[hh]]
                if not any(best.active[j] and not drop[j] for j in members):
                    cand = [j for j in members if drop[j]]
                    if cand:
                        drop[max(cand, key=lambda j: s[j] - gas[j])] = False
            order = sorted(np.flatnonzero(drop), key=lambda j: s[j] - gas[j])
            k = len(order)
            accepted = False
            while k > 0:
                mask = best.active.copy()
                mask[order[:k]] = False
                trial = arr.solve(amount, mask)
                if trial.net > best.net:
                    best = trial
                    accepted = True
                    break
                k //= 2
            if not accepted:
                break
        # Phase B: exact single moves the bounds allow, most promising first; take the first that helps.
        for _ in range(max_moves):
            s, _ = arr.surplus(best)
            scored: list[tuple[float, int]] = []
            for j in range(n):
                if arr.vN[j] == 0:
                    continue
                if best.active[j] and best.alloc[j] >= _TOUCH and s[j] < gas[j]:
                    scored.append((s[j] - gas[j], j))  # drop: most negative bound first
                elif not best.active[j] and s[j] > gas[j]:
                    scored.append((gas[j] - s[j], j))  # add: largest possible gain first
            scored.sort()
            improved: SplitSolution | None = None
            for _, j in scored:
                mask = best.active.copy()
                mask[j] = not mask[j]
                trial = arr.solve(amount, mask)
                if trial.net > best.net + 1e-13 * abs(best.net):
                    improved = trial
                    break
            if improved is None:
                break
            best = improved
        return best


def optimize_split(problem: SplitProblem, amount: float, *, max_moves: int = 64) -> SplitSolution:
    """Best split of ``amount`` (input-token base units, float) net of gas; see the module docstring."""
    return SplitModel(problem).optimize(amount, max_moves=max_moves)
