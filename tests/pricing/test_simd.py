"""The vectorizable exp/log/Φ used by the bulk price and Greeks kernels, against libm and mpmath."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from numba import njit

from keel.pricing.simd import vexp, vlog, vnorm_cdf


@njit(error_model="numpy")
def _apply(kind: int, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = vexp(x[i]) if kind == 0 else (vlog(x[i]) if kind == 1 else vnorm_cdf(x[i]))
    return out


def test_vexp_within_one_ulp_of_libm() -> None:
    x = np.random.default_rng(1).uniform(-700, 700, 200_000)
    ref = np.exp(x)
    assert np.max(np.abs(_apply(0, x) - ref) / np.spacing(ref)) <= 1.0
    np.testing.assert_array_equal(_apply(0, np.array([-800.0, 0.0, 800.0])), [0.0, 1.0, math.inf])


def test_vlog_within_two_ulp() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([np.exp(rng.uniform(-700, 700, 100_000)), 1.0 + rng.uniform(-1e-3, 1e-3, 10_000)])
    ref = np.log(x)
    err = np.abs(_apply(1, x) - ref)
    assert np.all(err <= 2 * np.spacing(np.abs(ref)) + 1e-300)


def test_vnorm_cdf_relative_accuracy_against_mpmath() -> None:
    mp.mp.dps = 30
    x = np.concatenate([np.linspace(-37.5, 8.0, 400), [-1e-3, 0.0, 1e-3]])
    got = _apply(2, x)
    rel = [abs(float((mp.mpf(float(g)) - mp.ncdf(float(v))) / mp.ncdf(float(v)))) for g, v in zip(got, x, strict=True)]
    assert max(rel) < 1e-13
