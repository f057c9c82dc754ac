"""``price``, ``greeks`` and ``sample_paths``: the Monte Carlo engine's public entry points.

Estimator: each *sample* is one path, or the mean of an antithetic pair.  With a control
variate ``X`` of known mean ``E[X]`` the estimate is ``ȳ - β (x̄ - E[X])`` with the
regression ``β = cov(X, Y) / var(X)`` fitted on the same samples, and the standard error is
that of the residual ``Y - βX``.  With ``qmc=True`` the engine runs ``QMC_REPLICATIONS``
independently scrambled Sobol sets (randomized QMC) and the standard error is the spread of
the replications' estimates.

Reproducibility: the same ``seed`` gives the same result bit for bit on the same machine,
whatever the thread count (see :mod:`keel.pricing.mc.rng`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from keel.errors import ValidationError
from keel.pricing.mc import gpu
from keel.pricing.mc.closed_form import european_price, geometric_asian_call
from keel.pricing.mc.models import GBM, FellerConditionWarning, Heston, Merton, Model, OrnsteinUhlenbeck
from keel.pricing.mc.payoffs import (
    AsianArithmeticCall,
    AsianGeometricCall,
    BarrierOption,
    Digital,
    EuropeanCall,
    EuropeanPut,
    LookbackFloatingCall,
    PathPayoff,
    Payoff,
)
from keel.pricing.mc.qmc import MAX_SOBOL_DIM, sobol_normals
from keel.pricing.mc.rng import ZIG_F, ZIG_RATIO, ZIG_X
from keel.pricing.mc.simulate import fill_paths, gbm_fast_sums, simulate_sums

__all__ = ["QMC_REPLICATIONS", "MCGreeks", "MCResult", "MapBackend", "greeks", "price", "sample_paths"]

QMC_REPLICATIONS = 16
_PATH_CHUNK_VALUES = 4_000_000  # path-matrix entries held at once for user path functions


@dataclass(frozen=True)
class MCResult:
    """A Monte Carlo price: ``price`` ± ``stderr`` (one standard error), ``ci95`` the normal
    95 % interval, ``n_paths`` the number of paths simulated (antithetic partners counted),
    ``n_steps`` time steps, ``backend`` "cpu" or "gpu"."""

    price: float
    stderr: float
    ci95: tuple[float, float]
    n_paths: int
    n_steps: int
    backend: str = "cpu"


@dataclass(frozen=True)
class MCGreeks:
    """Bump-and-revalue Greeks with common random numbers, each with its standard error
    (batch means over independent blocks).  ``delta = ∂V/∂S0``, ``gamma = ∂²V/∂S0²``,
    ``vega = ∂V/∂σ`` per 1.0 of vol (Heston: per 1.0 of ``√v0``; OU: of ``sigma``)."""

    price: float
    delta: float
    gamma: float
    vega: float
    price_stderr: float
    delta_stderr: float
    gamma_stderr: float
    vega_stderr: float
    n_paths: int


@runtime_checkable
class MapBackend(Protocol):
    """A distributed backend for :func:`price`: runs ``fn(*args)`` for each tuple in ``calls``
    (anywhere: other processes, other machines) and returns the results in the order given.

    ``workers`` is how many calls it runs at once; :func:`price` splits the run into block
    ranges (``chunks_per_worker`` per worker) and reduces their per-block sums in block order,
    so the result is bit-identical to the single-process price for the same seed.
    ``keel.runtime.RayBackend`` runs the calls as Ray tasks, locally or on a cluster."""

    workers: int

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]: ...


# ----------------------------------------------------------------------------- validation


def _check_int(field: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationError(field, value, "must be an int")
    if value < minimum:
        raise ValidationError(field, value, f"must be >= {minimum}")
    return int(value)


def _check_model(model: Model) -> None:
    if not isinstance(model, GBM | Merton | Heston | OrnsteinUhlenbeck):
        raise ValidationError("model", model, "must be GBM, Merton, Heston or OrnsteinUhlenbeck")


def _seed_u64(seed: int) -> np.uint64:
    return np.uint64(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


def _blocking(n_pairs: int) -> int:
    """Pairs per block: a function of the path count alone (never of the thread count)."""
    return int(min(1024, max(16, n_pairs // 64)))


# ----------------------------------------------------------------------------- model setup


@dataclass(frozen=True)
class _Setup:
    code: int
    c: npt.NDArray[np.float64]
    x0: float
    v0: float
    logspace: bool
    r: float
    n_factors: int
    spot: float


def _model_setup(model: Model, dt: float) -> _Setup:
    c = np.zeros(8)
    if isinstance(model, GBM):
        c[0] = (model.r - model.q - 0.5 * model.sigma**2) * dt
        c[1] = model.sigma * math.sqrt(dt)
        return _Setup(0, c, math.log(model.S0), 0.0, True, model.r, 1, model.S0)
    if isinstance(model, Merton):
        c[0] = (model.r - model.q - model.lam * model.jump_compensator - 0.5 * model.sigma**2) * dt
        c[1] = model.sigma * math.sqrt(dt)
        c[2] = model.lam * dt
        c[3] = model.mu_j
        c[4] = model.sigma_j
        return _Setup(1, c, math.log(model.S0), 0.0, True, model.r, 1, model.S0)
    if isinstance(model, Heston):
        e = math.exp(-model.kappa * dt)
        c[0] = e
        c[1] = model.xi**2 * e * (1.0 - e) / model.kappa
        c[2] = model.theta * model.xi**2 * (1.0 - e) ** 2 / (2.0 * model.kappa)
        c[3] = model.theta
        c[4] = model.rho / model.xi
        c[5] = 0.5 * dt * (model.kappa * model.rho / model.xi - 0.5)
        c[6] = 0.5 * dt * (1.0 - model.rho**2)
        c[7] = (model.r - model.q) * dt
        return _Setup(2, c, math.log(model.S0), model.v0, True, model.r, 2, model.S0)
    e = math.exp(-model.kappa * dt)
    c[0] = e
    c[1] = model.mu
    c[2] = model.sigma * math.sqrt((1.0 - e * e) / (2.0 * model.kappa))
    return _Setup(3, c, model.x0, 0.0, False, 0.0, 1, model.x0)


# ----------------------------------------------------------------------------- payoff setup


@dataclass(frozen=True)
class _Spec:
    pi: npt.NDArray[np.int64]
    pf: npt.NDArray[np.float64]
    cv_mean: float


def _european_terms(payoff: Payoff, spot: float) -> tuple[float, float]:
    """(sign, strike) of the European used as the "european" control variate."""
    if isinstance(payoff, EuropeanPut):
        return -1.0, payoff.K
    if isinstance(payoff, BarrierOption | Digital):
        return (1.0 if payoff.kind == "call" else -1.0), payoff.K
    if isinstance(payoff, LookbackFloatingCall):
        return 1.0, payoff.S_min
    if isinstance(payoff, PathPayoff):
        return 1.0, spot
    return 1.0, payoff.K


def _payoff_spec(model: Model, st: _Setup, payoff: Payoff, n_steps: int, control_variate: str | None) -> _Spec:
    T = payoff.T
    code = 0
    sign = 1.0
    K = 0.0
    h = 0.0
    rebate = 0.0
    s_min = 0.0
    down = out = False
    fix_every = 0
    div = 1.0
    avg_on = bar_on = min_on = int_on = False
    n_fix: int | None = None
    if isinstance(payoff, EuropeanCall | EuropeanPut):
        sign = 1.0 if isinstance(payoff, EuropeanCall) else -1.0
        K = payoff.K
    elif isinstance(payoff, AsianArithmeticCall | AsianGeometricCall):
        code = 1 if isinstance(payoff, AsianArithmeticCall) else 2
        K = payoff.K
        avg_on = True
        n_fix = payoff.n_fixings
        if n_fix is None:
            div = T
            int_on = code == 2
        else:
            if n_steps % n_fix != 0:
                raise ValidationError("n_steps", n_steps, f"must be a multiple of n_fixings={n_fix}")
            fix_every = n_steps // n_fix
            div = float(n_fix)
        if code == 2 and not st.logspace:
            raise ValidationError("payoff", payoff, "a geometric average needs a positive price model, not OU")
    elif isinstance(payoff, BarrierOption):
        code = 3
        sign = 1.0 if payoff.kind == "call" else -1.0
        K = payoff.K
        rebate = payoff.rebate
        down = payoff.is_down
        out = payoff.is_out
        bar_on = True
        spot = st.spot
        if st.logspace and not payoff.H > 0.0:
            raise ValidationError("H", payoff.H, "barrier must be > 0")
        if (down and not spot > payoff.H) or (not down and not spot < payoff.H):
            raise ValidationError("H", payoff.H, f"spot {spot} is already on the far side of the {payoff.barrier_type}")
        h = math.log(payoff.H) if st.logspace else payoff.H
    elif isinstance(payoff, LookbackFloatingCall):
        code = 4
        s_min = payoff.S_min
        min_on = True
    elif isinstance(payoff, Digital):
        code = 5
        sign = 1.0 if payoff.kind == "call" else -1.0
        K = payoff.K
    cv = 0
    cv_sign = 1.0
    cv_K = 0.0
    cv_mean = 0.0
    if control_variate == "geometric":
        if not isinstance(model, GBM) or code not in (1, 2):
            raise ValidationError(
                "control_variate", control_variate, "'geometric' needs an Asian payoff under the GBM model"
            )
        cv = 1
        cv_K = K
        if n_fix is None:
            int_on = True
        cv_mean = geometric_asian_call(model.S0, K, T, model.r, model.q, model.sigma, n_fix)
    elif control_variate == "european":
        cv = 2
        cv_sign, cv_K = _european_terms(payoff, st.spot)
        if st.logspace and not cv_K > 0.0:
            raise ValidationError("control_variate", control_variate, f"needs a positive strike, got {cv_K}")
        cv_mean = european_price(cv_sign, model, cv_K, T)
    elif control_variate is not None:
        raise ValidationError("control_variate", control_variate, "must be None, 'geometric' or 'european'")
    pi = np.array(
        [
            code,
            fix_every,
            cv,
            int(st.logspace),
            int(down),
            int(out),
            int(avg_on),
            int(bar_on),
            int(min_on),
            int(int_on),
        ],
        dtype=np.int64,
    )
    pf = np.array([sign, K, h, rebate, s_min, cv_sign, cv_K, st.r, T, div, st.v0], dtype=np.float64)
    return _Spec(pi, pf, cv_mean)


# ----------------------------------------------------------------------------- estimation


def _combine(sums: npt.NDArray[np.float64], n: int, cv_on: bool, cv_mean: float) -> tuple[float, float, float]:
    """(estimate, variance of one sample's residual, beta) from ``[Σy, Σy², Σx, Σx², Σxy]``."""
    sy, syy, sx, sxx, sxy = (float(v) for v in sums)
    ybar = sy / n
    vy = max(syy - n * ybar * ybar, 0.0) / (n - 1)
    if not cv_on:
        return ybar, vy, 0.0
    xbar = sx / n
    vx = max(sxx - n * xbar * xbar, 0.0) / (n - 1)
    cov = (sxy - n * xbar * ybar) / (n - 1)
    beta = cov / vx if vx > 0.0 else 0.0
    est = ybar - beta * (xbar - cv_mean)
    var = max(vy - 2.0 * beta * cov + beta * beta * vx, 0.0)
    return est, var, beta


def _result(est: float, se: float, n_paths: int, n_steps: int, backend: str) -> MCResult:
    return MCResult(est, se, (est - 1.96 * se, est + 1.96 * se), n_paths, n_steps, backend)


def _path_block_sums(
    model: Model,
    st: _Setup,
    payoff: PathPayoff,
    spec: _Spec,
    n_steps: int,
    n_pairs: int,
    block_pairs: int,
    seed: np.uint64,
    antithetic: bool,
    zarr: npt.NDArray[np.float64] | None,
    block_range: tuple[int, int] | None = None,
) -> npt.NDArray[np.float64]:
    """Per-block sums for a user path function, simulated chunk by chunk (``block_range``: only
    blocks ``[lo, hi)`` of the run, one row each)."""
    dt = payoff.T / n_steps
    df = math.exp(-st.r * payoff.T)
    cv_on = spec.pi[2] == 2
    cv_sign, cv_K = float(spec.pf[5]), float(spec.pf[6])
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    lo_block, hi_block = block_range if block_range is not None else (0, n_blocks)
    blocks_per_chunk = max(1, _PATH_CHUNK_VALUES // (2 * block_pairs * (n_steps + 1)))
    res = np.zeros((n_blocks, 5))
    empty = np.zeros((1, 1))
    for b0 in range(lo_block, hi_block, blocks_per_chunk):
        b1 = min(hi_block, b0 + blocks_per_chunk)
        p0 = b0 * block_pairs
        p1 = min(n_pairs, b1 * block_pairs)
        if zarr is None:
            z, use_z = empty, False
        else:
            rows = slice(p0, p1) if antithetic else slice(2 * p0, 2 * p1)
            z, use_z = np.ascontiguousarray(zarr[rows]), True
        paths = fill_paths(
            st.code, st.c, st.x0, st.spot, st.v0, st.logspace, n_steps, dt, p0, p1 - p0, block_pairs, seed, antithetic,
            z, use_z, ZIG_X, ZIG_RATIO, ZIG_F,
        )  # fmt: skip
        y = np.asarray(payoff.fn(paths), dtype=np.float64).reshape(-1)
        if y.shape[0] != paths.shape[0]:
            raise ValidationError("fn", payoff.fn, f"returned {y.shape[0]} values for {paths.shape[0]} paths")
        y = y * df
        x = np.maximum(cv_sign * (paths[:, -1] - cv_K), 0.0) * df if cv_on else np.zeros_like(y)
        if antithetic:
            y = 0.5 * (y[0::2] + y[1::2])
            x = 0.5 * (x[0::2] + x[1::2])
            per = block_pairs
        else:
            per = 2 * block_pairs
        for b in range(b0, b1):
            lo = (b - b0) * per
            yy = y[lo : lo + per]
            xx = x[lo : lo + per]
            res[b] = (yy.sum(), (yy * yy).sum(), xx.sum(), (xx * xx).sum(), (xx * yy).sum())
    return res[lo_block:hi_block]


def _block_sums(
    model: Model,
    payoff: Payoff,
    n_steps: int,
    n_pairs: int,
    seed: np.uint64,
    antithetic: bool,
    control_variate: str | None,
    zarr: npt.NDArray[np.float64] | None,
    block_range: tuple[int, int] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], _Spec]:
    """Per-block sums and per-block sample counts for one set of paths.

    ``block_range=(lo, hi)`` computes only blocks ``lo .. hi-1`` of the run (same streams, same
    rows as the whole run's), for a distributed backend; ``zarr`` must then be ``None``."""
    dt = payoff.T / n_steps
    st = _model_setup(model, dt)
    spec = _payoff_spec(model, st, payoff, n_steps, control_variate)
    block_pairs = _blocking(n_pairs)
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    pairs = np.full(n_blocks, block_pairs, dtype=np.int64)
    pairs[-1] = n_pairs - block_pairs * (n_blocks - 1)
    lo, hi = block_range if block_range is not None else (0, n_blocks)
    counts = (pairs if antithetic else 2 * pairs)[lo:hi]
    if isinstance(payoff, PathPayoff):
        sums = _path_block_sums(
            model, st, payoff, spec, n_steps, n_pairs, block_pairs, seed, antithetic, zarr, (lo, hi)
        )
        return sums, counts, spec
    z, use_z = (np.zeros((1, 1)), False) if zarr is None else (zarr, True)
    chunk_pairs = min(hi * block_pairs, n_pairs) - lo * block_pairs
    code, fix_every = int(spec.pi[0]), int(spec.pi[1])
    if st.code == 0 and (code == 0 or (code in (1, 2) and fix_every > 0)):
        sums = gbm_fast_sums(
            st.c, st.x0, n_steps, chunk_pairs, block_pairs, seed, antithetic, z, use_z, spec.pi, spec.pf,
            ZIG_X, ZIG_RATIO, ZIG_F, lo,
        )  # fmt: skip
        return sums, counts, spec
    sums = simulate_sums(
        st.code, st.c, st.x0, n_steps, dt, chunk_pairs, block_pairs, seed, antithetic, z, use_z, spec.pi, spec.pf,
        ZIG_X, ZIG_RATIO, ZIG_F, lo,
    )  # fmt: skip
    return sums, counts, spec


def block_range_sums(
    model: Model,
    payoff: Payoff,
    n_steps: int,
    n_pairs: int,
    seed: int,
    antithetic: bool,
    control_variate: str | None,
    lo: int,
    hi: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per-block sums and sample counts of blocks ``[lo, hi)``: one task of a distributed :func:`price`."""
    sums, counts, _ = _block_sums(
        model, payoff, n_steps, n_pairs, _seed_u64(seed), antithetic, control_variate, None, (lo, hi)
    )
    return sums, counts


def _validate_common(
    model: Model, payoff: Payoff, n_paths: int, n_steps: int, seed: int, control_variate: str | None
) -> None:
    _check_model(model)
    if not isinstance(
        payoff,
        EuropeanCall
        | EuropeanPut
        | AsianArithmeticCall
        | AsianGeometricCall
        | BarrierOption
        | LookbackFloatingCall
        | Digital
        | PathPayoff,
    ):
        if callable(payoff):
            raise ValidationError("payoff", payoff, "wrap a path function as PathPayoff(fn, T) to give its expiry")
        raise ValidationError("payoff", payoff, "not a keel.pricing.mc payoff")
    _check_int("n_paths", n_paths, 2)
    _check_int("n_steps", n_steps, 1)
    _check_int("seed", seed, 0)
    if control_variate not in (None, "geometric", "european"):
        raise ValidationError("control_variate", control_variate, "must be None, 'geometric' or 'european'")


def _qmc_layout(n_paths: int, antithetic: bool) -> tuple[int, int]:
    """(Sobol points per replication, pairs per replication): a power of two points."""
    per_rep_paths = max(2, -(-n_paths // QMC_REPLICATIONS))
    need_points = -(-per_rep_paths // 2) if antithetic else per_rep_paths
    points = 1 << max(1, math.ceil(math.log2(need_points)))
    return points, (points if antithetic else points // 2)


def _qmc_runs(
    model: Model,
    payoff: Payoff,
    n_paths: int,
    n_steps: int,
    seed: int,
    antithetic: bool,
    control_variate: str | None,
) -> tuple[list[npt.NDArray[np.float64]], int, int, _Spec]:
    """Block sums of each scrambled replication, the pairs per replication and samples per replication."""
    n_factors = 2 if isinstance(model, Heston) else 1
    if n_factors * n_steps > MAX_SOBOL_DIM:
        raise ValidationError("n_steps", n_steps, f"QMC supports at most {MAX_SOBOL_DIM // n_factors} steps here")
    points, pairs = _qmc_layout(n_paths, antithetic)
    children = np.random.SeedSequence(seed).spawn(QMC_REPLICATIONS)
    runs: list[npt.NDArray[np.float64]] = []
    spec: _Spec | None = None
    for child in children:
        scramble_seed, stream = (int(v) for v in child.generate_state(2, np.uint64))
        zarr = sobol_normals(points, n_steps, n_factors, scramble_seed)
        sums, _, spec = _block_sums(model, payoff, n_steps, pairs, np.uint64(stream), antithetic, control_variate, zarr)
        runs.append(sums.sum(axis=0))
    assert spec is not None
    samples = pairs if antithetic else 2 * pairs
    return runs, pairs, samples, spec


def _price_array_backend(
    xp: ModuleType,
    name: str,
    model: Model,
    payoff: Payoff,
    n_paths: int,
    n_steps: int,
    seed: int,
    antithetic: bool,
    control_variate: str | None,
) -> MCResult:
    """Price with the array backend (:mod:`keel.pricing.mc.gpu`) on array module ``xp``."""
    dt = payoff.T / n_steps
    st = _model_setup(model, dt)
    spec = _payoff_spec(model, st, payoff, n_steps, control_variate)
    n_pairs = -(-n_paths // 2)
    sums, n = gpu.simulate_sums_xp(xp, st.code, st.c, st.x0, n_steps, dt, n_pairs, seed, antithetic, spec.pi, spec.pf)
    est, var, _ = _combine(sums, n, control_variate is not None, spec.cv_mean)
    return _result(est, math.sqrt(var / n), 2 * n_pairs, n_steps, name)


def price(
    model: Model,
    payoff: Payoff,
    *,
    n_paths: int,
    n_steps: int,
    seed: int,
    antithetic: bool = True,
    control_variate: str | None = None,
    qmc: bool = False,
    backend: str | MapBackend = "auto",
    chunks_per_worker: int = 2,
) -> MCResult:
    """Monte Carlo present value of ``payoff`` under ``model``.

    ``n_paths`` paths (rounded up to an even number; with ``qmc`` to 16 replications of a
    power of two), ``n_steps`` equal time steps to ``payoff.T``.  ``antithetic`` pairs each
    path with its mirror; ``control_variate`` is ``None``, ``"geometric"`` (analytic
    geometric Asian, for Asian payoffs under GBM) or ``"european"`` (analytic European
    under the model); ``qmc`` uses scrambled Sobol points with the Brownian bridge.
    ``backend``: ``"auto"`` (the GPU when CUDA is present and the run is GPU-capable),
    ``"cpu"`` or ``"gpu"``, or a :class:`MapBackend` (e.g. ``keel.runtime.RayBackend``) that
    splits the path blocks across workers: the result is bit-identical to the single-process
    price for the same seed (pseudo-random runs; not with ``qmc``)."""
    _validate_common(model, payoff, n_paths, n_steps, seed, control_variate)
    if isinstance(backend, MapBackend):
        if qmc:
            raise ValidationError("backend", backend, "a distributed backend runs pseudo-random paths, not qmc")
        return _price_distributed(
            backend, model, payoff, n_paths, n_steps, seed, antithetic, control_variate, chunks_per_worker
        )
    if backend not in ("auto", "cpu", "gpu"):
        raise ValidationError("backend", backend, "must be 'auto', 'cpu' or 'gpu'")
    gpu_capable = not qmc and not isinstance(payoff, PathPayoff)
    if backend == "gpu" and not gpu_capable:
        raise ValidationError("backend", backend, "the GPU backend runs built-in payoffs without qmc")
    if backend == "gpu" and not gpu.cuda_available():
        raise ValidationError("backend", backend, "no CUDA device (or CuPy) is available")
    use_gpu = backend == "gpu" or (backend == "auto" and gpu_capable and gpu.cuda_available())
    cv_on = control_variate is not None
    if use_gpu:
        return _price_array_backend(
            gpu.cupy_module(), "gpu", model, payoff, n_paths, n_steps, seed, antithetic, control_variate
        )
    if qmc:
        runs, pairs, samples, spec = _qmc_runs(model, payoff, n_paths, n_steps, seed, antithetic, control_variate)
        pooled = np.sum(runs, axis=0)
        _, _, beta = _combine(pooled, samples * len(runs), cv_on, spec.cv_mean)
        ests = np.array([(r[0] - beta * (r[2] - spec.cv_mean * samples)) / samples for r in runs])
        se = float(np.std(ests, ddof=1) / math.sqrt(len(runs)))
        return _result(float(ests.mean()), se, 2 * pairs * len(runs), n_steps, "cpu")
    n_pairs = -(-n_paths // 2)
    sums, counts, spec = _block_sums(
        model, payoff, n_steps, n_pairs, _seed_u64(seed), antithetic, control_variate, None
    )
    n = int(counts.sum())
    est, var, _ = _combine(sums.sum(axis=0), n, cv_on, spec.cv_mean)
    return _result(est, math.sqrt(var / n), 2 * n_pairs, n_steps, "cpu")


def _price_distributed(
    backend: MapBackend,
    model: Model,
    payoff: Payoff,
    n_paths: int,
    n_steps: int,
    seed: int,
    antithetic: bool,
    control_variate: str | None,
    chunks_per_worker: int,
) -> MCResult:
    workers = backend.workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValidationError("backend.workers", workers, "must be an int >= 1")
    _check_int("chunks_per_worker", chunks_per_worker, 1)
    n_pairs = -(-n_paths // 2)
    block_pairs = _blocking(n_pairs)
    n_blocks = (n_pairs + block_pairs - 1) // block_pairs
    n_chunks = min(n_blocks, workers * chunks_per_worker)
    edges = [n_blocks * i // n_chunks for i in range(n_chunks + 1)]
    calls = [
        (model, payoff, n_steps, n_pairs, seed, antithetic, control_variate, edges[i], edges[i + 1])
        for i in range(n_chunks)
    ]
    parts = backend.map(block_range_sums, calls)
    if len(parts) != n_chunks:
        raise ValidationError("backend", backend, f"returned {len(parts)} results for {n_chunks} calls")
    sums = np.concatenate([np.asarray(p[0], dtype=np.float64) for p in parts], axis=0)
    counts = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    if sums.shape != (n_blocks, 5):
        raise ValidationError("backend", backend, f"returned sums of shape {sums.shape}, expected ({n_blocks}, 5)")
    spec = _payoff_spec(model, _model_setup(model, payoff.T / n_steps), payoff, n_steps, control_variate)
    n = int(counts.sum())
    est, var, _ = _combine(sums.sum(axis=0), n, control_variate is not None, spec.cv_mean)
    return _result(est, math.sqrt(var / n), 2 * n_pairs, n_steps, "distributed")


# ----------------------------------------------------------------------------- Greeks


def _bumped(model: Model, which: str, h: float) -> Model:
    with warnings.catch_warnings():  # a Feller warning was given for the unbumped model already
        warnings.simplefilter("ignore", FellerConditionWarning)
        if which == "spot":
            if isinstance(model, OrnsteinUhlenbeck):
                return replace(model, x0=model.x0 + h)
            return replace(model, S0=model.S0 + h)
        if isinstance(model, Heston):
            return replace(model, v0=(math.sqrt(model.v0) + h) ** 2)
        return replace(model, sigma=model.sigma + h)


def _batch_means(
    model: Model,
    payoff: Payoff,
    n_steps: int,
    n_paths: int,
    seed: int,
    antithetic: bool,
    qmc: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-batch mean discounted payoff and batch weights (blocks, or QMC replications)."""
    if qmc:
        runs, _, samples, _ = _qmc_runs(model, payoff, n_paths, n_steps, seed, antithetic, None)
        return np.array([r[0] / samples for r in runs]), np.full(len(runs), float(samples))
    n_pairs = -(-n_paths // 2)
    sums, counts, _ = _block_sums(model, payoff, n_steps, n_pairs, _seed_u64(seed), antithetic, None, None)
    return sums[:, 0] / counts, counts.astype(np.float64)


def _mean_se(values: npt.NDArray[np.float64], w: npt.NDArray[np.float64]) -> tuple[float, float]:
    total = float(w.sum())
    mean = float((w * values).sum() / total)
    nb = len(values)
    if nb < 2:
        return mean, math.nan
    var = float((w * w * (values - mean) ** 2).sum()) / (total * total) * nb / (nb - 1)
    return mean, math.sqrt(var)


def greeks(
    model: Model,
    payoff: Payoff,
    *,
    n_paths: int,
    n_steps: int,
    seed: int,
    antithetic: bool = True,
    qmc: bool = False,
    spot_bump: float = 0.01,
    vol_bump: float = 0.01,
) -> MCGreeks:
    """Delta, gamma and vega by central bumps with common random numbers (the same seed and
    streams for every revaluation).  ``spot_bump`` is relative to the spot (absolute for
    OU when ``x0 == 0``), ``vol_bump`` absolute in vol units (0.01 = one vol point)."""
    _validate_common(model, payoff, n_paths, n_steps, seed, None)
    if not (isinstance(spot_bump, float | int) and 0.0 < spot_bump < 0.5):
        raise ValidationError("spot_bump", spot_bump, "must be in (0, 0.5)")
    if not (isinstance(vol_bump, float | int) and vol_bump > 0.0):
        raise ValidationError("vol_bump", vol_bump, "must be > 0")
    spot = model.x0 if isinstance(model, OrnsteinUhlenbeck) else model.S0
    h = spot_bump * abs(spot) if spot != 0.0 else spot_bump
    vol = math.sqrt(model.v0) if isinstance(model, Heston) else model.sigma
    dv = min(vol_bump, vol) if vol > 0.0 else vol_bump
    if vol - dv <= 0.0:
        dv = 0.5 * vol if vol > 0.0 else vol_bump
    args = (n_steps, n_paths, seed, antithetic, qmc)
    base, w = _batch_means(model, payoff, *args)
    up, _ = _batch_means(_bumped(model, "spot", h), payoff, *args)
    dn, _ = _batch_means(_bumped(model, "spot", -h), payoff, *args)
    if vol > dv:
        vu, _ = _batch_means(_bumped(model, "vol", dv), payoff, *args)
        vd, _ = _batch_means(_bumped(model, "vol", -dv), payoff, *args)
        vega_b = (vu - vd) / (2.0 * dv)
    else:
        vu, _ = _batch_means(_bumped(model, "vol", dv), payoff, *args)
        vega_b = (vu - base) / dv
    p, pse = _mean_se(base, w)
    d, dse = _mean_se((up - dn) / (2.0 * h), w)
    g, gse = _mean_se((up - 2.0 * base + dn) / (h * h), w)
    v, vse = _mean_se(vega_b, w)
    n_out = 2 * _qmc_layout(n_paths, antithetic)[1] * QMC_REPLICATIONS if qmc else 2 * (-(-n_paths // 2))
    return MCGreeks(p, d, g, v, pse, dse, gse, vse, n_out)


# ----------------------------------------------------------------------------- paths


def sample_paths(model: Model, T: float, n_steps: int, n_paths: int, seed: int) -> npt.NDArray[np.float64]:
    """Simulated paths, float64 ``(n_paths, n_steps + 1)``: column ``k`` is the level at
    ``t_k = k T / n_steps`` (column 0 the start; prices for GBM/Merton/Heston, the level X for
    OU).  Independent paths (no antithetic pairing), exact schemes for GBM, Merton and OU,
    QE for Heston; the same seed gives the same array on any thread count."""
    _check_model(model)
    if isinstance(T, bool) or not isinstance(T, int | float) or not math.isfinite(T) or not T > 0.0:
        raise ValidationError("T", T, "must be a finite number of years > 0")
    _check_int("n_steps", n_steps, 1)
    _check_int("n_paths", n_paths, 1)
    _check_int("seed", seed, 0)
    dt = float(T) / n_steps
    st = _model_setup(model, dt)
    n_pairs = -(-n_paths // 2)
    paths = fill_paths(
        st.code, st.c, st.x0, st.spot, st.v0, st.logspace, n_steps, dt, 0, n_pairs, _blocking(n_pairs), _seed_u64(seed),
        False, np.zeros((1, 1)), False, ZIG_X, ZIG_RATIO, ZIG_F,
    )  # fmt: skip
    return np.ascontiguousarray(paths[:n_paths])
