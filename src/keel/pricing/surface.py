"""Implied-vol surfaces from a real option chain: forwards, discounts, SVI slices, T-interpolation.

:func:`fit_surface` takes a :class:`keel.marketdata.OptionChain` (one snapshot) and, per expiry:

1. infers the forward ``F`` and discount ``D`` from put-call parity on the mark prices of
   strikes listed as both call and put, weighted towards the money.  Inverse (coin) options
   obey ``C − P = D (1 − K/F)`` in coin; linear ones
   ``C − P = D (F − K)``.  A chain without prices (IV/Greeks only, e.g. the 2026 hourly
   Deribit file) gets ``F`` from the venue's call deltas, ``N(d1) = Δ`` ⇒
   ``ln F = ln K + d1 σ√T − σ²T/2`` (median over 0.1 < Δ < 0.9), and ``D = 1``;
2. takes the out-of-the-money mark IVs (Deribit's mid-market marks: on these chains most
   strikes are one-sided or 50+ vol points wide, so marks are the usable market smile) and
   keeps bid/ask IVs to report how many fitted vols land inside the quoted spread;
3. fits raw SVI weighted by 1/bid-ask IV spread (``weighting="spread"``) or Black vega
   (``"vega"``), checks Gatheral-Jacquier g(k) >= 0 and repairs by penalized refit;
4. checks the calendar condition (total variance non-decreasing in T at fixed forward
   moneyness) between consecutive expiries and reports violations.

:class:`VolSurface` evaluates the surface anywhere: total variance is linear in T between
expiries at fixed ``k = ln(K/F(T))`` on the running-max envelope of the slices (which
removes any calendar arbitrage between fitted slices), scaled ∝ T before the first expiry and
beyond the last; ``ln F`` and ``ln D`` are linear in T (flat carry outside).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from keel.domain import Settlement, parse_instrument
from keel.errors import PricingError, ValidationError
from keel.marketdata import OptionChain
from keel.pricing.api import black76
from keel.pricing.svi import SVIFit, fit_svi

__all__ = [
    "CalendarViolation",
    "ExpirySlice",
    "VolSurface",
    "fit_surface",
    "forward_from_deltas",
    "forward_from_parity",
]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ExpirySlice:
    """One fitted expiry: forward, discount, SVI fit and the market points it was fitted to."""

    expiry_ns: int
    T: float
    forward: float
    discount: float
    forward_source: str  # "parity", "delta" or "underlying"
    fit: SVIFit
    k: F64
    market_iv: F64
    weights: F64
    venue_forward: float = math.nan  # the chain's underlying_price, for comparison
    bid_iv: F64 = field(default_factory=lambda: np.empty(0))
    ask_iv: F64 = field(default_factory=lambda: np.empty(0))

    def inside_bid_ask(self) -> float:
        """Share of two-way-quoted strikes whose fitted vol lies within [bid IV, ask IV] (NaN if none)."""
        quoted = (self.bid_iv > 0) & (self.ask_iv > self.bid_iv)
        if not quoted.any():
            return math.nan
        model = np.sqrt(np.maximum(self.fit.params.total_variance(self.k[quoted]), 0.0) / self.T)
        return float(np.mean((model >= self.bid_iv[quoted]) & (model <= self.ask_iv[quoted])))

    def implied_vol(self, strike: npt.ArrayLike) -> F64:
        k = np.log(np.asarray(strike, dtype=np.float64) / self.forward)
        return np.sqrt(np.maximum(self.fit.params.total_variance(k), 0.0) / self.T)


@dataclass(frozen=True)
class CalendarViolation:
    """Total variance decreasing in T between two fitted expiries (before the envelope repair)."""

    T_short: float
    T_long: float
    k: float
    w_short: float
    w_long: float


@dataclass(frozen=True, eq=False)
class VolSurface:
    """A fitted implied-vol surface; strikes and forwards in the quote currency (USD), T in years."""

    slices: tuple[ExpirySlice, ...]
    calendar_violations: tuple[CalendarViolation, ...] = ()
    ts_ns: int = 0
    underlying: str = ""
    source: str = ""
    skipped: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.slices:
            raise PricingError("a VolSurface needs at least one fitted expiry")
        Ts = [s.T for s in self.slices]
        if any(b <= a for a, b in itertools.pairwise(Ts)):
            raise ValidationError("slices", Ts, "expiries must be strictly increasing in T")

    @classmethod
    def from_chain(cls, chain: OptionChain, **kwargs: Any) -> VolSurface:
        """Same as :func:`fit_surface`."""
        return fit_surface(chain, **kwargs)

    @property
    def expiries(self) -> F64:
        """Years to each fitted expiry."""
        return np.array([s.T for s in self.slices])

    def _interp_log(self, T: npt.ArrayLike, values: F64, through_origin: bool) -> F64:
        Ts = self.expiries
        tt = np.asarray(T, dtype=np.float64)
        if through_origin:
            Ts = np.concatenate([[0.0], Ts])
            values = np.concatenate([[0.0], values])
        if Ts.size == 1:
            return np.full(tt.shape, values[0])
        out = np.interp(tt, Ts, values)
        lo_slope = (values[1] - values[0]) / (Ts[1] - Ts[0])
        hi_slope = (values[-1] - values[-2]) / (Ts[-1] - Ts[-2])
        out = np.where(tt < Ts[0], values[0] + lo_slope * (tt - Ts[0]), out)
        return np.asarray(np.where(tt > Ts[-1], values[-1] + hi_slope * (tt - Ts[-1]), out))

    def forward(self, T: npt.ArrayLike) -> F64:
        """Forward for maturity T (ln F linear in T, flat carry outside the fitted expiries)."""
        return np.exp(self._interp_log(T, np.log([s.forward for s in self.slices]), through_origin=False))

    def discount(self, T: npt.ArrayLike) -> F64:
        """Discount factor to T (ln D linear in T through D(0) = 1)."""
        return np.exp(self._interp_log(T, np.log([s.discount for s in self.slices]), through_origin=True))

    def total_variance(self, k: npt.ArrayLike, T: npt.ArrayLike) -> F64:
        """Total implied variance w(k, T) at forward log-moneyness k = ln(K/F(T))."""
        kk, tt = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(T, dtype=np.float64))
        if np.any(~(tt > 0)):
            raise ValidationError("T", tt[~(tt > 0)].flat[0], "must be positive")
        Ts = self.expiries
        W = np.stack([np.maximum(s.fit.params.total_variance(kk), 0.0) for s in self.slices])
        W = np.maximum.accumulate(W, axis=0)  # calendar envelope: non-decreasing in T
        n = Ts.size
        j = np.clip(np.searchsorted(Ts, tt, side="right") - 1, 0, n - 1)
        w_lo = np.take_along_axis(W, j[None, ...], axis=0)[0]
        if n == 1:
            return np.asarray(w_lo * tt / Ts[0])
        j2 = np.minimum(j + 1, n - 1)
        w_hi = np.take_along_axis(W, j2[None, ...], axis=0)[0]
        T_lo, T_hi = Ts[j], Ts[j2]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(T_hi > T_lo, (tt - T_lo) / (T_hi - T_lo), 0.0)
        inside = w_lo + (w_hi - w_lo) * frac
        before = W[0] * tt / Ts[0]
        after = W[-1] * tt / Ts[-1]
        out = np.where(tt < Ts[0], before, np.where(tt >= Ts[-1], after, inside))
        return np.asarray(out)

    def implied_vol(self, strike: npt.ArrayLike, T: npt.ArrayLike) -> F64:
        """Black implied vol at strike K (quote currency) and maturity T years; broadcasts."""
        K = np.asarray(strike, dtype=np.float64)
        if np.any(~(K > 0)):
            raise ValidationError("strike", K[~(K > 0)].flat[0], "must be positive")
        tt = np.asarray(T, dtype=np.float64)
        k = np.log(K / self.forward(tt))
        return np.sqrt(self.total_variance(k, tt) / tt)

    def price(self, kind: Any, strike: npt.ArrayLike, T: npt.ArrayLike) -> Any:
        """Black-76 price on the surface, in the quote currency (USD) per unit of underlying."""
        tt = np.asarray(T, dtype=np.float64)
        return black76(kind, self.forward(tt), strike, tt, self.implied_vol(strike, tt), self.discount(tt))

    def report(self) -> list[dict[str, float | int | str | bool]]:
        """One row per expiry: T, forward (and venue's), discount, fit errors, butterfly status."""
        rows: list[dict[str, float | int | str | bool]] = []
        for s in self.slices:
            rows.append(
                {
                    "expiry_ns": s.expiry_ns,
                    "T": s.T,
                    "forward": s.forward,
                    "venue_forward": s.venue_forward,
                    "forward_source": s.forward_source,
                    "discount": s.discount,
                    "n": s.fit.n,
                    "rmse_vol_pts": s.fit.rmse_vol_pts,
                    "max_vol_pts": s.fit.max_vol_pts,
                    "min_g": s.fit.min_g,
                    "repaired": s.fit.repaired,
                    "butterfly_free": s.fit.butterfly_free,
                    "inside_bid_ask": s.inside_bid_ask(),
                }
            )
        return rows


# ---------------------------------------------------------------- forwards


def forward_from_parity(
    strike: npt.ArrayLike, call: npt.ArrayLike, put: npt.ArrayLike, *, inverse: bool, F_guess: float
) -> tuple[float, float]:
    """(forward, discount) from put-call parity by weighted least squares over strikes.

    Inverse (coin-premium) options: ``C − P = D (1 − K/F)``; linear: ``C − P = D (F − K)``.
    Weights ``exp(−(ln K/F_guess)² / 0.02)`` favour strikes near the money.
    """
    K = np.asarray(strike, dtype=np.float64)
    y = np.asarray(call, dtype=np.float64) - np.asarray(put, dtype=np.float64)
    ok = np.isfinite(K) & np.isfinite(y) & (K > 0)
    K, y = K[ok], y[ok]
    if K.size < 2:
        raise PricingError(f"put-call parity needs >= 2 strikes with both call and put, got {K.size}")
    wt = np.exp(-(np.log(K / F_guess) ** 2) / 0.02) + 1e-12
    A = np.stack([np.ones_like(K), K], axis=1) * np.sqrt(wt)[:, None]
    coef, *_ = np.linalg.lstsq(A, y * np.sqrt(wt), rcond=None)
    alpha, beta = float(coef[0]), float(coef[1])
    if inverse:
        D, F = alpha, -alpha / beta if beta < 0 else math.nan
    else:
        D = -beta
        F = alpha / D if D > 0 else math.nan
    if not (F > 0 and D > 0 and math.isfinite(F)):
        raise PricingError(f"put-call parity gives no positive forward/discount (F={F}, D={D})")
    return F, D


def forward_from_deltas(strike: npt.ArrayLike, T: float, iv: npt.ArrayLike, call_delta: npt.ArrayLike) -> float:
    """Forward implied by Black forward call deltas ``N(d1)``: median of ``K exp(d1 σ√T − σ²T/2)``."""
    K = np.asarray(strike, dtype=np.float64)
    v = np.asarray(iv, dtype=np.float64)
    d = np.asarray(call_delta, dtype=np.float64)
    ok = np.isfinite(K) & np.isfinite(v) & np.isfinite(d) & (v > 0) & (d > 0.1) & (d < 0.9)
    if not ok.any():
        raise PricingError("no call deltas between 0.1 and 0.9 to infer the forward from")
    sd = v[ok] * math.sqrt(T)
    F = K[ok] * np.exp(ndtri(d[ok]) * sd - 0.5 * sd * sd)
    return float(np.median(F))


# ---------------------------------------------------------------- fitting


def _col(frame: Any, name: str) -> F64:
    if name not in frame.columns:
        return np.full(frame.height, np.nan)
    return np.asarray(frame[name].cast(float).to_numpy(), dtype=np.float64)


def fit_surface(chain: OptionChain, *, weighting: str = "spread", snapshot: int = 0) -> VolSurface:
    """Fit a :class:`VolSurface` to one snapshot of ``chain`` (see the module doc for the method).

    ``weighting``: ``"spread"`` (1/bid-ask IV spread, vega where a side is missing) or ``"vega"``.
    ``snapshot``: which snapshot when the chain holds several (``chain.snapshots()``).
    """
    if weighting not in ("spread", "vega"):
        raise ValidationError("weighting", weighting, "must be 'spread' or 'vega'")
    if len(chain) == 0:
        raise ValidationError("chain", chain.source, "is empty")
    snaps = chain.snapshots()
    if not 0 <= snapshot < len(snaps):
        raise ValidationError("snapshot", snapshot, f"must be in [0, {len(snaps)})")
    snap = snaps[snapshot]
    fr = snap.frame
    first = str(fr["instrument"][0])
    inst = parse_instrument(first)
    inverse = getattr(inst, "settlement", Settlement.INVERSE) is Settlement.INVERSE
    slices: list[ExpirySlice] = []
    skipped: list[str] = []
    for expiry in snap.expiries():
        part = fr.filter(fr["expiry_ns"] == expiry)
        T = float(np.median(_col(part, "T")))
        if not T > 0:
            skipped.append(f"{expiry}: expired")
            continue
        K = _col(part, "strike")
        kind = _col(part, "kind")
        mark_iv = _col(part, "mark_iv")
        quoted_iv = mark_iv[np.isfinite(mark_iv)]
        if quoted_iv.size >= 2 and np.all(quoted_iv == quoted_iv[0]):
            level = 100 * float(quoted_iv[0])
            skipped.append(f"{expiry}: every mark IV is {level:.2f}% (a flat placeholder, not a smile); not fitted")
            continue
        bid_iv = _col(part, "bid_iv")
        ask_iv = _col(part, "ask_iv")
        under = _col(part, "underlying_price")
        venue_F = float(np.nanmedian(under)) if np.isfinite(under).any() else math.nan
        mark = _col(part, "mark_price")
        try:
            if np.isfinite(mark).any():
                F, D = _parity(K, kind, mark, inverse=inverse, F_guess=venue_F)
                src = "parity"
            elif np.isfinite(venue_F):
                F, D, src = venue_F, 1.0, "underlying"
            else:
                calls = kind > 0
                F = forward_from_deltas(K[calls], T, mark_iv[calls], _col(part, "venue_delta")[calls])
                D, src = 1.0, "delta"
        except PricingError as exc:
            skipped.append(f"{expiry}: {exc}")
            continue
        otm = np.where(K >= F, kind > 0, kind < 0)
        use = otm & (mark_iv > 0) & np.isfinite(mark_iv)
        k = np.log(K[use] / F)
        ivu = mark_iv[use]
        bid_u, ask_u = bid_iv[use], ask_iv[use]
        sd = ivu * math.sqrt(T)
        vega = np.exp(-0.5 * (-k / sd + 0.5 * sd) ** 2)  # Black vega / (F √T)
        if weighting == "spread":
            spread = ask_u - bid_u
            quoted = (bid_u > 0) & (spread > 0)
            # 1 / (bid-ask IV spread, floored at 1 vol pt); unquoted strikes get their vega
            # times the weight of a 5-vol-pt spread
            wts = np.where(quoted, 1.0 / np.maximum(np.where(quoted, spread, 1.0), 0.01), vega / 0.05)
        else:
            wts = vega
        order = np.argsort(k)
        try:
            fit = fit_svi(k[order], ivu[order], T, wts[order])
        except PricingError as exc:
            skipped.append(f"{expiry}: {exc}")
            continue
        slices.append(
            ExpirySlice(
                int(expiry), T, F, D, src, fit, k[order], ivu[order], wts[order], venue_F, bid_u[order], ask_u[order]
            )
        )
    if not slices:
        raise PricingError(f"no expiry of {chain.source} could be fitted: {'; '.join(skipped)}")
    violations = _calendar_check(slices)
    return VolSurface(
        tuple(slices),
        tuple(violations),
        ts_ns=int(np.min(fr["ts_ns"].to_numpy())),
        underlying=str(fr["underlying"][0]),
        source=snap.source,
        skipped=tuple(skipped),
    )


def _parity(K: F64, kind: F64, mark: F64, *, inverse: bool, F_guess: float) -> tuple[float, float]:
    """Put-call parity on the venue's mark prices at strikes listed as both call and put.

    Marks, not bid/ask mids: on these chains most strikes are quoted one-sided or with spreads
    of tens of vol points, which makes mid-based parity unstable (discounts of 0.3-1.6 observed).
    """
    calls = {float(k): float(m) for k, m, w in zip(K, mark, kind, strict=True) if w > 0 and np.isfinite(m)}
    pairs = [(float(k), calls[float(k)], float(m)) for k, m, w in zip(K, mark, kind, strict=True)
             if w < 0 and np.isfinite(m) and float(k) in calls]  # fmt: skip
    ka = np.array([p[0] for p in pairs])
    guess = F_guess if math.isfinite(F_guess) else float(np.median(ka)) if ka.size else 1.0
    return forward_from_parity(ka, [p[1] for p in pairs], [p[2] for p in pairs], inverse=inverse, F_guess=guess)


def _calendar_check(slices: list[ExpirySlice]) -> list[CalendarViolation]:
    out: list[CalendarViolation] = []
    for a, b in itertools.pairwise(slices):
        lo = max(a.fit.k_range[0], b.fit.k_range[0])
        hi = min(a.fit.k_range[1], b.fit.k_range[1])
        if hi <= lo:
            continue
        grid = np.linspace(lo, hi, 101)
        wa = a.fit.params.total_variance(grid)
        wb = b.fit.params.total_variance(grid)
        gap = wa - wb
        i = int(np.argmax(gap))
        if gap[i] > 1e-10:
            out.append(CalendarViolation(a.T, b.T, float(grid[i]), float(wa[i]), float(wb[i])))
    return out
