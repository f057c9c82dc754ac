"""``keel simulate`` with the store and the run registry, from the command line: outputs in OUT/NAME/RUN_ID
(never overwritten), bad --db/--out/--resume/--checkpoint-every and escaping names are one ``error:`` line
that writes nothing, and a SIGKILL at any moment leaves the previous complete run or the new one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keel.cli import main
from keel.runtime.registry import read_manifest
from keel.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp: Path, hours: float = 0.25, name: str = "eth_options_desk") -> Path:
    text = (ROOT / "examples" / "eth_options_desk.toml").read_text(encoding="utf-8")
    text = text.replace("hours = 24", f"hours = {hours}").replace('file = "data/', f'file = "{ROOT}/data/')
    text = text.replace('name = "eth_options_desk"', f"name = {json.dumps(name)}")
    path = tmp / f"cfg-{abs(hash((hours, name)))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _complete(run: Path) -> None:
    manifest = read_manifest(run)
    assert sorted(manifest["files"]) == ["events.parquet", "report.html", "summary.json"]
    for name, info in manifest["files"].items():
        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == info["sha256"]


def test_simulate_records_runs_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "runs"
    assert main(["simulate", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert main(["simulate", str(cfg), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    with open_store(f"sqlite:///{out / 'keel.db'}") as store:
        runs = store.runs()
    assert [r.status for r in runs] == ["finished", "finished"] and runs[0].id != runs[1].id
    folders = [out / "eth_options_desk" / r.id for r in runs]
    for f in folders:
        _complete(f)
        assert read_manifest(f)["config_hash"] == runs[0].config_hash
    a, b = ((f / "summary.json").read_bytes() for f in folders)
    assert a == b  # same config and seed: byte-identical, and neither overwrote the other
    assert json.loads(runs[1].summary_json) == json.loads(b)
    assert (out / "eth_options_desk" / "latest").resolve() == folders[1].resolve()
    assert runs[0].id.encode() not in a  # no run id or wall clock inside summary.json


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "nonsense"], "error: db='nonsense': not a database URL"),
        (["--db", "postgresql://postgres@127.0.0.1:1/keel"], "cannot open"),
        (["--resume", "20260101T000000Z-abcdef"], "no store at"),
        (["--checkpoint-every", "0"], "--checkpoint-every=0: must be a number of blocks >= 1"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "runs"
    assert main(["simulate", str(cfg), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_unknown_resume_in_an_existing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "runs"
    out.mkdir()
    url = f"sqlite:///{out / 'keel.db'}"
    open_store(url).close()
    before = sorted(p.name for p in out.iterdir())
    assert main(["simulate", str(cfg), "--out", str(out), "--quiet", "--resume", "19990101T000000Z-000000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run='19990101T000000Z-000000': no such run") and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == before
    with open_store(url) as store:
        assert store.runs() == []


@pytest.mark.parametrize("name", ["..", "."])
def test_names_that_escape_are_refused(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, name=name)
    out = tmp_path / "deep" / "runs"
    code = main(["simulate", str(cfg), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "name=" in err and err.count("\n") == 1
    assert not (tmp_path / "deep").exists()


def test_bad_out_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    t0 = time.perf_counter()
    assert main(["simulate", str(cfg), "--out", str(a_file), "--quiet"]) == 2
    assert time.perf_counter() - t0 < 5  # refused before the run, not after it
    err = capsys.readouterr().err
    assert "--out=" in err and "is a file, not a folder" in err and err.count("\n") == 1
    assert a_file.read_text() == "x"


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_previous_or_new_complete_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path, hours=0.1)
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "keel", "simulate", str(cfg), "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    full = time.perf_counter() - t0
    root = out / "eth_options_desk"
    previous = (root / "latest" / "summary.json").read_bytes()
    for fraction in (0.5, 0.9, 1.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        visible = [p for p in root.iterdir() if not p.name.startswith(".") and p.name != "latest"]
        for run in visible:
            _complete(run)
        latest = root / "latest"
        assert latest.resolve() in {p.resolve() for p in visible}
        _complete(latest.resolve())
        assert (latest / "summary.json").read_bytes() == previous  # same config: the new complete run is equal
    with open_store(f"sqlite:///{out / 'keel.db'}") as store:
        statuses = [r.status for r in store.runs()]
    assert statuses[0] == "finished" and set(statuses[1:]) <= {"finished", "killed"}
