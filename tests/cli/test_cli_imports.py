"""`keel --help` / `keel --version` stay fast: the CLI modules import heavy libraries inside the commands.

Deterministic (no timing): a fresh interpreter imports keel.cli, or runs `--help`/`--version`
and every command group's `--help`, and must not have loaded any of the heavy modules.
The wall time is measured by bench/cli_startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numba", "web3", "scipy", "sqlalchemy", "fastapi", "ray", "matplotlib", "plotly")

_PROBE = """
import json, sys
from keel.cli import main
codes = [main(args) for args in ARGS]
loaded = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def _probe(args: list[list[str]]) -> dict[str, object]:
    code = _PROBE.replace("ARGS", repr(args)).replace("HEAVY", repr(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_import_keel_cli_loads_no_heavy_module() -> None:
    assert _probe([]) == {"codes": [], "loaded": []}


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_heavy_module(flag: str) -> None:
    assert _probe([[flag]]) == {"codes": [0], "loaded": []}


def test_every_command_help_loads_no_heavy_module() -> None:
    from keel.cli.app import app

    groups = sorted(
        {c.name for c in app.registered_commands if c.name} | {g.name for g in app.registered_groups if g.name}
    )
    assert {"chain", "oracle", "route", "simulate", "stress", "surface"} <= set(groups)
    result = _probe([[name, "--help"] for name in groups])
    assert result == {"codes": [0] * len(groups), "loaded": []}, groups


def test_console_script_help_in_a_subprocess() -> None:
    probe = (
        "import runpy, sys; sys.argv = ['keel', '--help']\n"
        "try:\n    runpy.run_module('keel', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert "Commands" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
