"""keel.pricing.mc.price with a distributed backend: bit-identical to the single-process price."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from keel.errors import ValidationError
from keel.pricing.mc import (
    GBM,
    AsianArithmeticCall,
    BarrierOption,
    EuropeanCall,
    Heston,
    MapBackend,
    Merton,
    PathPayoff,
    price,
)


class InProcess:
    """The simplest MapBackend: runs the calls here, in reverse to prove order does not matter."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.calls = 0

    def map(self, fn: Any, calls: Any) -> list[Any]:
        self.calls += len(calls)
        out = [fn(*c) for c in reversed(calls)]
        return out[::-1]


def _max_payoff(paths: np.ndarray) -> np.ndarray:
    return np.maximum(paths.max(axis=1) - 100.0, 0.0)


CASES = [
    (GBM(100.0, 0.03, 0.6), EuropeanCall(100.0, 0.5), {}),
    (GBM(100.0, 0.03, 0.6), AsianArithmeticCall(100.0, 0.5, 50), {"control_variate": "geometric"}),
    (GBM(100.0, 0.03, 0.6), BarrierOption("call", "down-and-out", 100.0, 80.0, 0.5), {"antithetic": False}),
    (Merton(100.0, 0.03, 0.4, 0.5, -0.1, 0.15), EuropeanCall(100.0, 1.0), {}),
    (Heston(100.0, 0.03, 0.04, 1.5, 0.04, 0.3, -0.7), EuropeanCall(100.0, 1.0), {}),
    (GBM(100.0, 0.03, 0.6), PathPayoff(_max_payoff, 0.5), {}),
]


@pytest.mark.parametrize(("model", "payoff", "kw"), CASES)
@pytest.mark.parametrize("workers", [1, 3, 7])
def test_distributed_price_is_bit_identical(model: Any, payoff: Any, kw: dict[str, Any], workers: int) -> None:
    single = price(model, payoff, n_paths=60_001, n_steps=50, seed=11, backend="cpu", **kw)
    backend = InProcess(workers)
    assert isinstance(backend, MapBackend)
    dist = price(model, payoff, n_paths=60_001, n_steps=50, seed=11, backend=backend, **kw)
    assert 1 <= backend.calls <= 2 * workers  # block ranges, at most 2 per worker
    assert (dist.price, dist.stderr, dist.n_paths) == (single.price, single.stderr, single.n_paths)
    assert dist.backend == "distributed"


def test_distributed_backend_refuses_qmc_and_bad_workers() -> None:
    with pytest.raises(ValidationError, match="qmc"):
        price(GBM(100.0, 0.0, 0.2), EuropeanCall(100.0, 1.0), n_paths=1024, n_steps=4, seed=1, qmc=True,
              backend=InProcess(2))  # fmt: skip
    with pytest.raises(ValidationError, match="workers"):
        price(GBM(100.0, 0.0, 0.2), EuropeanCall(100.0, 1.0), n_paths=1024, n_steps=4, seed=1, backend=InProcess(0))
