"""The array (CuPy) backend: its code runs here with numpy as the array module and must agree
with the numba kernels within standard errors; on a CUDA machine the real GPU is checked."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from keel.errors import ValidationError
from keel.pricing.mc import (
    GBM,
    AsianArithmeticCall,
    AsianGeometricCall,
    BarrierOption,
    Digital,
    EuropeanCall,
    Heston,
    LookbackFloatingCall,
    MCResult,
    Merton,
    OrnsteinUhlenbeck,
    Payoff,
    gpu,
    price,
)
from keel.pricing.mc.engine import _price_array_backend

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    HESTON = Heston(100.0, 0.03, 0.04, 1.5, 0.04, 0.5, -0.7)

CASES: list[tuple[object, Payoff, str | None]] = [
    (GBM(100.0, 0.05, 0.3), AsianArithmeticCall(100.0, 1.0, 20), "geometric"),
    (GBM(100.0, 0.05, 0.3), AsianGeometricCall(100.0, 1.0, None), None),
    (GBM(100.0, 0.08, 0.25, q=0.04), BarrierOption("call", "down-and-out", 90.0, 95.0, 1.0, 3.0), "european"),
    (GBM(120.0, 0.10, 0.30, q=0.06), LookbackFloatingCall(1.0, 100.0), None),
    (Merton(100.0, 0.05, 0.2, 3.0, -0.1, 0.1), Digital("put", 95.0, 1.0), None),
    (HESTON, EuropeanCall(105.0, 1.0), None),
    (OrnsteinUhlenbeck(0.01, 2.0, 0.0, 0.05), BarrierOption("call", "up-and-out", 0.0, 0.06, 1.0), "european"),
]


def _agree(a: MCResult, b: MCResult) -> None:
    assert abs(a.price - b.price) < 4.0 * math.hypot(a.stderr, b.stderr), (a, b)


@pytest.mark.parametrize(("model", "payoff", "cv"), CASES)
def test_array_backend_agrees_with_numba(model: object, payoff: Payoff, cv: str | None) -> None:
    ref = price(model, payoff, n_paths=40_000, n_steps=20, seed=1, control_variate=cv, backend="cpu")  # type: ignore[arg-type]
    arr = _price_array_backend(np, "numpy", model, payoff, 40_000, 20, 2, True, cv)  # type: ignore[arg-type]
    assert arr.backend == "numpy" and arr.n_paths == ref.n_paths
    _agree(ref, arr)


def test_array_backend_is_seeded() -> None:
    m, p = GBM(100.0, 0.05, 0.3), EuropeanCall(100.0, 1.0)
    a = _price_array_backend(np, "numpy", m, p, 1000, 3, 5, False, None)
    assert a == _price_array_backend(np, "numpy", m, p, 1000, 3, 5, False, None)
    assert a != _price_array_backend(np, "numpy", m, p, 1000, 3, 6, False, None)


@pytest.mark.skipif(gpu.cuda_available(), reason="checks the CPU-only selection")
def test_auto_selects_cpu_without_cuda() -> None:
    r = price(GBM(100.0, 0.05, 0.3), EuropeanCall(100.0, 1.0), n_paths=1000, n_steps=1, seed=1)
    assert r.backend == "cpu"
    with pytest.raises(ValidationError, match="CUDA"):
        price(GBM(100.0, 0.05, 0.3), EuropeanCall(100.0, 1.0), n_paths=1000, n_steps=1, seed=1, backend="gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not gpu.cuda_available(), reason="needs a CUDA device and CuPy")
@pytest.mark.parametrize(("model", "payoff", "cv"), CASES)
def test_gpu_agrees_with_cpu(model: object, payoff: Payoff, cv: str | None) -> None:
    cpu = price(model, payoff, n_paths=200_000, n_steps=20, seed=1, control_variate=cv, backend="cpu")  # type: ignore[arg-type]
    auto = price(model, payoff, n_paths=200_000, n_steps=20, seed=1, control_variate=cv)  # type: ignore[arg-type]
    assert auto.backend == "gpu"
    again = price(model, payoff, n_paths=200_000, n_steps=20, seed=1, control_variate=cv)  # type: ignore[arg-type]
    assert again == auto
    _agree(cpu, auto)
