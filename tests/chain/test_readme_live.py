"""README's live quickstart runs as written on the testbed (only the port and the .testbed directory are
replaced, by a free port and a temporary directory: tests never use port 8545 or the repository's .testbed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from keel.chain import free_port
from keel.chain.node import stop_pid
from tests.chain.conftest import ROOT, _ensure_node_modules

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


def _quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Live chain") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "README's live section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_live_quickstart_runs_as_written(tmp_path: Path) -> None:
    _ensure_node_modules()
    lines = _quickstart()
    assert any(line.startswith("keel run --live") for line in lines)
    assert any("keel keystore new" in line for line in lines) and any("--anchor-to-chain" in line for line in lines)
    port, directory = str(free_port()), str(tmp_path / "tb")
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    env.pop("KEEL_KEYSTORE_PASSWORD", None)  # the quickstart sets it itself
    script = "set -euo pipefail\n" + "\n".join(
        line.replace("8545", port).replace(".testbed", directory) for line in lines
    )
    try:
        result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    finally:
        node = Path(directory) / "node.json"
        if node.exists():  # a failed step must not leave the node running
            stop_pid(int(json.loads(node.read_text())["pid"]))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "fills and balances equal keel.venues' prediction to the wei" in out
    assert "hedges sent" in out and "failed 0" in out
    assert "stopped hardhat node" in out
    password = re.search(r"KEEL_KEYSTORE_PASSWORD='([^']+)'", "\n".join(lines))
    assert password is not None and password.group(1) not in out + result.stderr
