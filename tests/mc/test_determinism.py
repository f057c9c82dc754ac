"""Same seed -> the same result bit for bit, whatever the thread count."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest

from keel.pricing.mc import (
    GBM,
    AsianArithmeticCall,
    BarrierOption,
    EuropeanCall,
    Heston,
    LookbackFloatingCall,
    MCResult,
    Merton,
    PathPayoff,
    price,
    sample_paths,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    HESTON = Heston(100.0, 0.02, 0.05, 2.0, 0.05, 0.6, -0.6)

CASES = [
    (GBM(100.0, 0.05, 0.3), AsianArithmeticCall(100.0, 1.0, 50), {"control_variate": "geometric"}),
    (GBM(100.0, 0.05, 0.3), BarrierOption("put", "down-and-in", 100.0, 85.0, 1.0, 1.0), {}),
    (GBM(100.0, 0.05, 0.3), LookbackFloatingCall(1.0, 100.0), {"antithetic": False}),
    (Merton(100.0, 0.05, 0.2, 2.0, -0.1, 0.15), EuropeanCall(100.0, 1.0), {}),
    (HESTON, EuropeanCall(100.0, 1.0), {"qmc": True}),
    (GBM(100.0, 0.05, 0.3), PathPayoff(lambda p: np.maximum(p.max(axis=1) - 110.0, 0.0), 1.0), {}),
]


def _run(threads: int, model: object, payoff: object, kw: dict[str, object]) -> MCResult:
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return price(model, payoff, n_paths=6000, n_steps=50, seed=2024, **kw)  # type: ignore[arg-type]
    finally:
        numba.set_num_threads(old)


@pytest.mark.parametrize(("model", "payoff", "kw"), CASES)
def test_bit_identical_across_runs_and_thread_counts(model: object, payoff: object, kw: dict[str, object]) -> None:
    a = _run(numba.config.NUMBA_NUM_THREADS, model, payoff, kw)
    b = _run(numba.config.NUMBA_NUM_THREADS, model, payoff, kw)
    c = _run(1, model, payoff, kw)
    assert a == b
    assert a.price == c.price and a.stderr == c.stderr
    other = price(model, payoff, n_paths=6000, n_steps=50, seed=2025, **kw)  # type: ignore[arg-type]
    assert other.price != a.price


def test_sample_paths_deterministic_and_thread_independent() -> None:
    m = Merton(100.0, 0.0, 0.5, 10.0, -0.2, 0.1)
    a = sample_paths(m, 1.0, 30, 5000, 9)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = sample_paths(m, 1.0, 30, 5000, 9)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample_paths(m, 1.0, 30, 5000, 10))
