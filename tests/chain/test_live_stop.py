"""Stopping a live run: SIGTERM mid-run, SIGINT, or the kill-switch file appearing, stops sending at once; the run ends
with every journaled transaction final, the journal closed with the summary, and the summary written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keel.chain import TestbedAddresses
from tests.chain.conftest import ROOT
from tests.chain.live_support import PASSWORD, funded_account, live_argv

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


def _start(argv: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, KEEL_KEYSTORE_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "keel", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=ROOT,
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen[str], prefix: str, timeout_s: float = 120.0) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"run ended before {prefix!r}: {seen} {err}")
        seen.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return seen
    raise AssertionError(f"no {prefix!r} within {timeout_s}s: {seen}")


def _check_closed(journal: Path, report: Path, status: str) -> dict[str, Any]:
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert records[-1]["event"] == "closed", records[-1]
    summary = json.loads(report.read_text())
    assert summary["status"].startswith(status), summary["status"]
    assert records[-1]["summary"]["status"] == summary["status"]
    final = {r["intent"] for r in records if r["event"] in ("mined", "dropped", "released")}
    signed = {r["intent"] for r in records if r["event"] == "signed"}
    assert signed <= final  # no transaction left in flight
    return summary


def test_sigterm_sigint_and_kill_switch_stop_cleanly(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path
) -> None:
    tb = clean_chain
    keystore, _account = funded_account(hardhat.url, tb, tmp_path, "0x" + "ac" * 32)
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    journal, report = tmp_path / "journal.jsonl", tmp_path / "summary.json"
    argv = live_argv(hardhat.url, keystore, addresses, journal, "--anchor-to-chain", "--blocks", "500")
    proc = _start([*argv, "--report", str(report)])
    try:
        _wait_for(proc, "hedge    block")  # mid-run: a hedge has just been sent and confirmed
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = _check_closed(journal, report, "stopped: signal SIGTERM")
    assert 0 < summary["blocks"] < 500 and summary["hedges_failed"] == 0
    assert "stopped: signal SIGTERM" in out

    proc = _start([*argv, "--report", str(report)])  # Ctrl-C does the same
    try:
        _wait_for(proc, "agents")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    _check_closed(journal, report, "stopped: signal SIGINT")

    switch = tmp_path / "STOP"
    proc = _start([*argv, "--report", str(report), "--kill-switch", str(switch)])
    try:
        _wait_for(proc, "vault")  # preflight printed; the run is about to trade
        switch.write_text("stop\n")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = _check_closed(journal, report, f"stopped: kill switch {switch}")
    assert summary["blocks"] < 500
