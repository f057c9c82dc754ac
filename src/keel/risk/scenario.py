"""The scenario grid of portfolio margin and its compiled revaluation kernels.

A grid is a list of (price move, vol shock, weight) scenarios applied to every instrument of
one underlying.  As in CME SPAN, each listed instrument is revalued once per scenario into a
*risk array* (PnL per unit, USD), and an account's scenario PnL is the quantity-weighted sum
of its instruments' risk arrays: the expensive option revaluation is shared by every account
holding the instrument, the per-account work is a gather and a sum.

Defaults follow Deribit's portfolio margin: price moves of ±16% in 9 steps, implied-vol shocks
``σ' = σ·(1 + v·(30/max(DTE, 1))^0.3)`` with v ∈ {−30%, 0, +45%} (27 regular scenarios), and
two extended moves (−66%, +500%) whose losses count at a dampened weight of 1/3 (SPAN's
extreme-move convention).  Options are revalued with :func:`keel.pricing.kernels.bs_price`.

Instrument kinds in the kernels: ``KIND_LINEAR`` (value S per unit: spot holdings, linear
perpetuals and futures), ``KIND_INVERSE`` (1 USD notional of an inverse perpetual/future,
PnL valued in USD at the scenario price: ``S'/S − 1``), ``KIND_CALL`` and ``KIND_PUT``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from keel.errors import ValidationError
from keel.pricing.kernels import bs_price

__all__ = [
    "KIND_CALL",
    "KIND_INVERSE",
    "KIND_LINEAR",
    "KIND_PUT",
    "ScenarioGrid",
    "portfolio_scan",
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


def _risk_arrays_impl(kind, strike, t, sigma, spot, rate, moves, shocks, weights, vol_power, dte_floor):  # type: ignore[no-untyped-def]
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
            sign = 1.0 if k == KIND_CALL else -1.0
            v0 = bs_price(sign, s0, strike[i], t[i], rate, 0.0, sigma[i])
            dte = max(t[i] * 365.0, dte_floor)
            scale = (30.0 / dte) ** vol_power
            for j in range(m):
                vol = sigma[i] * (1.0 + shocks[j] * scale)
                if vol < 0.01 * sigma[i]:
                    vol = 0.01 * sigma[i]
                out[i, j] = weights[j] * (bs_price(sign, s0 * (1.0 + moves[j]), strike[i], t[i], rate, 0.0, vol) - v0)
    return out


# the same kernels compiled twice: threaded for big batches, serial for one account
# (thread start-up costs milliseconds on a busy machine; prange is a plain range serially)
_risk_arrays_par = njit(cache=True, parallel=True)(_risk_arrays_impl)
_risk_arrays_ser = njit(cache=True)(_risk_arrays_impl)
_PARALLEL_MIN_WORK = 50_000


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
    kernel = _risk_arrays_par if n * moves.size >= _PARALLEL_MIN_WORK else _risk_arrays_ser
    out = kernel(kind, strike_a, t_a, sigma_a, spot_a, float(rate), moves, shocks, weights, power, floor)
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
_portfolio_scan_ser = njit(cache=True)(_portfolio_scan_impl)


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
    kernel = _portfolio_scan_par if idx.size * risk.shape[1] >= _PARALLEL_MIN_WORK else _portfolio_scan_ser
    loss, cont = kernel(idx, qty, risk, g, n_groups, c)
    return np.asarray(loss), np.asarray(cont)
