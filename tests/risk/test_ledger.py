from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.errors import RiskError, ValidationError
from keel.risk import FEES, INSURANCE, Ledger


def test_transfers_conserve_exactly() -> None:
    led = Ledger()
    led.deposit("a", "USDC", 1_000_000)
    led.deposit("b", "BTC", 5)
    led.transfer("a", "b", "USDC", 250_001, "x")
    led.transfer("b", INSURANCE, "USDC", 1, "fee")
    led.transfer_signed("a", "b", "USDC", -7, "back")
    assert led.balance("a", "USDC") == 1_000_000 - 250_001 + 7
    assert led.balance("b", "USDC") == 250_000 - 7
    assert led.total("USDC") == 1_000_000 and led.total("BTC") == 5
    assert led.imbalance() == 0
    led.withdraw("a", "USDC", 10)
    assert led.net_deposits("USDC") == 999_990 and led.imbalance() == 0
    assert [e.reason for e in led.entries()][:2] == ["deposit", "deposit"]


@pytest.mark.parametrize("amount", [-1, 1.5, True, "3"])
def test_bad_amounts_are_refused(amount: object) -> None:
    led = Ledger()
    with pytest.raises(ValidationError, match="amount"):
        led.deposit("a", "USDC", amount)  # type: ignore[arg-type]


def test_overdraw_withdraw_and_reserved_names() -> None:
    led = Ledger()
    led.deposit("a", "USDC", 5)
    with pytest.raises(RiskError, match="cannot withdraw"):
        led.withdraw("a", "USDC", 6)
    with pytest.raises(ValidationError, match="holder"):
        led.deposit("@external", "USDC", 1)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", INSURANCE, FEES]),
            st.sampled_from(["a", "b", "c", INSURANCE, FEES]),
            st.sampled_from(["USDC", "BTC"]),
            st.integers(0, 10**12),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_random_transfers_never_unbalance_and_stay_solvent(ops: list[tuple[str, str, str, int, bool]]) -> None:
    led = Ledger()
    led.deposit("a", "USDC", 10**9)
    led.deposit("b", "BTC", 10**8)
    for src, dst, asset, amt, debt in ops:
        before = led.state()
        have = led.balance(src, asset)
        try:
            led.transfer(src, dst, asset, amt, "random", allow_debt=debt)
        except RiskError:
            # only a debt-free transfer that would overdraw is refused, and it changes nothing
            assert not debt and have - amt < -led.debt(src, asset)
            assert led.state() == before
        assert led.imbalance() == 0
        assert led.solvency_violations() == ()
        for h in led.holders():
            assert led.balance(h, asset) >= -led.debt(h, asset)
    assert led.total("USDC") == 10**9 and led.total("BTC") == 10**8


def test_debt_is_recorded_and_repaid() -> None:
    led = Ledger()
    led.deposit("a", "USDC", 100)
    with pytest.raises(RiskError, match="cannot pay"):
        led.transfer("a", "b", "USDC", 101, "no debt allowed")
    assert led.balance("a", "USDC") == 100 and led.balance("b", "USDC") == 0
    led.transfer("a", "b", "USDC", 150, "variation margin", allow_debt=True)
    assert led.balance("a", "USDC") == -50 and led.debt("a", "USDC") == 50
    assert led.solvency_violations() == ()
    led.deposit("a", "USDC", 30)
    assert led.debt("a", "USDC") == 20
    led.deposit("a", "USDC", 25)
    assert led.debt("a", "USDC") == 0 and led.balance("a", "USDC") == 5
