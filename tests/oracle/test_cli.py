"""``keel oracle replay`` on the real files."""

from __future__ import annotations

import pytest

from keel.cli import main

from .realdata import BTC_2025, UNI


def test_replay_btc_crash_with_a_corrupt_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "replay", str(BTC_2025), "--corrupt", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "130 ticks x 5 sources" in out and "readings halted" in out
    assert "2025-10-10 20:29 UTC" in out


def test_replay_uniswap_day(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "replay", f"{UNI}.rel-price.csv", "--sources", "8"]) == 0
    out = capsys.readouterr().out
    assert "1440 ticks x 8 sources" in out and "1440" in out


def test_replay_rejects_unknown_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", "replay", f"{UNI}.minute.csv"]) == 2
    assert "not a Binance kline CSV" in capsys.readouterr().err
    assert main(["oracle", "replay", "/nonexistent.csv"]) == 2
