"""Public option-pricing functions: prices, Greeks and implied vols that broadcast like numpy.

Conventions (all functions):

* ``kind`` is ``"call"``, ``"put"``, or an array of +1 (call) / -1 (put) that broadcasts with
  the other inputs.
* ``S`` spot, ``F`` forward, ``K`` strike, ``T`` years to expiry (ACT/365), ``r`` continuously
  compounded rate, ``q`` continuous yield, ``sigma`` annualized vol (0.2 = 20%), ``df``
  discount factor to expiry.  Inputs are converted to float64.
* ``T == 0`` (or ``sigma == 0``) prices the discounted intrinsic value of the forward.
* Bad input raises :class:`keel.errors.ValidationError` naming the field, the element index
  and the value: ``S``/``F``/``K`` must be positive and finite, ``T``/``sigma`` non-negative
  and finite, ``r``/``q`` finite, ``df`` positive and finite; shapes must broadcast.
* All-scalar calls take a plain scalar path and return ``float``; otherwise float64 arrays of
  the broadcast shape.
* Implied vols: a price outside the no-arbitrage bounds (below the discounted intrinsic value
  or at/above ``df·F`` for calls, ``df·K`` for puts) gives NaN in the vector API;
  :func:`implied_vol_status` tells which bound (:class:`IVStatus`); a negative price is below
  the intrinsic value like any other (NaN, ``BELOW_INTRINSIC``).  The scalar API raises
  :class:`ImpliedVolError` instead (a negative price: :class:`ValidationError`).  A NaN price is
  a missing quote: NaN, status ``INVALID_INPUT``; an infinite one is refused.  A price exactly
  at the intrinsic value has implied vol 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.errors import PricingError, ValidationError
from keel.pricing import black as _black
from keel.pricing import iv as _iv
from keel.pricing import kernels as _k

__all__ = [
    "Greeks",
    "IVStatus",
    "ImpliedVolError",
    "black76",
    "greeks",
    "implied_vol",
    "implied_vol_black76",
    "implied_vol_black76_status",
    "implied_vol_status",
    "price",
]

F64 = npt.NDArray[np.float64]
Kind = str | npt.ArrayLike
ArrayOrFloat = float | F64


class IVStatus(IntEnum):
    """Why an implied vol is (or is not) defined."""

    OK = _iv.IV_OK
    INVALID_INPUT = _iv.IV_INVALID_INPUT
    BELOW_INTRINSIC = _iv.IV_BELOW_INTRINSIC
    ABOVE_MAXIMUM = _iv.IV_ABOVE_MAXIMUM
    NO_CONVERGENCE = _iv.IV_NO_CONVERGENCE

    def describe(self) -> str:
        return _STATUS_TEXT[self]


_STATUS_TEXT = {
    IVStatus.OK: "ok",
    IVStatus.INVALID_INPUT: "invalid input (NaN price, or S/F/K/T/df not positive and finite)",
    IVStatus.BELOW_INTRINSIC: "price is below the discounted intrinsic value: no implied vol",
    IVStatus.ABOVE_MAXIMUM: "price is at or above the no-arbitrage maximum (df*F for a call, df*K for a put)",
    IVStatus.NO_CONVERGENCE: "the root finder did not converge",
}


class ImpliedVolError(PricingError):
    """A scalar implied-vol request with no answer; ``status`` says why."""

    def __init__(self, status: IVStatus, price: float, detail: str) -> None:
        self.status = status
        self.price = price
        super().__init__(f"price={price!r}: {status.describe()} ({detail})")


@dataclass(frozen=True)
class Greeks:
    """Price and Greeks, float64 arrays of the broadcast shape (0-d for scalar input).

    QuantLib conventions: ``delta`` = ∂V/∂S, ``gamma`` = ∂²V/∂S², ``vega`` = ∂V/∂σ per 1.0
    of vol, ``theta`` = −∂V/∂T per year, ``rho`` = ∂V/∂r per 1.0, ``vanna`` = ∂²V/∂S∂σ,
    ``volga`` = ∂²V/∂σ².
    """

    price: F64
    delta: F64
    gamma: F64
    vega: F64
    theta: F64
    rho: F64
    vanna: F64
    volga: F64


# ---------------------------------------------------------------- input handling

# numba dispatchers called with unpacked argument lists (typed as Any for mypy)
_PRICE_KERNEL: Any = _black.bs_price_kernel
_B76_KERNEL: Any = _black.black76_kernel
_GREEKS_KERNEL: Any = _black.bs_greeks_kernel
_PRICE_SIMD: Any = _black.bs_price_simd_kernel
_GREEKS_SIMD: Any = _black.bs_greeks_simd_kernel
_IV_BS_SIMD: Any = _iv.iv_bs_simd_kernel
_SIMD_MIN = 2048  # below this the plain kernel is as fast and skips expanding broadcast scalars


def _full(flat: list[F64], n: int) -> list[F64]:
    return [a if a.shape[0] == n else np.full(n, a[0]) for a in flat]


def _is_scalar(x: Any) -> bool:
    return isinstance(x, int | float | np.floating | np.integer) and not isinstance(x, bool)


def _sign_scalar(kind: Any) -> float | None:
    if isinstance(kind, str):
        k = kind.strip().lower()
        if k == "call":
            return 1.0
        if k == "put":
            return -1.0
        raise ValidationError("kind", kind, "must be 'call', 'put' or an array of +1/-1")
    return None


def _sign_array(kind: Any) -> F64:
    s = _sign_scalar(kind)
    if s is not None:
        return np.array([s])
    try:
        arr = np.asarray(kind, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError("kind", kind, "must be 'call', 'put' or an array of +1/-1") from exc
    bad = ~((arr == 1.0) | (arr == -1.0))
    if bad.any():
        idx = [int(i) for i in np.argwhere(bad)[0]]
        raise ValidationError(f"kind{idx}", arr[tuple(idx)].item(), "must be +1 (call) or -1 (put)")
    return arr


def _as_arrays(names: tuple[str, ...], values: tuple[Any, ...]) -> tuple[tuple[int, ...], list[F64]]:
    """Broadcast inputs; each comes back flat, either full length or length 1."""
    arrays: list[F64] = []
    for name, v in zip(names, values, strict=True):
        try:
            arrays.append(np.asarray(v, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValidationError(name, v, "must be a number or an array of numbers") from exc
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError as exc:
        shapes = {n: a.shape for n, a in zip(names, arrays, strict=True)}
        raise ValidationError("shape", shapes, "inputs do not broadcast together") from exc
    flat: list[F64] = []
    for a in arrays:
        if a.size == 1:
            flat.append(a.reshape(1))
        elif a.shape == shape:
            flat.append(np.ascontiguousarray(a).reshape(-1))
        else:
            flat.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1))
    return shape, flat


_RULES = {
    "kind": "must be +1 (call) or -1 (put)",
    "S": "must be positive and finite",
    "F": "must be positive and finite",
    "K": "must be positive and finite",
    "T": "must be non-negative and finite",
    "sigma": "must be non-negative and finite",
    "r": "must be finite",
    "q": "must be finite",
    "df": "must be positive and finite",
    "price": "must be non-negative and finite",  # the scalar API; the vector API gives NaN below 0
}


def _ok(name: str, v: float) -> bool:
    if name in ("S", "F", "K", "df"):
        return 0.0 < v < math.inf
    if name in ("T", "sigma", "price"):
        return 0.0 <= v < math.inf
    if name == "kind":
        return v in (1.0, -1.0)
    return -math.inf < v < math.inf


def _raise_invalid(shape: tuple[int, ...], idx: int, names: tuple[str, ...], flat: list[F64]) -> None:
    pos = [int(i) for i in np.unravel_index(idx, shape)] if shape else []
    for name, a in zip(names, flat, strict=True):
        v = float(a[idx] if a.shape[0] > 1 else a[0])
        if not _ok(name, v):
            raise ValidationError(f"{name}{pos}" if pos else name, v, _RULES[name])
    raise ValidationError("input", idx, "invalid element")  # pragma: no cover - kernels and _ok agree


def _check_scalars(names: tuple[str, ...], values: tuple[float, ...]) -> None:
    for name, v in zip(names, values, strict=True):
        if not _ok(name, v):
            raise ValidationError(name, v, _RULES[name])


def _all_scalar(*values: Any) -> bool:
    return all(_is_scalar(v) for v in values)


# ---------------------------------------------------------------- prices and Greeks


def price(kind: Kind, S: Any, K: Any, T: Any, r: Any, sigma: Any, q: Any = 0.0) -> ArrayOrFloat:
    """Black-Scholes-Merton price of a European option (continuous yield ``q``)."""
    w = _sign_scalar(kind)
    if w is not None and _all_scalar(S, K, T, r, sigma, q):
        vals = (float(S), float(K), float(T), float(r), float(sigma), float(q))
        _check_scalars(("S", "K", "T", "r", "sigma", "q"), vals)
        return float(_k.bs_price(w, vals[0], vals[1], vals[2], vals[3], vals[5], vals[4]))
    names = ("kind", "S", "K", "T", "r", "q", "sigma")
    shape, flat = _as_arrays(names, (_sign_array(kind), S, K, T, r, q, sigma))
    n = int(np.prod(shape)) if shape else 1
    out = np.empty(n)
    bad = _PRICE_SIMD(*_full(flat, n), out) if n >= _SIMD_MIN else _PRICE_KERNEL(*flat, out)
    if bad >= 0:
        _raise_invalid(shape, bad, names, flat)
    return out.reshape(shape)


def black76(kind: Kind, F: Any, K: Any, T: Any, sigma: Any, df: Any = 1.0) -> ArrayOrFloat:
    """Black-76 price of a European option on a forward ``F``, discounted by ``df``."""
    w = _sign_scalar(kind)
    if w is not None and _all_scalar(F, K, T, sigma, df):
        vals = (float(F), float(K), float(T), float(sigma), float(df))
        _check_scalars(("F", "K", "T", "sigma", "df"), vals)
        return float(_k.black76_price(w, *vals))
    names = ("kind", "F", "K", "T", "sigma", "df")
    shape, flat = _as_arrays(names, (_sign_array(kind), F, K, T, sigma, df))
    n = int(np.prod(shape)) if shape else 1
    out = np.empty(n)
    bad = _B76_KERNEL(*flat, out)
    if bad >= 0:
        _raise_invalid(shape, bad, names, flat)
    return out.reshape(shape)


def greeks(kind: Kind, S: Any, K: Any, T: Any, r: Any, sigma: Any, q: Any = 0.0) -> Greeks:
    """Price and Greeks (QuantLib conventions, see :class:`Greeks`) of a European option."""
    w = _sign_scalar(kind)
    if w is not None and _all_scalar(S, K, T, r, sigma, q):
        vals = (float(S), float(K), float(T), float(r), float(sigma), float(q))
        _check_scalars(("S", "K", "T", "r", "sigma", "q"), vals)
        g = _black.bs_greeks_scalar(w, vals[0], vals[1], vals[2], vals[3], vals[5], vals[4])
        return Greeks(*(np.array(float(v)) for v in g))
    names = ("kind", "S", "K", "T", "r", "q", "sigma")
    shape, flat = _as_arrays(names, (_sign_array(kind), S, K, T, r, q, sigma))
    n = int(np.prod(shape)) if shape else 1
    if n >= _SIMD_MIN:
        outs = [np.empty(n) for _ in range(8)]
        bad = _GREEKS_SIMD(*_full(flat, n), *outs)
    else:
        block = np.empty((8, n))
        bad = _GREEKS_KERNEL(*flat, block)
        outs = list(block)
    if bad >= 0:
        _raise_invalid(shape, bad, names, flat)
    return Greeks(*(o.reshape(shape) for o in outs))


# ---------------------------------------------------------------- implied vol


def _iv_vector(
    kernel: Any, names: tuple[str, ...], values: tuple[Any, ...], check: tuple[str, ...]
) -> tuple[F64, npt.NDArray[np.int8], tuple[int, ...]]:
    shape, flat = _as_arrays(names, values)
    n = int(np.prod(shape)) if shape else 1
    out = np.empty(n)
    status = np.empty(n, dtype=np.int8)
    if kernel is _iv.iv_bs_kernel and n >= _SIMD_MIN:
        _IV_BS_SIMD(*_full(flat, n), out, status)
    else:
        kernel(*flat, out, status)
    invalid = np.flatnonzero(status == _iv.IV_INVALID_INPUT)
    if invalid.size:
        # NaN prices are missing quotes (documented NaN); anything else is a caller error.
        for name, a in zip(names, flat, strict=True):
            if name not in check:
                continue
            vals = a[invalid] if a.shape[0] > 1 else np.full(invalid.size, a[0])
            if name == "price":  # NaN: a missing quote; negative: below intrinsic (status 2)
                good = np.isnan(vals) | np.isfinite(vals)
            elif name == "T":
                good = (vals > 0.0) & (vals < math.inf)
            elif name == "kind":
                good = (vals == 1.0) | (vals == -1.0)
            elif name in ("r", "q"):
                good = np.isfinite(vals)
            else:
                good = (vals > 0.0) & (vals < math.inf)
            if not good.all():
                j = int(np.argmin(good))
                idx = int(invalid[j])
                pos = [int(i) for i in np.unravel_index(idx, shape)] if shape else []
                rule = "must be positive and finite" if name == "T" else _RULES[name]
                raise ValidationError(f"{name}{pos}" if pos else name, float(vals[j]), rule)
    return out.reshape(shape), status.reshape(shape), shape


def _label(w: float) -> str:
    return "call" if w > 0 else "put"


def _iv_scalar_result(sigma: float, code: int, price_: float, detail: str) -> float:
    if code == _iv.IV_OK:
        return sigma
    raise ImpliedVolError(IVStatus(code), price_, detail)


def implied_vol(kind: Kind, price: Any, S: Any, K: Any, T: Any, r: Any, q: Any = 0.0) -> ArrayOrFloat:
    """Black-Scholes-Merton implied vol, accurate to ~1e-11 absolute on every well-posed input.

    Out-of-bounds prices give NaN (ask :func:`implied_vol_status` why); in the scalar API they
    raise :class:`ImpliedVolError`.
    """
    w = _sign_scalar(kind)
    if w is not None and _all_scalar(price, S, K, T, r, q):
        vals = (float(price), float(S), float(K), float(T), float(r), float(q))
        _check_scalars(("price", "S", "K", "T", "r", "q"), vals)
        if vals[3] == 0.0:
            raise ValidationError("T", 0.0, "must be positive for an implied vol")
        sigma, code = _iv.iv_bs_scalar(w, *vals)
        return _iv_scalar_result(sigma, code, vals[0], f"{_label(w)} S={vals[1]} K={vals[2]} T={vals[3]} r={vals[4]}")
    names = ("kind", "price", "S", "K", "T", "r", "q")
    out, _, _ = _iv_vector(_iv.iv_bs_kernel, names, (_sign_array(kind), price, S, K, T, r, q), names)
    return out


def implied_vol_black76(kind: Kind, price: Any, F: Any, K: Any, T: Any, df: Any = 1.0) -> ArrayOrFloat:
    """Black-76 implied vol (same accuracy and conventions as :func:`implied_vol`)."""
    w = _sign_scalar(kind)
    if w is not None and _all_scalar(price, F, K, T, df):
        vals = (float(price), float(F), float(K), float(T), float(df))
        _check_scalars(("price", "F", "K", "T", "df"), vals)
        if vals[3] == 0.0:
            raise ValidationError("T", 0.0, "must be positive for an implied vol")
        sigma, code = _iv.iv_black76_scalar(w, vals[0], vals[1], vals[2], vals[3], vals[4])
        return _iv_scalar_result(sigma, code, vals[0], f"{_label(w)} F={vals[1]} K={vals[2]} T={vals[3]} df={vals[4]}")
    names = ("kind", "price", "F", "K", "T", "df")
    out, _, _ = _iv_vector(_iv.iv_black76_kernel, names, (_sign_array(kind), price, F, K, T, df), names)
    return out


def implied_vol_status(kind: Kind, price: Any, S: Any, K: Any, T: Any, r: Any, q: Any = 0.0) -> npt.NDArray[np.int8]:
    """Per-element :class:`IVStatus` codes for :func:`implied_vol` (0 where a vol was found)."""
    names = ("kind", "price", "S", "K", "T", "r", "q")
    _, status, _ = _iv_vector(_iv.iv_bs_kernel, names, (_sign_array(kind), price, S, K, T, r, q), ())
    return status


def implied_vol_black76_status(kind: Kind, price: Any, F: Any, K: Any, T: Any, df: Any = 1.0) -> npt.NDArray[np.int8]:
    """Per-element :class:`IVStatus` codes for :func:`implied_vol_black76`."""
    names = ("kind", "price", "F", "K", "T", "df")
    _, status, _ = _iv_vector(_iv.iv_black76_kernel, names, (_sign_array(kind), price, F, K, T, df), ())
    return status
