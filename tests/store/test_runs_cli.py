"""``keel runs list | show | compare`` on a store with two finished runs; unknown runs and bad URLs
give one ``error:`` line (exit 2) and create nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keel.cli import main
from keel.store import FillRow, open_store


@pytest.fixture
def two_runs(store_url: str) -> tuple[str, str, str]:
    with open_store(store_url) as store:
        a = store.create_run("demo", config_text="seed = 1\n", seed=1, started_ns=1_000_000_000)
        b = store.create_run("demo", config_text="seed = 2\n", seed=2, started_ns=2_000_000_000)
        store.write_fills(a.id, [FillRow("1", 1, 1, "hedger", "ETH", "USDC", "WETH", 10, 20)])
        sa = {"name": "demo", "pnl": {"total": 10.5, "gamma": 1.0}, "blocks": 100}
        sb = {"name": "demo", "pnl": {"total": 12.0, "gamma": 1.0}, "blocks": 100}
        store.finish_run(a.id, "finished", summary_json=json.dumps(sa))
        store.finish_run(b.id, "failed", summary_json=json.dumps(sb))
    return store_url, a.id, b.id


def test_list_show_compare(
    two_runs: tuple[str, str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    url, a, b = two_runs
    assert main(["runs", "list", "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.index(a) < out.index(b) and "finished" in out and "failed" in out
    assert main(["runs", "show", a, "--db", url]) == 0
    out = capsys.readouterr().out
    assert "pnl.total" in out and "10.5" in out and "fills" in out
    assert main(["runs", "compare", a, b, "--db", url]) == 0
    out = capsys.readouterr().out
    assert "pnl.total" in out and "1.5000" in out and "pnl.gamma" not in out
    assert "1 of 4 summary values differ" in out


def test_list_fits_the_terminal_writes_pipes_whole_and_json(
    two_runs: tuple[str, str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the optional columns go (config, keel, seed, mode, duration) and nothing that stays is cut;
    into a pipe every column is whole at any COLUMNS; --json gives one object per run with every field."""
    from rich.console import Console

    url, a, b = two_runs
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["runs", "list", "--db", url]) == 0
    lines = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).splitlines()  # a terminal's colours off
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "id" in line and "status" in line)
    assert "config" not in header and "keel" not in header and "…" not in "".join(lines)
    assert any(a in line and "finished" in line for line in lines) and any(b in line for line in lines)
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: False))
    monkeypatch.setenv("COLUMNS", "40")
    assert main(["runs", "list", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and "config" in out and "seed" in out and a in out
    assert main(["runs", "list", "--json", "--db", url]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["status"], r["seed"]) for r in rows] == [(a, "finished", 1), (b, "failed", 2)]
    assert all(len(r["config_hash"]) == 64 and r["keel_version"] for r in rows)


def test_unknown_run_is_one_line(two_runs: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url, _, _ = two_runs
    assert main(["runs", "show", "19990101T000000Z-000000", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run='19990101T000000Z-000000': no such run") and err.count("\n") == 1


@pytest.mark.parametrize(
    "url", ["nonsense", "postgresql://postgres@127.0.0.1:1/x", "sqlite:///{tmp}/missing.db", "mysql://a@b/c"]
)
def test_bad_db_is_one_line_and_writes_nothing(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--db", url.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: db=") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
