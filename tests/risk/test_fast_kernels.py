"""The fast risk kernels against straightforward references on random books.

* ``position_scan`` (every position revalued on its own, SIMD normal cdf, scenario-major
  blocks) against a per-account Python loop with ``math.erfc`` Black-Scholes, against
  ``risk_arrays`` + ``portfolio_scan`` on a shared book, and against QuantLib for a sample
  of scenario revaluations.
* ``risk_arrays`` against ``keel.pricing.kernels.bs_price`` (libm) on the real Deribit chain.
* ``health_scan`` (fused blocked pass, linear and inverse columns, row- and column-major
  books, caller-supplied output) against a per-account Python loop.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numba
import numpy as np
import pytest

from keel.domain import Option, parse_instrument
from keel.errors import ValidationError
from keel.pricing.kernels import bs_price
from keel.risk import ScenarioGrid, portfolio_scan, position_scan, risk_arrays
from keel.risk.health import HealthBook, health_scan
from keel.risk.scenario import (
    KIND_CALL,
    KIND_INVERSE,
    KIND_LINEAR,
    KIND_PUT,
    _position_scan_par,
)

from .test_margin import _ql_price

CHAIN = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "deribit_option_chain_snapshots_2021-02"
    / "btc_option_chain_2021-02-09T1338Z.csv"
)


def _py_bs(sign: float, s: float, k: float, t: float, r: float, vol: float) -> float:
    if t == 0.0:
        return max(sign * (s - k), 0.0)
    f = s * math.exp(r * t)
    sd = vol * math.sqrt(t)
    d1 = math.log(f / k) / sd + 0.5 * sd
    d2 = d1 - sd

    def n(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    return math.exp(-r * t) * sign * (f * n(sign * d1) - k * n(sign * d2))


def _py_position_margin(
    book: dict[str, np.ndarray], grid: ScenarioGrid, rate: float
) -> tuple[list[float], list[float]]:
    """The straightforward per-account loop: revalue every position in every scenario."""
    moves, shocks, weights = grid.arrays()
    losses, conts = [], []
    n_acc, n_pos = book["qty"].shape
    for a in range(n_acc):
        pnl: dict[int, list[float]] = {}
        c = 0.0
        for p in range(n_pos):
            q = float(book["qty"][a, p])
            if q == 0.0:
                continue
            kd, s = int(book["kind"][a, p]), float(book["spot"][a, p])
            row = pnl.setdefault(int(book["group"][a, p]), [0.0] * moves.size)
            if q < 0:
                c += -q * float(book["cont"][a, p])
            for j in range(moves.size):
                if kd == KIND_LINEAR:
                    x = s * moves[j]
                elif kd == KIND_INVERSE:
                    x = float(moves[j])
                else:
                    sign = 1.0 if kd == KIND_CALL else -1.0
                    k, t, vol = float(book["strike"][a, p]), float(book["t"][a, p]), float(book["sigma"][a, p])
                    scale = (30.0 / max(t * 365.0, 1.0)) ** 0.3
                    vj = max(vol * (1.0 + shocks[j] * scale), 0.01 * vol)
                    x = _py_bs(sign, s * (1 + moves[j]), k, t, rate, vj) - _py_bs(sign, s, k, t, rate, vol)
                row[j] += q * weights[j] * x
        losses.append(sum(max(0.0, -min(r)) for r in pnl.values()))
        conts.append(c)
    return losses, conts


def _random_book(rng: np.random.Generator, n_acc: int, n_pos: int) -> dict[str, np.ndarray]:
    shape = (n_acc, n_pos)
    group = rng.integers(0, 2, shape)
    spot = np.where(group == 0, 45_000.0, 1_700.0) * rng.uniform(0.98, 1.02, shape)
    kind = rng.choice([KIND_LINEAR, KIND_INVERSE, KIND_CALL, KIND_PUT], shape, p=[0.1, 0.1, 0.4, 0.4])
    strike = spot * np.exp(rng.normal(0.0, 0.3, shape))
    t = rng.choice([0.0, 1 / 365, 7 / 365, 30 / 365, 0.25, 1.0], shape)
    sigma = rng.uniform(0.3, 1.5, shape)
    qty = np.round(rng.normal(0.0, 3.0, shape), 2) * (rng.random(shape) < 0.85)
    # empty slots carry junk that must be ignored
    empty = qty == 0.0
    strike[empty] = -1.0
    sigma[empty] = np.nan
    cont = np.where(kind >= KIND_CALL, 0.01 * spot, 0.0)
    return {
        "kind": kind,
        "strike": strike,
        "t": t,
        "sigma": sigma,
        "spot": spot,
        "qty": qty,
        "group": group,
        "cont": cont,
    }


def _scan(book: dict[str, np.ndarray], grid: ScenarioGrid, rate: float) -> tuple[np.ndarray, np.ndarray]:
    return position_scan(
        book["kind"],
        book["strike"],
        book["t"],
        book["sigma"],
        book["spot"],
        book["qty"],
        grid,
        rate,
        group=book["group"],
        contingency=book["cont"],
    )


@pytest.mark.parametrize("rate", [0.0, 0.03])
def test_position_scan_matches_a_python_loop_on_random_books(rate: float) -> None:
    rng = np.random.default_rng(11)
    book = _random_book(rng, 120, 7)
    grid = ScenarioGrid.deribit()  # 27 regular + 2 dampened extended scenarios
    loss, cont = _scan(book, grid, rate)
    ref_loss, ref_cont = _py_position_margin(book, grid, rate)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(cont, ref_cont, rtol=1e-12, atol=1e-9)
    assert (loss > 0).sum() > 100


def test_position_scan_threaded_equals_serial_and_shared_path() -> None:
    kinds, strikes, ts, vols, spot = [], [], [], [], 0.0
    for r in csv.DictReader(CHAIN.open()):
        inst = parse_instrument(r["instrument_name"])
        assert isinstance(inst, Option)
        spot = float(r["index_price"])
        kinds.append(KIND_CALL if inst.kind.sign > 0 else KIND_PUT)
        strikes.append(inst.strike_float)
        ts.append(inst.time_to_expiry(int(r["timestamp"]) * 10**6))
        vols.append(max(float(r["mark_iv"]) / 100.0, 0.05))
    k, s, t, v = np.array(kinds), np.array(strikes), np.array(ts), np.array(vols)
    rng = np.random.default_rng(4)
    idx = np.argsort(rng.random((400, k.size)), axis=1)[:, :10]
    qty = np.round(rng.normal(0.0, 5.0, idx.shape), 1)
    grid = ScenarioGrid.deribit()
    # the listed-instrument path: one risk array per option, then gather and sum
    risk = risk_arrays(k, s, t, v, np.full(k.size, spot), grid)
    shared, _ = portfolio_scan(idx, qty, risk)
    # risk arrays (SIMD normal cdf) equal the libm Black-Scholes kernel of keel.pricing
    moves, shocks, weights = grid.arrays()
    for i in range(0, k.size, 13):
        sign = 1.0 if k[i] == KIND_CALL else -1.0
        v0 = bs_price(sign, spot, s[i], t[i], 0.0, 0.0, v[i])
        scale = (30.0 / max(t[i] * 365.0, 1.0)) ** 0.3
        for j in range(moves.size):
            vj = max(v[i] * (1.0 + shocks[j] * scale), 0.01 * v[i])
            ref = weights[j] * (bs_price(sign, spot * (1 + moves[j]), s[i], t[i], 0.0, 0.0, vj) - v0)
            assert risk[i, j] == pytest.approx(ref, rel=1e-10, abs=1e-8)
    args = (k[idx], s[idx], t[idx], v[idx], np.full(idx.shape, spot), qty)
    loss, _ = position_scan(*args, grid)
    np.testing.assert_allclose(loss, shared, rtol=1e-12, atol=1e-8)
    # threaded (all cores, as big books run) and on one thread (as one account runs): equal
    lnm = np.log1p(moves)
    flat = [np.ascontiguousarray(a).reshape(-1) for a in args]
    zeros_i, zeros_f = np.zeros(qty.size, dtype=np.int64), np.zeros(qty.size)
    ushocks, shock_idx = np.unique(shocks, return_inverse=True)
    common = (10, 1, zeros_f, 0.0, moves, lnm, ushocks, shock_idx, weights, 0.3, 1.0, 32)
    par = _position_scan_par(*flat, zeros_i, *common)
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        ser = _position_scan_par(*flat, zeros_i, *common)
    finally:
        numba.set_num_threads(prev)
    assert np.array_equal(par[0], ser[0]) and np.array_equal(par[0], loss)


def test_position_scan_matches_quantlib_for_sampled_scenarios() -> None:
    s0 = 45_000.0
    kind = np.array([[KIND_PUT, KIND_CALL, KIND_CALL]])
    strike = np.array([[36_000.0, 48_000.0, 60_000.0]])
    t = np.array([[10 / 365, 45 / 365, 0.5]])
    vol = np.array([[0.9, 0.8, 0.75]])
    grid = ScenarioGrid(extended_moves=())
    moves, shocks, _ = grid.arrays()
    for p in range(3):
        qty = np.zeros((1, 3))
        qty[0, p] = -1.0  # a single short: its loss is the worst scenario's revaluation
        loss, cont = position_scan(kind, strike, t, vol, np.full((1, 3), s0), qty, grid)
        call = kind[0, p] == KIND_CALL
        v0 = _ql_price(call, s0, strike[0, p], t[0, p], vol[0, p])
        scale = (30.0 / max(t[0, p] * 365.0, 1.0)) ** 0.3
        worst = max(
            _ql_price(call, s0 * (1 + moves[j]), strike[0, p], t[0, p], vol[0, p] * (1 + shocks[j] * scale)) - v0
            for j in range(moves.size)
        )
        assert loss[0] == pytest.approx(max(worst, 0.0), rel=1e-7)
        assert cont[0] == 0.0


def test_position_scan_expired_options_are_intrinsic_and_bad_input_is_named() -> None:
    grid = ScenarioGrid(extended_moves=())
    moves, _, _ = grid.arrays()
    # a short call expiring now, struck at the money: the loss is the intrinsic at +16%
    loss, _ = position_scan(
        np.array([[KIND_CALL]]), np.array([[100.0]]), np.zeros((1, 1)), np.array([[0.5]]),
        np.array([[100.0]]), np.array([[-2.0]]), grid,
    )  # fmt: skip
    assert loss[0] == pytest.approx(2.0 * 100.0 * moves.max(), rel=1e-14)
    good = {
        "kind": np.array([[KIND_PUT]]),
        "strike": np.array([[100.0]]),
        "t": np.array([[0.1]]),
        "sigma": np.array([[0.5]]),
        "spot": np.array([[100.0]]),
        "qty": np.array([[1.0]]),
    }
    for field, value, match in [
        ("qty", np.nan, r"qty\[0, 0\]"),
        ("strike", -5.0, r"strike\[0, 0\]"),
        ("sigma", 0.0, r"sigma\[0, 0\]"),
        ("spot", np.inf, r"spot\[0, 0\]"),
        ("t", -1.0, r"t\[0, 0\]"),
        ("kind", 9, r"kind\[0, 0\]"),
    ]:
        bad = {k: v.copy() for k, v in good.items()}
        bad[field][0, 0] = value
        with pytest.raises(ValidationError, match=match):
            position_scan(bad["kind"], bad["strike"], bad["t"], bad["sigma"], bad["spot"], bad["qty"], grid)
    with pytest.raises(ValidationError, match="strike"):
        position_scan(good["kind"], np.ones((1, 2)), good["t"], good["sigma"], good["spot"], good["qty"], grid)


def _py_health(col, qty, ref, mmf, price, conf, inverse):  # type: ignore[no-untyped-def]
    out = []
    for a in range(qty.shape[0]):
        e, m = float(col[a]), 0.0
        for j in range(qty.shape[1]):
            q = float(qty[a, j])
            if q == 0.0:
                continue
            p = float(price[j] + conf[j]) if q > 0 else float(price[j] - conf[j])
            if inverse[j]:
                e += q * (p / float(ref[a, j]) - 1.0)
                m += float(mmf[j]) * abs(q)
            else:
                e += q * (p - float(ref[a, j]))
                m += float(mmf[j]) * abs(q) * p
        out.append((e, m))
    return out


@pytest.mark.parametrize("order", ["C", "F"])
def test_health_scan_matches_a_python_loop_linear_and_inverse(order: str) -> None:
    rng = np.random.default_rng(21)
    n, u = 5_000, 4  # > one block, ragged last block
    price = np.array([45_000.0, 1_700.0, 45_000.0, 150.0])
    inverse = np.array([False, False, True, False])
    conf = price * np.array([0.0005, 0.001, 0.0005, 0.0])
    mmf = np.array([0.03, 0.05, 0.03, 0.1])
    size = np.array([0.5, 5.0, 20_000.0, 100.0])
    qty = rng.normal(0, 1, (n, u)) * size * (rng.random((n, u)) < 0.6)
    ref = price * (1 + rng.normal(0, 0.05, (n, u)))
    ref[:, 2] = np.where(qty[:, 2] == 0.0, 0.0, ref[:, 2])  # no entry price for an empty inverse slot
    col = (np.abs(qty[:, [0, 1, 3]]) * price[[0, 1, 3]]).sum(axis=1) * rng.uniform(0.02, 0.3, n)
    col += np.abs(qty[:, 2]) * rng.uniform(0.02, 0.3, n)
    q_l, r_l = (np.asfortranarray(qty), np.asfortranarray(ref)) if order == "F" else (qty, ref)
    out = (np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.bool_))
    eq, mm, flag = health_scan(col, q_l, r_l, mmf, price, conf, inverse=inverse, out=out)
    assert eq is out[0] and flag is out[2]
    ref_rows = _py_health(col, qty, ref, mmf, price, conf, inverse)
    np.testing.assert_allclose(eq, [r[0] for r in ref_rows], rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(mm, [r[1] for r in ref_rows], rtol=1e-12, atol=1e-9)
    assert flag.tolist() == [r[0] < r[1] for r in ref_rows]
    assert 100 < flag.sum() < n - 100
    # the favourable edge never flags more accounts than the mid price
    _, _, flag_mid = health_scan(col, qty, ref, mmf, price, None, inverse=inverse)
    assert not np.any(flag & ~flag_mid)
    # the prepared book gives the same slack and flags, also after a per-account update
    book = HealthBook(col, qty, ref, mmf, inverse=inverse)
    slack, bflag = book.scan(price, conf)
    np.testing.assert_allclose(slack, eq - mm, rtol=1e-9, atol=1e-6)
    assert np.array_equal(bflag, flag)
    qty2, ref2 = qty[7].copy(), ref[7].copy()
    qty2[2], ref2[2] = -30_000.0, 44_000.0
    book.update(7, float(col[7]), qty2, ref2)
    (e7, m7) = _py_health(col[7:8], qty2[None], ref2[None], mmf, price, conf, inverse)[0]
    assert book.scan(price, conf)[0][7] == pytest.approx(e7 - m7, rel=1e-12)
    # a non-contiguous view is copied, same answer
    wide = np.zeros((n, 2 * u))
    wide[:, ::2] = qty
    assert np.array_equal(health_scan(col, wide[:, ::2], ref, mmf, price, conf, inverse=inverse)[2], flag)


def test_health_scan_rejects_bad_arguments() -> None:
    col, qty, ref = np.ones(3), np.ones((3, 1)), np.ones((3, 1))
    price, mmf = np.array([1.0]), np.array([0.05])
    with pytest.raises(ValidationError, match="mmf"):
        health_scan(col, qty, ref, np.array([1.0]), price)
    with pytest.raises(ValidationError, match="out"):
        health_scan(col, qty, ref, mmf, price, out=(np.empty(3), np.empty(3), np.empty(3)))
    with pytest.raises(ValidationError, match="price"):
        health_scan(col, qty, ref, mmf, price, inverse=np.array([True, False]))
