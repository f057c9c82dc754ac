"""Counter-seeded parallel random streams for the numba Monte Carlo kernels.

Design (why results do not depend on threads or scheduling): paths are cut into blocks
whose size depends only on ``n_paths``; block ``b`` owns its own xoshiro256** stream whose
state is four SplitMix64 outputs of ``(seed, b)``.  A block always draws the same numbers
whatever thread runs it, and block results are reduced in block order, so one seed gives
the same price bit for bit on any thread count.

Normals come from a 256-layer ziggurat (Marsaglia and Tsang's method) whose tables are
built here at import from the normal density itself: the base-strip edge ``r`` is solved
so that all 256 layers have exactly the same area.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit
from scipy.optimize import brentq
from scipy.special import erfc

__all__ = ["ZIG_F", "ZIG_RATIO", "ZIG_X", "block_state", "next_u64", "std_normal", "std_normal_call", "uniform01"]

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)
_U5 = np.uint64(5)
_U7 = np.uint64(7)
_U9 = np.uint64(9)
_U11 = np.uint64(11)
_U17 = np.uint64(17)
_U27 = np.uint64(27)
_U30 = np.uint64(30)
_U31 = np.uint64(31)
_U45 = np.uint64(45)
_U57 = np.uint64(57)
_U64 = np.uint64(64)
_U1 = np.uint64(1)
_U255 = np.uint64(255)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_INV52 = 1.0 / 4503599627370496.0  # 2**-52


@njit(cache=True, inline="always")
def _splitmix(z: np.uint64) -> tuple[np.uint64, np.uint64]:
    z = z + _GOLDEN
    x = z
    x = (x ^ (x >> _U30)) * _SM_M1
    x = (x ^ (x >> _U27)) * _SM_M2
    return z, x ^ (x >> _U31)


@njit(cache=True)
def block_state(seed: np.uint64, block: int) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """xoshiro256** state of block ``block`` of stream ``seed`` (never all zero)."""
    z = seed ^ (np.uint64(block) * _SM_M2)
    z, _ = _splitmix(z)
    z, s0 = _splitmix(z)
    z, s1 = _splitmix(z)
    z, s2 = _splitmix(z)
    z, s3 = _splitmix(z)
    if s0 == 0 and s1 == 0 and s2 == 0 and s3 == 0:
        s0 = _GOLDEN
    return s0, s1, s2, s3


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: np.uint64) -> np.uint64:
    return (x << k) | (x >> (_U64 - k))


@njit(cache=True, inline="always")
def next_u64(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.uint64]:
    """One xoshiro256** output and the advanced state."""
    out = _rotl(s1 * _U5, _U7) * _U9
    t = s1 << _U17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _U45)
    return out, s0, s1, s2, s3


@njit(cache=True)
def uniform01(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64
) -> tuple[float, np.uint64, np.uint64, np.uint64, np.uint64]:
    """A uniform on the open interval (0, 1) (53 random bits, never 0)."""
    u, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    return (float(u >> _U11) + 0.5) * _INV53, s0, s1, s2, s3


@njit(cache=True, inline="always")
def std_normal(
    s0: np.uint64,
    s1: np.uint64,
    s2: np.uint64,
    s3: np.uint64,
    zx: npt.NDArray[np.float64],
    zr: npt.NDArray[np.float64],
    zf: npt.NDArray[np.float64],
) -> tuple[float, np.uint64, np.uint64, np.uint64, np.uint64]:
    """A standard normal by the 256-layer ziggurat (tables ZIG_X, ZIG_RATIO, ZIG_F).

    One 64-bit draw gives the layer (low 8 bits) and a signed uniform ``v`` in [-1, 1) (top
    53 bits, arithmetic shift), so the common case (98.8 %) is branch-free in the sign."""
    while True:
        u, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
        i = np.int64(u & _U255)
        v = float(np.int64(u) >> np.int64(11)) * _INV52
        if abs(v) < zr[i]:
            return v * zx[i], s0, s1, s2, s3
        x = abs(v) * zx[i]
        sgn = 1.0 if v >= 0.0 else -1.0
        if i == 0:
            r = zx[1]
            while True:
                a, s0, s1, s2, s3 = uniform01(s0, s1, s2, s3)
                b, s0, s1, s2, s3 = uniform01(s0, s1, s2, s3)
                e = -math.log(a) / r
                if -2.0 * math.log(b) > e * e:
                    return sgn * (r + e), s0, s1, s2, s3
        w, s0, s1, s2, s3 = uniform01(s0, s1, s2, s3)
        if zf[i] + w * (zf[i + 1] - zf[i]) < math.exp(-0.5 * x * x):
            return sgn * x, s0, s1, s2, s3


# The same generator as an out-of-line call: kernels with many draw sites use it to keep
# numba's compile time short (the inlined one is for the hot GBM loop).
std_normal_call = njit(cache=True)(std_normal.py_func)


def _ziggurat_tables(n: int = 256) -> tuple[npt.NDArray[np.float64], ...]:
    def f(x: float) -> float:
        return math.exp(-0.5 * x * x)

    def area(r: float) -> float:  # base strip + tail, unnormalized density
        return r * f(r) + math.sqrt(math.pi / 2.0) * float(erfc(r / math.sqrt(2.0)))

    def edges(r: float) -> list[float]:
        v = area(r)
        xs = [v / f(r), r]
        for _ in range(2, n):
            arg = f(xs[-1]) + v / xs[-1]
            if arg >= 1.0:
                return [*xs, math.nan]
            xs.append(math.sqrt(-2.0 * math.log(arg)))
        return xs

    def mismatch(r: float) -> float:
        xs = edges(r)
        last = xs[-1]
        if math.isnan(last):
            return -1.0
        return last * (1.0 - f(last)) - area(r)  # top layer's area minus the common area

    r = brentq(mismatch, 3.3, 3.9, xtol=1e-15, rtol=1e-15, maxiter=200)
    xs = [*edges(r), 0.0]
    zx = np.array(xs, dtype=np.float64)
    zr = np.empty(n, dtype=np.float64)
    zr[:] = zx[1:] / zx[:-1]
    zf = np.array([f(x) for x in xs], dtype=np.float64)
    return zx, zr, zf


ZIG_X, ZIG_RATIO, ZIG_F = _ziggurat_tables()
