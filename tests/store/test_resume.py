"""Restart from the store: a simulation checkpointed every N blocks, SIGKILLed, and resumed with
``--resume RUN_ID`` ends with a summary.json byte-identical to an uninterrupted run's, and records
every fill once.  A --resume that cannot be honoured is one line and writes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keel.runtime.registry import simulate_recorded
from keel.store import StoreError, open_store

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from keel.runtime.registry import simulate_recorded

    import time

    def tell(block):
        print(block, flush=True)

    def progress(done, total):  # after block 120 is run, before its checkpoint: wait here to be killed
        if done == 120:
            print("kill me", flush=True)
            time.sleep(600)

    simulate_recorded(Path(sys.argv[1]), out=Path(sys.argv[2]), db=sys.argv[3], checkpoint_every=int(sys.argv[4]),
                      on_checkpoint=tell, progress=progress)
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def short_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (ROOT / "examples" / "eth_options_desk.toml").read_text(encoding="utf-8")
    text = text.replace("hours = 24", "hours = 0.5").replace('file = "data/', f'file = "{ROOT}/data/')
    path = tmp_path_factory.mktemp("cfg") / "desk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_resumed_summary_is_byte_identical(short_desk: Path, store_url: str, tmp_path: Path) -> None:
    full = simulate_recorded(short_desk, out=tmp_path / "a", db=store_url)
    expected = (full.folder / "summary.json").read_bytes()

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(short_desk), str(tmp_path / "b"), store_url, "40"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if seen[-1] == "kill me":  # 40 blocks after its second checkpoint, before the third
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert seen == ["40", "80", "kill me"]
    with open_store(store_url) as store:
        killed = store.runs()[-1]
        assert killed.status == "killed" and killed.id != full.run_id
    assert not (tmp_path / "b" / "eth_options_desk" / killed.id).exists()  # no half run folder

    resumed = simulate_recorded(short_desk, out=tmp_path / "b", db=store_url, resume=killed.id)
    assert resumed.run_id == killed.id and resumed.resumed_from_block == 80
    assert (resumed.folder / "summary.json").read_bytes() == expected
    assert (tmp_path / "b" / "eth_options_desk" / "latest" / "summary.json").read_bytes() == expected
    with open_store(store_url) as store:
        assert store.run(killed.id).status == "finished"
        a, b = store.fills(full.run_id), store.fills(killed.id)
        assert len(b) == len({f.fill_id for f in b}) == len(a) > 0  # every fill once, none lost
        assert [(f.fill_id, f.amount_in, f.amount_out) for f in a] == [
            (f.fill_id, f.amount_in, f.amount_out) for f in b
        ]
        assert store.latest_positions(full.run_id) == store.latest_positions(killed.id)
        assert len(store.events(full.run_id)) == len(store.events(killed.id))


def test_resume_refusals_write_nothing(short_desk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keel.db'}"
    with pytest.raises(StoreError, match="no store at"):
        simulate_recorded(short_desk, out=tmp_path / "o", db=url, resume="20260101T000000Z-abcdef")
    assert list(tmp_path.iterdir()) == []
    with open_store(url) as store:
        done = store.create_run("eth_options_desk", config_text=short_desk.read_text(), seed=7)
        store.finish_run(done.id, "finished")
        other = store.create_run("eth_options_desk", config_text="name = 'x'\n", seed=7)
        store.finish_run(other.id, "killed")
    before = sorted(p.name for p in tmp_path.iterdir())
    for run_id, message in [
        ("20260101T000000Z-abcdef", "no such run"),
        (done.id, "already finished"),
        (other.id, "is not the config run"),
    ]:
        with pytest.raises(StoreError, match=message) as err:
            simulate_recorded(short_desk, out=tmp_path / "o", db=url, resume=run_id)
        assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with open_store(url) as store:
        assert [r.status for r in store.runs()] == ["finished", "killed"]
