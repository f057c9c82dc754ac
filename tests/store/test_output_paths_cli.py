"""#21 outputs: a bad --png (keel surface) or --report (keel run --live) is refused before any work, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_surface_png_checked_before_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the data file does not even exist: the output path is refused first
    assert main(["surface", str(tmp_path / "missing.csv"), "--png", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --png=") and "is a folder, not a file" in err and err.count("\n") == 1
    assert main(["surface", str(tmp_path / "missing.csv"), "--png", str(tmp_path / "x.jpg")]) == 2
    assert "must end in .png" in capsys.readouterr().err


def test_live_report_checked_before_anything_is_signed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    args = ["run", "--live", "--rpc", "http://127.0.0.1:1", str(ROOT / "examples" / "eth_options_desk.toml")]
    assert main([*args, "--report", str(a_file / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --report=") and "is not a folder" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
