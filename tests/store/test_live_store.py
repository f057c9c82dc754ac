"""Live runs on the Hardhat testbed with the journal in the store (PostgreSQL).

Soak: 20 live runs, each SIGKILLed at a seeded random moment of the transaction manager (journaled but not
sent, sent but not read back, mined but not booked), each restarted on the same store; at the end, from the
store alone: no transaction was signed or mined twice, none was lost, every fill is recorded once, and the
store's positions equal the chain's balances.  Also: a second live process on the same account refuses,
naming the run that holds the account; keel serve pauses, resumes and kills a live run in another process
through the store."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keel.chain import TestbedAddresses
from keel.chain.environment import LivePool
from keel.runtime.live import LiveOptions, run_live  # the spawned holder imports it again
from keel.sim.config import load_config
from keel.store import open_store
from tests.chain.conftest import ROOT, clean_chain, hardhat, testbed  # noqa: F401  (the chain fixtures)
from tests.chain.conftest import run as run_async
from tests.chain.live_support import PASSWORD, USDC, funded_account, nonce, rpc, token_balance

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

RUNS = 20
STEPS = ("signed", "sent", "mined")
WORKER = Path(__file__).with_name("live_store_worker.py")


def _child(
    url: str, db: str, tb_json: str, keystore: str, tmp: str, step: str, nth: int, blocks: int, config_path: str
) -> None:
    """One live run in a forked process with the store journal; SIGKILLs itself at the ``nth`` ``step``."""
    code = 3
    try:
        tb = TestbedAddresses.from_json(tb_json)
        seen = [0]

        def hook(at: str, intent: str) -> None:
            if at == step:
                seen[0] += 1
                if seen[0] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)

        config = load_config(Path(config_path))
        pools = [LivePool("uniswap_v3_usdc_weth", "uniswap_v3", tb.pool("uniswap_v3", config.pool.fee).address, 500)]
        opts = LiveOptions(
            rpc=url, keystore=Path(keystore), journal=Path(tmp) / "unused.jsonl", blocks=blocks, pools=pools,
            v3_router=tb.swap_router, v2_router=tb.v2_router, vault=tb.vault, position_manager=tb.position_manager,
            tick_lens=tb.tick_lens, expected_chain_id=31337, mine=True, anchor_to_chain=True, password=PASSWORD,
            echo=lambda _line: None, on_step=hook, handle_signals=False, db=db,
        )  # fmt: skip
        summary = asyncio.run(run_live(config, opts))
        code = summary.exit_code
    except BaseException as exc:
        import traceback

        Path(tmp, "child-error.txt").write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        code = 4
    finally:
        os._exit(code)


def test_soak_postgres_store_sigkill_restart(
    hardhat: Any,  # noqa: F811
    clean_chain: TestbedAddresses,  # noqa: F811
    postgres_url: str,
    tmp_path: Path,
) -> None:
    from tests.chain.test_live_soak import _move_market, _soak_config

    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "7c" * 32, vault=20_000_000 * USDC)
    start_nonce = nonce(hardhat.url, account)
    config = _soak_config(tmp_path)
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    rng = random.Random(20261202)  # the seed of tests/chain/test_live_soak.py
    worker = [sys.executable, str(WORKER), hardhat.url, str(addresses), str(config), str(keystore), postgres_url]
    zygote = subprocess.Popen(
        [*worker, PASSWORD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    killed, exits, kinds = 0, [], set()
    try:
        for i in range(RUNS + 1):
            last = i == RUNS
            step, nth = (STEPS[0], 10**9) if last else (rng.choice(STEPS), rng.randint(1, 2))
            zygote.stdin.write(f"{step} {nth} 2\n")
            zygote.stdin.flush()
            answer = zygote.stdout.readline().split()
            assert answer[:1] == ["EXIT"], answer
            code = int(answer[1])
            exits.append(code)
            err = tmp_path / "child-error.txt"
            assert code in (0, -signal.SIGKILL), err.read_text() if err.exists() else code
            killed += code == -signal.SIGKILL
            if code == -signal.SIGKILL:
                kinds.add(step)
            if not (code == -signal.SIGKILL and step == "signed"):  # nothing journaled waits to be sent
                run_async(_move_market(hardhat.url, tb, i))
            if not last and rng.random() < 0.3:  # the process stays dead past every journaled deadline
                rpc(hardhat.url, "evm_increaseTime", 3 * 3600)
                rpc(hardhat.url, "evm_mine")
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=60)
    assert killed >= RUNS * 3 // 4, exits  # the seeded kill points are reached
    assert kinds == set(STEPS)
    assert not (tmp_path / "unused.jsonl").exists()  # the journal lived in the store

    with open_store(postgres_url) as store:
        runs = store.runs()
        assert len(runs) == 1 and runs[0].mode == "live" and runs[0].status == "finished"  # one run, resumed 20 times
        run = runs[0]
        records = store.journal_records(account, 31337)
        assert records[-1]["event"] == "closed"
        signed: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            if r["event"] == "signed":
                signed.setdefault(r["intent"], []).append(r)
        txs = {t.intent: t for t in store.transactions(sender=account, chain_id=31337)}
        # none lost: every signed transaction ended mined or dropped
        assert set(txs) == set(signed) and all(t.status in ("mined", "dropped") for t in txs.values())
        # none sent twice: one signature per intent, distinct mined nonces, nothing else on chain
        assert all(len(v) == 1 for v in signed.values())
        mined = [t.nonce for t in txs.values() if t.status == "mined"]
        assert len(mined) == len(set(mined)) and nonce(hardhat.url, account) - start_nonce == len(mined)
        # every fill recorded once, and only the ones the chain did
        notes = [r["data"] for r in records if r["event"] == "note" and r["kind"] == "fill"]
        filled = {n["tx_hash"] for n in notes if n["status"] == "filled"}
        fills = store.fills(run.id)
        assert filled and len(fills) == len({f.fill_id for f in fills})
        assert {f.fill_id for f in fills} == filled and len(fills) == len(filled)
        assert all(txs[f.intent_id].status == "mined" and txs[f.intent_id].tx_status == 1 for f in fills)
        # the store's positions are the chain's balances
        chain = {t: token_balance(hardhat.url, a, account) for t, a in (("USDC", tb.usdc), ("WETH", tb.weth))}
        held = {asset: amount for (_acct, asset), amount in store.latest_positions(run.id).items()}
        assert {k: held[k] for k in chain} == chain


def test_second_live_process_on_the_account_refuses(
    hardhat: Any,  # noqa: F811
    clean_chain: TestbedAddresses,  # noqa: F811
    postgres_url: str,
    tmp_path: Path,
) -> None:
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "7d" * 32)
    from tests.chain.test_live_soak import _soak_config

    soak_config = _soak_config(tmp_path)
    holder = start_holder(hardhat.url, postgres_url, tb, keystore, tmp_path)
    try:
        deadline = time.time() + 120
        lease = None
        while time.time() < deadline and lease is None:
            with open_store(postgres_url) as store:
                lease = store.lease(f"{account.lower()}@31337")
            time.sleep(0.5)
        err = tmp_path / "child-error.txt"
        assert lease is not None, err.read_text() if err.exists() else f"no lease; holder exit {holder.exitcode}"
        config = load_config(soak_config)
        pools = [LivePool("uniswap_v3_usdc_weth", "uniswap_v3", tb.pool("uniswap_v3", config.pool.fee).address, 500)]
        opts = LiveOptions(
            rpc=hardhat.url, keystore=keystore, journal=tmp_path / "second.jsonl", blocks=1, pools=pools,
            v3_router=tb.swap_router, v2_router=tb.v2_router, vault=tb.vault, expected_chain_id=31337, mine=True,
            anchor_to_chain=True, password=PASSWORD, echo=lambda _line: None, handle_signals=False, db=postgres_url,
        )  # fmt: skip
        err_file = tmp_path / "child-error.txt"
        assert holder.is_alive(), err_file.read_text() if err_file.exists() else holder.exitcode
        with pytest.raises(Exception, match=f"held by run {lease.run_id}") as err:
            asyncio.run(run_live(config, opts))
        assert "\n" not in str(err.value)
    finally:
        holder.kill()
        holder.join()


def test_kill_through_the_store_stops_a_live_run_in_another_process(
    hardhat: Any,  # noqa: F811
    clean_chain: TestbedAddresses,  # noqa: F811
    postgres_url: str,
    tmp_path: Path,
) -> None:
    """keel serve (the app, with the token) pauses, resumes and kills a live run that another process executes,
    through the store: the kill takes the kill switch's path (no new transaction, every signed one followed to
    its receipt), the run ends ``killed`` with exit code 0, each request marked applied at its block."""
    import warnings

    from keel.service import RunHub, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "7e" * 32)
    blocks = 300
    holder = start_holder(hardhat.url, postgres_url, tb, keystore, tmp_path, blocks)
    token = "live-control-token-0123456789"
    auth = {"Authorization": f"Bearer {token}"}
    err = tmp_path / "child-error.txt"
    wait = waiter(holder, tmp_path)

    try:
        store = wait("the store", lambda: _open_quietly(postgres_url))
        try:
            run_id = wait("the live run", lambda: [r.id for r in store.runs() if r.mode == "live"])[0]
            client = TestClient(create_app(RunHub(), store, token=token))
            base = f"/api/runs/{run_id}"
            assert client.post(f"{base}/kill").status_code == 401 and store.controls(run_id) == []

            def hedges() -> list[Any]:
                txs = store.transactions(run_id)
                return [t for t in txs if not t.intent.startswith("approve:") and t.status == "mined"]

            wait("the first hedge mined", hedges)  # the agents are trading block by block
            answer = client.post(f"{base}/pause", headers=auth)
            assert answer.status_code == 202 and answer.json()["status"] == "requested"
            wait("paused", lambda: store.run(run_id).status == "paused")
            assert client.post(f"{base}/resume", headers=auth).status_code == 202
            wait("running", lambda: store.run(run_id).status == "running")
            assert client.post(f"{base}/kill", headers=auth).status_code == 202
            holder.join(timeout=120)
            assert holder.exitcode == 0, err.read_text() if err.exists() else holder.exitcode  # honest: no failure
            run = store.run(run_id)
            assert run.status == "killed"
            summary = json.loads(run.summary_json)
            assert summary["status"] == "stopped: kill requested through the store"
            controls = store.controls(run_id)
            assert [c.action for c in controls] == ["pause", "resume", "kill"]
            applied = [c.applied_block for c in controls]
            assert all(b is not None for b in applied) and applied == sorted(applied)
            assert summary["blocks"] < blocks
            records = store.journal_records(account, 31337)
            assert records[-1]["event"] == "closed"
            txs = store.transactions(sender=account, chain_id=31337)
            assert all(t.status in ("mined", "dropped") for t in txs)  # nothing signed was left unfollowed
        finally:
            store.close()
    finally:
        if holder.is_alive():
            holder.kill()
        holder.join()


def _open_quietly(url: str) -> Any:
    from keel.store import StoreError

    try:
        return open_store(url)
    except StoreError:
        return None


def start_holder(
    url: str, db: str, tb: TestbedAddresses, keystore: Path, tmp_path: Path, blocks: int = 300
) -> multiprocessing.process.BaseProcess:
    """A live run of the soak config for ``blocks`` blocks in another process (spawned: a fork after numba's
    OpenMP start aborts), with its journal in the store at ``db``; it writes child-error.txt if it fails."""
    from tests.chain.test_live_soak import _soak_config

    args = (url, db, tb.to_json(), str(keystore), str(tmp_path), "none", 1, blocks, str(_soak_config(tmp_path)))
    holder = multiprocessing.get_context("spawn").Process(target=_child, args=args)
    holder.start()
    return holder


def waiter(holder: multiprocessing.process.BaseProcess, tmp_path: Path) -> Any:
    """``wait(what, check, timeout_s=120)``: poll ``check`` until it returns something truthy (returned); fails
    when it times out, or when the holder died first (with its error) unless ``what`` is ``"exit"``."""
    err = tmp_path / "child-error.txt"

    def wait(what: str, check: Any, timeout_s: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            assert holder.is_alive() or what == "exit", err.read_text() if err.exists() else holder.exitcode
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    return wait
