"""Hostile market-data files generated in tmp_path: bad rows are dropped and counted (option
chains) or refused with one line naming the file and line (klines, funding, pool exports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keel.errors import ValidationError
from keel.marketdata import (
    load_binance_klines,
    load_chain_file,
    load_deribit_chain,
    load_funding_rates,
    load_iv_greeks_csv,
    load_uniswap_minutes,
    load_uniswap_rel_price,
    load_uniswap_swaps,
)
from keel.pricing import fit_surface

ROOT = Path(__file__).resolve().parents[2]
ETH_0209 = ROOT / "data/deribit_option_chain_snapshots_2021-02/eth_option_chain_2021-02-09T1340Z.csv"
BTC_0209 = ROOT / "data/deribit_option_chain_snapshots_2021-02/btc_option_chain_2021-02-09T1338Z.csv"
KLINES = ROOT / "data/binance_btcusdt_1m_crashes/BTCUSDT-1m-2025-10-10_2028-2237.csv"
HOURLY = ROOT / "data/deribit_btc_iv_greeks_hourly_2026-01/full_data_sample.csv"

HEAD = "instrument_name,timestamp,underlying_price,index_price,mark_price,mark_iv,bid_iv,ask_iv"
TS = 1612877925407  # 2021-02-09 13:38 UTC


def _row(strike: int, kind: str, mark: str, iv: str, under: str = "1800.0", ts: int = TS) -> str:
    return f"ETH-26MAR21-{strike}-{kind},{ts},{under},1790.0,{mark},{iv},70.0,90.0"


def _good(n: int = 4) -> list[str]:
    return [_row(1600 + 100 * i, "C", f"{0.2 - 0.03 * i:.4f}", f"{80 + i}.0") for i in range(n)]


def _write(tmp_path: Path, lines: list[str], name: str = "chain.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEAD, *lines]) + "\n")
    return p


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_row(2400, "C", "0.01", "80.0", under="nan"), "underlying_price NaN/inf/<= 0"),
        (_row(2400, "C", "0.01", "80.0", under="inf"), "underlying_price NaN/inf/<= 0"),
        (_row(2400, "C", "0.01", "80.0", under="-5"), "underlying_price NaN/inf/<= 0"),
        (_row(2400, "C", "0.01", "nan"), "mark_iv NaN/empty/<= 0"),
        (_row(2400, "C", "0.01", ""), "mark_iv NaN/empty/<= 0"),
        (_row(2400, "C", "-0.5", "80.0"), "mark_price NaN or < 0"),
        (_row(2400, "C", "nan", "80.0"), "mark_price NaN or < 0"),
        (_row(2400, "C", "0.01", "80.0", ts=1616745600000 + 1), "timestamp at or after expiry"),
        (_row(2400, "C", "0.01", "80.0", ts=10**30), "timestamp not a time in ms"),
        ("ETH-26MAR21-2400-C,1612877925407,1800.0,1790.0", "row cut short"),
    ],
)
def test_each_bad_deribit_row_is_dropped_and_counted(tmp_path: Path, bad: str, reason: str) -> None:
    chain = load_deribit_chain(_write(tmp_path, [*_good(), bad]))
    assert len(chain) == 4
    assert chain.dropped == ((reason, 1),)
    assert chain.n_dropped == 1
    assert np.all(np.isfinite(chain.column("underlying_price"))) and np.all(chain.column("mark_price") >= 0)
    assert np.all(chain.column("mark_iv") > 0) and np.all(chain.column("T") > 0)
    assert "ETH-26MAR21-2400-C" not in chain.frame["instrument"].to_list()


def test_a_negative_mark_no_longer_moves_the_fitted_forward(tmp_path: Path) -> None:
    """The issue's case: one row with mark_price = -0.5 moved the ETH forward by ~200 USD."""
    text = ETH_0209.read_text().splitlines()
    head = text[0].split(",")
    i_mark, i_name = head.index("mark_price"), head.index("instrument_name")
    clean = fit_surface(load_deribit_chain(ETH_0209))
    for j, line in enumerate(text[1:], start=1):
        cells = line.split(",")
        if len(cells) == len(head) and cells[i_name].startswith("ETH-26MAR21-") and cells[i_name].endswith("-P"):
            cells[i_mark] = "-0.5"
            text[j] = ",".join(cells)
            break
    hostile = tmp_path / "eth.csv"
    hostile.write_text("\n".join(text) + "\n")
    chain = load_deribit_chain(hostile)
    assert chain.dropped == (("mark_price NaN or < 0", 1),)
    fitted = fit_surface(chain)
    before = {s.expiry_ns: s.forward for s in clean.slices}
    for s in fitted.slices:
        assert s.forward == pytest.approx(before[s.expiry_ns], rel=2e-3)


def test_a_file_with_no_good_row_is_refused_with_the_counts(tmp_path: Path) -> None:
    lines = [_row(2400, "C", "-1", "80.0"), _row(2500, "C", "0.1", "nan"), _row(2600, "P", "0.1", "80", under="0")]
    with pytest.raises(ValidationError, match=r"no usable row: all 3 dropped .*mark_iv.*mark_price.*underlying"):
        load_deribit_chain(_write(tmp_path, lines))


def test_iv_greeks_export_drops_bad_rows(tmp_path: Path) -> None:
    head = "date,instrument_name,delta,bid_iv,ask_iv,mark_iv"
    rows = [
        "2026-01-23T01:00:00,BTC-13FEB26-100000-C,0.12,35.7,36.1,36.2",
        "2026-01-23T01:00:00,BTC-13FEB26-90000-C,0.5,35.7,36.1,nan",
        "2026-01-23T01:00:00,BTC-13FEB26-80000-C,0.8,35.7,36.1,",
        "2026-02-14T01:00:00,BTC-13FEB26-80000-C,0.8,35.7,36.1,40",
        "not a date,BTC-13FEB26-80000-C,0.8,35.7,36.1,40",
        "2026-01-23T01:00:00,BTC-13FEB26-70000-C,0.9",
    ]
    p = tmp_path / "ivg.csv"
    p.write_text("\n".join([head, *rows]) + "\n")
    chain = load_iv_greeks_csv(p)
    assert len(chain) == 1
    assert dict(chain.dropped) == {
        "mark_iv NaN/empty/<= 0": 2,
        "timestamp at or after expiry": 1,
        "date not a date-time": 1,
        "row cut short": 1,
    }


def test_flat_placeholder_ivs_are_named_not_fitted() -> None:
    """The real ETH 2021-02-09 file's 26FEB21 expiry has every mark IV at 80% (a placeholder):
    the fit says so instead of reporting a perfect fit."""
    chain = load_deribit_chain(ETH_0209)
    flat = chain.flat_iv_expiries()
    assert flat[1614326400000000000] == pytest.approx(0.80)
    surface = fit_surface(chain)
    assert 1614326400000000000 not in {s.expiry_ns for s in surface.slices}
    assert any("every mark IV is 80.00%" in msg and msg.startswith("1614326400000000000") for msg in surface.skipped)
    assert load_deribit_chain(BTC_0209).flat_iv_expiries() == {}


def test_real_files_drop_nothing() -> None:
    for path in (ETH_0209, BTC_0209, HOURLY):
        assert load_chain_file(path).n_dropped == 0


def test_not_utf8_and_binary_files_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes((HEAD + "\n").encode() + "ETH-26MAR21-1600-C,1,caf\xe9".encode("latin-1"))
    for loader in (load_deribit_chain, load_chain_file, load_binance_klines, load_funding_rates):
        with pytest.raises(ValidationError, match="latin1.csv.*not UTF-8"):
            loader(p)


KHEAD = "open_time,open,high,low,close,volume,close_time"


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("1760128080000,117050.0,117103.1,116980.6,nan,1,1760128139999", "column close must be finite"),
        ("1760128080000,117050.0,117103.1,116980.6,-3,1,1760128139999", "column close must be > 0"),
        ("1760128080000,117050.0,117103.1,116980.6,inf,1,1760128139999", "column close must be finite"),
        ("1760128080000,117050.0,117103.1,116980.6,abc,1,1760128139999", "column close is not a number"),
        ("1760128080000,117050.0,117103.1,116980.6", "row has 4 fields, the header 7"),
        ("99999999999999999999,117050.0,117103.1,116980.6,117000,1,1760128139999", "open_time outside"),
        ("1760128080000,117050.0,116000.0,116980.6,117000,1,1760128139999", "low above high"),
    ],
)
def test_bad_klines_are_refused_naming_file_and_line(tmp_path: Path, row: str, match: str) -> None:
    p = tmp_path / "k.csv"
    p.write_text(f"{KHEAD}\n1760128020000,117000.0,117100.0,116900.0,117050.0,1,1760128079999\n{row}\n")
    with pytest.raises(ValidationError, match=rf"k\.csv:3.*{match}"):
        load_binance_klines(p)


def test_kline_series_conventions() -> None:
    k = load_binance_klines(KLINES)
    assert len(k) == 130
    at_open, at_end = k.closes(at="open"), k.closes(at="end")
    assert np.all(at_end.ts_ns - at_open.ts_ns == 60 * 10**9)  # close time + 1 ms = next minute's open
    assert at_open.ts_ns.dtype == np.int64 and np.all(np.diff(at_open.ts_ns) == 60 * 10**9)
    path = k.path()
    assert len(path) == 4 * 130 and path.price.min() == 101516.5


def test_bad_funding_and_pool_files(tmp_path: Path) -> None:
    f = tmp_path / "f.csv"
    f.write_text("calc_time,funding_interval_hours,last_funding_rate\n1577836800000,8,0.0001\n1577865600000,8,nan\n")
    with pytest.raises(ValidationError, match=r"f\.csv:3.*finite"):
        load_funding_rates(f)
    f.write_text("calc_time,funding_interval_hours,last_funding_rate\n1577836800000,8,0.0001\n1577836800000,8,0.0\n")
    with pytest.raises(ValidationError, match=r"f\.csv:3.*not strictly increasing"):
        load_funding_rates(f)
    s = tmp_path / "x.tick.csv"
    s.write_text("block_timestamp,tx_type,sqrtPriceX96,current_tick\n2024-01-05 00:00:23,SWAP,0,199045\n")
    with pytest.raises(ValidationError, match=r"x\.tick\.csv:2.*sqrtPriceX96 outside"):
        load_uniswap_swaps(s)
    s.write_text("block_timestamp,tx_type,sqrtPriceX96,current_tick\n2024-01-05 00:00:23,MINT,1,1\n")
    with pytest.raises(ValidationError, match="no SWAP rows"):
        load_uniswap_swaps(s)
    m = tmp_path / "m.minute.csv"
    m.write_text("timestamp,closeTick\n2024-01-05 00:00:00,199045.0\n2024-01-05 00:01:00,9999999\n")
    with pytest.raises(ValidationError, match=r"m\.minute\.csv:3.*closeTick outside"):
        load_uniswap_minutes(m)
    r = tmp_path / "r.rel-price.csv"
    r.write_text(
        "block_timestamp,usdc,eth,sqrtPriceX96\n2024-01-05 00:00:00,1.0,-2269.7,1662989727226084088942105379516512\n"
    )
    with pytest.raises(ValidationError, match=r"r\.rel-price\.csv:2.*eth must be > 0"):
        load_uniswap_rel_price(r)
    empty = tmp_path / "empty.csv"
    empty.write_text(KHEAD + "\n")
    with pytest.raises(ValidationError, match="has no data rows"):
        load_binance_klines(empty)


def test_keel_surface_reports_dropped_rows_and_placeholder_expiries(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from keel.cli import main

    text = ETH_0209.read_text().splitlines()
    text.append(_row(2400, "C", "-0.5", "80.0"))  # 8 of the header's 34 fields: a row cut short
    hostile = tmp_path / "eth.csv"
    hostile.write_text("\n".join(text) + "\n")
    assert main(["surface", str(hostile), "--png", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert "dropped 1 bad row(s) of eth.csv:" in out
    assert "skipped expiry 2021-02-26: every mark IV is 80.00% (a flat placeholder, not a smile)" in out
