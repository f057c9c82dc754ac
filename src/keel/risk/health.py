"""Vectorized health scan: which of many accounts are below maintenance on a price tick.

Accounts are rows of flat arrays (structure of arrays) so a tick costs one compiled pass:
``equity = collateral + Σ_u qty[a,u]·(price[u] − ref[a,u])`` and
``maintenance = Σ_u mmf[u]·|qty[a,u]|·price[u]``, both evaluated at the favourable edge of
each underlying's oracle band (longs at ``price + conf``, shorts at ``price − conf``), so an
account is flagged only if it is below maintenance even there.  USD throughout; ``qty`` in
coins (linear delta-one exposure).

:class:`HealthBook` keeps the same accounts in a form where a tick is one pass of
multiply-adds: with ``c = q − mmf·|q|`` (same sign as ``q`` since ``mmf < 1``),
``equity − maintenance = base + Σ_u c·price + Σ_u |c|·conf`` where
``base = collateral − Σ_u q·ref`` does not depend on the tick (it changes only when an
account trades, deposits or is settled, and is updated per account then).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from keel.errors import ValidationError

__all__ = ["HealthBook", "health_scan"]


@njit(cache=True, parallel=True)
def _scan(collateral, qty, ref, mmf, price, conf, equity, maint, flag):  # type: ignore[no-untyped-def]
    n, u = qty.shape
    for a in prange(n):
        e = collateral[a]
        m = 0.0
        for j in range(u):
            q = qty[a, j]
            if q == 0.0:
                continue
            # favourable edge: maximize equity − maintenance
            if q > 0.0:
                p = price[j] + conf[j] if (q - mmf[j] * q) > 0.0 else price[j] - conf[j]
            else:
                p = price[j] - conf[j]
            e += q * (p - ref[a, j])
            m += mmf[j] * abs(q) * p
        equity[a] = e
        maint[a] = m
        flag[a] = e < m


def health_scan(
    collateral: np.ndarray,
    qty: np.ndarray,
    ref: np.ndarray,
    mmf: np.ndarray,
    price: np.ndarray,
    confidence: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(equity, maintenance, below_maintenance) for every account at the favourable band edge.

    ``collateral`` (n,) USD after haircuts; ``qty``/``ref`` (n, u) coins and the USD price
    PnL was last settled at; ``mmf`` (u,) maintenance fractions; ``price``/``confidence``
    (u,) oracle price and band half-width.
    """
    col = np.ascontiguousarray(collateral, dtype=np.float64)
    q = np.ascontiguousarray(qty, dtype=np.float64)
    r = np.ascontiguousarray(ref, dtype=np.float64)
    m = np.ascontiguousarray(mmf, dtype=np.float64)
    p = np.ascontiguousarray(price, dtype=np.float64)
    c = np.zeros_like(p) if confidence is None else np.ascontiguousarray(confidence, dtype=np.float64)
    if q.ndim != 2 or q.shape != r.shape or col.shape != (q.shape[0],):
        raise ValidationError("qty", q.shape, "qty and ref must be (n, u) with collateral (n,)")
    if p.shape != (q.shape[1],) or m.shape != p.shape or c.shape != p.shape:
        raise ValidationError("price", p.shape, f"price, mmf and confidence must have shape ({q.shape[1]},)")
    if not (np.all(np.isfinite(p)) and np.all(p > 0)):
        raise ValidationError("price", p.tolist()[:4], "prices must be finite and positive (never act on a bad price)")
    if not (np.all(np.isfinite(c)) and np.all(c >= 0) and np.all(c < p)):
        raise ValidationError("confidence", c.tolist()[:4], "must be finite, >= 0 and below the price")
    n = q.shape[0]
    equity = np.empty(n)
    maint = np.empty(n)
    flag = np.empty(n, dtype=np.bool_)
    _scan(col, q, r, m, p, c, equity, maint, flag)
    return equity, maint, flag


@njit(cache=True, parallel=True)
def _slack(base, coef, price, conf, slack, flag):  # type: ignore[no-untyped-def]
    n, u = coef.shape
    for a in prange(n):
        x = base[a]
        for j in range(u):
            c = coef[a, j]
            x += c * price[j] + abs(c) * conf[j]
        slack[a] = x
        flag[a] = x < 0.0


class HealthBook:
    """Accounts prepared for per-tick scans (see the module docstring).  USD, coins."""

    def __init__(self, collateral: np.ndarray, qty: np.ndarray, ref: np.ndarray, mmf: np.ndarray) -> None:
        col = np.ascontiguousarray(collateral, dtype=np.float64)
        q = np.ascontiguousarray(qty, dtype=np.float64)
        r = np.ascontiguousarray(ref, dtype=np.float64)
        m = np.ascontiguousarray(mmf, dtype=np.float64)
        if q.ndim != 2 or q.shape != r.shape or col.shape != (q.shape[0],) or m.shape != (q.shape[1],):
            raise ValidationError("qty", q.shape, "qty and ref must be (n, u), collateral (n,), mmf (u,)")
        if not (np.all(m >= 0) and np.all(m < 1)):
            raise ValidationError("mmf", m.tolist(), "maintenance fractions must be in [0, 1)")
        for name, a in (("collateral", col), ("qty", q), ("ref", r)):
            if not np.all(np.isfinite(a)):
                raise ValidationError(name, "NaN/inf", "must be finite")
        self.mmf = m
        self.base = col - (q * r).sum(axis=1)
        self.coef = q - m * np.abs(q)
        self._slack = np.empty(q.shape[0])
        self._flag = np.empty(q.shape[0], dtype=np.bool_)

    def update(self, account: int, collateral: float, qty: np.ndarray, ref: np.ndarray) -> None:
        """Re-derive one account after a trade, deposit or settlement."""
        q = np.asarray(qty, dtype=np.float64)
        self.base[account] = collateral - float((q * np.asarray(ref, dtype=np.float64)).sum())
        self.coef[account] = q - self.mmf * np.abs(q)

    def scan(self, price: np.ndarray, confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(equity − maintenance, below_maintenance) at the favourable band edge; arrays are reused."""
        p = np.ascontiguousarray(price, dtype=np.float64)
        c = np.zeros_like(p) if confidence is None else np.ascontiguousarray(confidence, dtype=np.float64)
        if p.shape != (self.coef.shape[1],) or c.shape != p.shape:
            raise ValidationError("price", p.shape, f"must have shape ({self.coef.shape[1]},)")
        if not (np.all(np.isfinite(p)) and np.all(p > 0)):
            raise ValidationError(
                "price", p.tolist()[:4], "prices must be finite and positive (never act on a bad price)"
            )
        if not (np.all(np.isfinite(c)) and np.all(c >= 0) and np.all(c < p)):
            raise ValidationError("confidence", c.tolist()[:4], "must be finite, >= 0 and below the price")
        _slack(self.base, self.coef, p, c, self._slack, self._flag)
        return self._slack, self._flag
