"""The `keel` entry point: version, help, and one-line errors for user mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keel import __version__
from keel.cli import main
from keel.errors import ValidationError

CHAIN = Path(__file__).resolve().parents[2] / "data" / "deribit_option_chain_snapshots_2021-02"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"keel {__version__}"


def test_help_lists_every_capability() -> None:
    out = subprocess.run([sys.executable, "-m", "keel", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("chain", "surface", "oracle", "route", "stress", "simulate", "testbed", "run"):
        assert command in out


def test_user_mistake_is_one_line_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", "no/such/file.csv"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: path='no/such/file.csv': no such file"
    assert "Traceback" not in err


def test_debug_shows_the_exception() -> None:
    with pytest.raises(ValidationError):
        main(["--debug", "chain", "no/such/file.csv"])


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_chain_summary_on_real_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", str(CHAIN / "btc_option_chain_2021-02-09T1338Z.csv")]) == 0
    out = capsys.readouterr().out
    assert "520 options" in out
    assert "2021-03-26" in out
