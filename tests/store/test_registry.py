"""Run folders: OUT/NAME/RUN_ID written whole (temp folder + rename), OUT/NAME/latest flipped in one step,
runs never overwrite each other, names cannot escape, output paths are checked before any work, and a
SIGKILL at any moment leaves the previous complete run or the new complete run, never a mix."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keel.errors import KeelError
from keel.runtime.registry import (
    check_output_dir,
    check_output_file,
    check_run_name,
    complete_runs,
    read_manifest,
    resolve_run_folder,
    write_run,
)


def _write_three(text: str):  # type: ignore[no-untyped-def]
    def write(folder: Path) -> None:
        (folder / "summary.json").write_text(text)
        (folder / "events.parquet").write_bytes(text.encode() * 100)
        (folder / "report.html").write_text(f"<html>{text}</html>")

    return write


def _assert_consistent(root: Path) -> list[str]:
    """Every visible run folder is complete and matches its manifest; latest points at one of them."""
    visible = [p for p in root.iterdir() if not p.name.startswith(".") and p.name != "latest"]
    for run in visible:
        manifest = read_manifest(run)
        names = sorted(p.name for p in run.iterdir() if p.name != "manifest.json")
        assert names == sorted(manifest["files"]), run
        for name, info in manifest["files"].items():
            data = (run / name).read_bytes()
            assert len(data) == info["bytes"] and hashlib.sha256(data).hexdigest() == info["sha256"]
        summary = (run / "summary.json").read_text()
        assert (run / "report.html").read_text() == f"<html>{summary}</html>"  # never a mix of two runs
    latest = root / "latest"
    if latest.is_symlink():
        assert latest.resolve() in {p.resolve() for p in visible}
    return sorted(p.name for p in visible)


def test_runs_never_overwrite_and_latest_follows(tmp_path: Path) -> None:
    first = write_run(tmp_path, "demo", "r1", _write_three("one"), {"config_hash": "abc"})
    second = write_run(tmp_path, "demo", "r2", _write_three("two"))
    assert first == tmp_path / "demo" / "r1" and (first / "summary.json").read_text() == "one"
    assert (tmp_path / "demo" / "latest" / "summary.json").read_text() == "two"
    assert resolve_run_folder(tmp_path, "demo") == second.resolve()
    assert resolve_run_folder(tmp_path, "demo", "r1") == first
    assert read_manifest(first)["config_hash"] == "abc" and read_manifest(first)["run_id"] == "r1"
    assert complete_runs(tmp_path / "demo") == [first, second]
    with pytest.raises(KeelError, match="already exists"):
        write_run(tmp_path, "demo", "r1", _write_three("again"))
    assert (first / "summary.json").read_text() == "one"
    assert _assert_consistent(tmp_path / "demo") == ["r1", "r2"]


def test_a_failing_writer_leaves_nothing(tmp_path: Path) -> None:
    write_run(tmp_path, "demo", "r1", _write_three("one"))

    def boom(folder: Path) -> None:
        (folder / "summary.json").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_run(tmp_path, "demo", "r2", boom)
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["latest", "r1"]


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "../x", "/abs", "a\\b", ".hidden", "latest", "x\x00y"])
def test_names_that_escape_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(KeelError, match="name="):
        check_run_name(name)
    with pytest.raises(KeelError):
        write_run(tmp_path / "out", name, "r1", _write_three("x"))
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["out"])


def test_output_paths_checked_before_work(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(KeelError, match="--out=.*is a file, not a folder"):
        check_output_dir(a_file)
    with pytest.raises(KeelError, match="--out=.*is not a folder"):
        check_output_dir(a_file / "sub")
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    with pytest.raises(KeelError, match="--png=.*is a folder, not a file"):
        check_output_file(tmp_path, "--png")
    with pytest.raises(KeelError, match="--report=.*is not a folder"):
        check_output_file(a_file / "r.json", "--report")
    with pytest.raises(KeelError, match="--png=.*must end in .png"):
        check_output_file(tmp_path / "x.jpg", "--png", (".png",))
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(KeelError, match="not writable"):
                check_output_dir(ro / "runs")
        finally:
            ro.chmod(0o700)


CHILD = textwrap.dedent(
    """
    import importlib.util, os, sys, time
    from pathlib import Path

    # the registry module alone (keel.runtime's package init would load the whole simulator)
    spec = importlib.util.spec_from_file_location("registry", sys.argv[4])
    reg = sys.modules["registry"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reg)

    def step(label):
        print(label, flush=True)
        time.sleep(0.1)

    real_rename, real_replace = os.rename, os.replace

    def rename(a, b):
        step("before-rename")
        real_rename(a, b)
        step("after-rename")

    def replace(a, b):
        if str(b).endswith("latest"):
            step("before-latest")
        real_replace(a, b)

    reg.os.rename = rename
    reg.os.replace = replace

    def write(folder):
        text = sys.argv[3]
        step("start")
        (folder / "summary.json").write_text(text)
        step("summary")
        (folder / "events.parquet").write_bytes(text.encode() * 100)
        step("events")
        (folder / "report.html").write_text(f"<html>{text}</html>")
        step("report")

    reg.write_run(Path(sys.argv[1]), "demo", sys.argv[2], write)
    print("done", flush=True)
    """
)


@pytest.mark.parametrize(
    "kill_at", ["start", "summary", "events", "report", "before-rename", "after-rename", "before-latest"]
)
def test_sigkill_at_any_moment_leaves_a_complete_run(kill_at: str, tmp_path: Path) -> None:
    write_run(tmp_path, "demo", "r0", _write_three("previous"))
    registry = Path(write_run.__code__.co_filename)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "r1", "new", str(registry)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == kill_at:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    visible = _assert_consistent(tmp_path / "demo")
    assert visible in (["r0"], ["r0", "r1"])
    latest = (tmp_path / "demo" / "latest" / "summary.json").read_text()
    assert latest in ("previous", "new")
    assert (tmp_path / "demo" / "r0" / "summary.json").read_text() == "previous"
    # the next run cleans up what the killed one left and completes
    write_run(tmp_path, "demo", "r2", _write_three("next"))
    assert _assert_consistent(tmp_path / "demo")[-1] == "r2"
    assert not [p for p in (tmp_path / "demo").iterdir() if p.name.startswith(".partial-")]
    assert json.loads((tmp_path / "demo" / "r2" / "manifest.json").read_text())["run_id"] == "r2"
