"""The Deribit chain adapter on the real snapshot files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keel.errors import ValidationError
from keel.marketdata import load_deribit_chain

CHAINS = Path(__file__).resolve().parents[2] / "data" / "deribit_option_chain_snapshots_2021-02"


@pytest.mark.parametrize(
    ("name", "rows", "snapshots"),
    [
        ("btc_option_chain_2021-02-09T1338Z.csv", 520, 1),
        ("eth_option_chain_2021-02-09T1340Z.csv", 542, 1),
        ("btc_option_chain_2021-02-11T1837Z_2snaps.csv", 976, 2),
        ("eth_option_chain_2021-02-11T1838Z_2snaps.csv", 996, 2),
    ],
)
def test_real_files_load_and_split_into_their_snapshots(name: str, rows: int, snapshots: int) -> None:
    chain = load_deribit_chain(CHAINS / name)
    assert len(chain) == rows
    parts = chain.snapshots()
    assert len(parts) == snapshots
    assert sum(len(p) for p in parts) == rows
    # each snapshot lists every instrument once
    for part in parts:
        assert part.frame["instrument"].n_unique() == len(part)


def test_columns_follow_the_conventions() -> None:
    chain = load_deribit_chain(CHAINS / "btc_option_chain_2021-02-09T1338Z.csv")
    iv = chain.column("mark_iv")
    assert np.all((iv > 0.05) & (iv < 5.0))  # fractions, not percent
    assert np.all(chain.column("T") > 0)
    assert set(chain.frame["kind"].unique().to_list()) == {-1, 1}
    assert chain.frame["ts_ns"].min() > 1_600_000_000 * 10**9  # nanoseconds


def test_missing_file_and_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        load_deribit_chain(tmp_path / "absent.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("instrument_name,timestamp\nBTC-26MAR21-48000-P,1\n")
    with pytest.raises(ValidationError, match="columns=.*missing"):
        load_deribit_chain(bad)
