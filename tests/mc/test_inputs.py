"""Bad input: one-line errors naming the field and value; Feller violations warned."""

from __future__ import annotations

import math

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
    FellerConditionWarning,
    Heston,
    Merton,
    OrnsteinUhlenbeck,
    PathPayoff,
    greeks,
    price,
    sample_paths,
)

M = GBM(100.0, 0.05, 0.2)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GBM(100.0, 0.05, -0.2), "sigma"),
        (lambda: GBM(-1.0, 0.05, 0.2), "S0"),
        (lambda: GBM(100.0, math.nan, 0.2), "r"),
        (lambda: Merton(100.0, 0.05, 0.2, -1.0, 0.0, 0.1), "lam"),
        (lambda: Merton(100.0, 0.05, 0.2, 1.0, 0.0, -0.1), "sigma_j"),
        (lambda: Heston(100.0, 0.05, 0.04, 1.0, 0.04, 0.3, -1.5), "rho"),
        (lambda: Heston(100.0, 0.05, -0.04, 1.0, 0.04, 0.3, 0.0), "v0"),
        (lambda: OrnsteinUhlenbeck(0.0, 0.0, 0.0, 0.1), "kappa"),
        (lambda: OrnsteinUhlenbeck(0.0, 1.0, 0.0, -0.1), "sigma"),
        (lambda: EuropeanCall(100.0, 0.0), "T"),
        (lambda: EuropeanCall(100.0, -1.0), "T"),
        (lambda: AsianArithmeticCall(100.0, 1.0, 0), "n_fixings"),
        (lambda: BarrierOption("call", "sideways", 100.0, 90.0, 1.0), "barrier_type"),
        (lambda: BarrierOption("call", "down-and-out", 100.0, 90.0, 1.0, rebate=-1.0), "rebate"),
        (lambda: Digital("straddle", 100.0, 1.0), "kind"),
        (lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=1, n_steps=1, seed=0), "n_paths"),
        (lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=0, seed=0), "n_steps"),
        (lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=-1), "seed"),
        (lambda: price(M, AsianArithmeticCall(100.0, 1.0, 12), n_paths=100, n_steps=10, seed=0), "n_steps"),
        (
            lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=0, control_variate="x"),
            "control_variate",
        ),
        (
            lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=0, control_variate="geometric"),
            "control_variate",
        ),
        (
            lambda: price(M, BarrierOption("call", "down-and-out", 100.0, 120.0, 1.0), n_paths=100, n_steps=1, seed=0),
            "H",
        ),
        (
            lambda: price(
                OrnsteinUhlenbeck(0.0, 1.0, 0.0, 0.1), AsianGeometricCall(0.0, 1.0, 4), n_paths=100, n_steps=4, seed=0
            ),
            "payoff",
        ),
        (lambda: price(M, lambda p: p[:, -1], n_paths=100, n_steps=1, seed=0), "payoff"),  # type: ignore[arg-type]
        (lambda: price(M, PathPayoff(lambda p: p[:2, -1], 1.0), n_paths=100, n_steps=1, seed=0), "fn"),
        (lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=0, backend="tpu"), "backend"),
        (
            lambda: price(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=0, qmc=True, backend="gpu"),
            "backend",
        ),
        (lambda: sample_paths(M, 0.0, 10, 10, 0), "T"),
        (lambda: greeks(M, EuropeanCall(100.0, 1.0), n_paths=100, n_steps=1, seed=0, spot_bump=0.0), "spot_bump"),
    ],
)
def test_bad_input_is_a_one_line_validation_error(make: object, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        make()  # type: ignore[operator]
    assert exc.value.field == field
    assert "\n" not in str(exc.value) and str(exc.value).startswith(f"{field}=")


def test_feller_violation_is_warned_but_priced() -> None:
    with pytest.warns(FellerConditionWarning, match="Feller"):
        m = Heston(100.0, 0.0, 0.04, 0.5, 0.04, 1.0, -0.5)
    r = price(m, EuropeanCall(100.0, 0.5), n_paths=2000, n_steps=10, seed=1)
    assert np.isfinite(r.price) and r.price > 0.0


def test_feller_satisfied_is_silent(recwarn: pytest.WarningsRecorder) -> None:
    Heston(100.0, 0.0, 0.04, 2.0, 0.04, 0.3, -0.5)
    assert not [w for w in recwarn if issubclass(w.category, FellerConditionWarning)]


def test_odd_path_count_rounds_up_to_pairs() -> None:
    r = price(M, EuropeanCall(100.0, 1.0), n_paths=1001, n_steps=1, seed=0)
    assert r.n_paths == 1002
