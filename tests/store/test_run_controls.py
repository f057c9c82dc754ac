"""Control requests in the store (kill, pause, resume for a run that executes in another process), on SQLite and
PostgreSQL: numbered in order, applied once, refused with one line and nothing written for bad input."""

from __future__ import annotations

import os
import socket

import pytest

from keel.store import StoreError, open_store


def test_requests_are_numbered_applied_once_and_set_the_status(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("desk", config_text="x")
        assert store.pending_controls(run.id) == []
        assert store.request_control(run.id, "pause", requester="api") == 0
        assert store.request_control(run.id, "resume") == 1
        assert store.request_control(run.id, "kill", requester="api") == 2
        pending = store.pending_controls(run.id)
        assert [(c.seq, c.action, c.requester) for c in pending] == [
            (0, "pause", "api"),
            (1, "resume", f"{socket.gethostname()}:{os.getpid()}"),
            (2, "kill", "api"),
        ]
        assert all(c.pending and c.requested_ns > 0 for c in pending)

        store.mark_control_applied(run.id, 0, 17)
        assert store.run(run.id).status == "paused"
        assert [c.seq for c in store.pending_controls(run.id)] == [1, 2]
        with pytest.raises(StoreError, match="already applied") as err:
            store.mark_control_applied(run.id, 0, 18)
        assert "\n" not in str(err.value)
        store.mark_control_applied(run.id, 1, 20)
        assert store.run(run.id).status == "running"
        store.mark_control_applied(run.id, 2, 21)
        assert store.run(run.id).status == "running"  # a kill's status is written when the run ends
        assert store.pending_controls(run.id) == []
        done = store.controls(run.id)
        assert [(c.action, c.applied_block) for c in done] == [("pause", 17), ("resume", 20), ("kill", 21)]
        assert all(c.applied_ns is not None and c.applied_ns >= c.requested_ns for c in done)

        store.finish_run(run.id, "killed")
        with pytest.raises(StoreError, match=r"has already ended \(killed\); there is nothing to pause"):
            store.request_control(run.id, "pause")
        assert len(store.controls(run.id)) == 3


@pytest.mark.parametrize(
    ("run_ref", "action", "requester", "message"),
    [
        ("RUN", "stop", None, "action='stop': must be one of kill, pause, resume"),
        ("RUN", None, None, "action=None: must be one of"),
        ("RUN", "kill", "", "requester='': must be one non-empty line"),
        ("RUN", "kill", "a\nb", "requester='a\\\\nb'"),
        ("nope-0000", "kill", None, "run='nope-0000': no such run"),
        ("", "kill", None, "run='': not a run id"),
    ],
)
def test_bad_requests_are_one_line_and_write_nothing(
    store_url: str, run_ref: str, action: str, requester: str | None, message: str
) -> None:
    with open_store(store_url) as store:
        run = store.create_run("desk", config_text="x")
        ref = run.id if run_ref == "RUN" else run_ref
        with pytest.raises(StoreError, match=message) as err:
            store.request_control(ref, action, requester=requester)
        assert "\n" not in str(err.value)
        assert store.controls(run.id) == []


def test_prefix_of_a_run_id_is_not_a_control_target(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("desk", config_text="x")
        with pytest.raises(StoreError, match="no such run"):
            store.request_control(run.id[:12], "kill")
        assert store.controls(run.id) == []


def test_apply_refusals_and_status_setter(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("desk", config_text="x")
        with pytest.raises(StoreError, match="seq=0: no such control request"):
            store.mark_control_applied(run.id, 0, 1)
        seq = store.request_control(run.id, "pause")
        for bad_seq, bad_block, what in ((seq, -1, "block_number=-1"), (True, 1, "seq=True"), (seq, 1.5, "1.5")):
            with pytest.raises(StoreError, match=what):
                store.mark_control_applied(run.id, bad_seq, bad_block)
        assert store.pending_controls(run.id)[0].seq == seq  # nothing applied by the refusals
        store.set_run_status(run.id, "paused")
        assert store.run(run.id).status == "paused"
        store.set_run_status(run.id, "running")
        with pytest.raises(StoreError, match="status='finished': must be running or paused"):
            store.set_run_status(run.id, "finished")
        store.finish_run(run.id, "finished")
        with pytest.raises(StoreError, match=r"has already ended \(finished\)"):
            store.set_run_status(run.id, "paused")
        assert store.run(run.id).status == "finished"


def test_paused_run_whose_process_is_gone_reads_killed_and_resume_discards_old_requests(store_url: str) -> None:
    import sqlalchemy as sa

    from keel.store import schema

    with open_store(store_url) as store:
        run = store.create_run("desk", config_text="x")
        store.request_control(run.id, "kill")
        store.set_run_status(run.id, "paused")
        with store.engine.begin() as conn:  # its process is gone (a pid that cannot exist)
            conn.execute(schema.runs.update().where(schema.runs.c.id == run.id).values(pid=2**31 - 1))
        assert store.run(run.id).status == "killed"
        with pytest.raises(StoreError, match="has already ended"):
            store.request_control(run.id, "resume")
        store.adopt_run(run.id)  # a resumed run does not inherit what was asked of the dead process
        assert store.run(run.id).status == "running"
        assert store.pending_controls(run.id) == []
        [old] = store.controls(run.id)
        assert old.action == "kill" and old.applied_ns is not None and old.applied_block is None
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.run_controls)).scalar() == 1


@pytest.mark.parametrize(
    ("summary", "status"),
    [
        ({"status": "stopped: kill requested through the store"}, "killed"),
        ({"status": "stopped: kill switch /tmp/stop"}, "killed"),
        ({"status": "refused: preflight: not enough USDC"}, "failed"),
        ({"status": "completed"}, "finished"),
        ({"hedges": 2}, "finished"),
    ],
)
def test_a_live_run_ends_in_the_store_with_its_summary_status(
    store_url: str, summary: dict[str, object], status: str
) -> None:
    from keel.chain import JournalBinding
    from keel.store import StoreJournal

    account = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    with open_store(store_url) as store:
        journal = StoreJournal(store, account, 31337, "20261203T000000Z-abcdef")
        journal.bind(JournalBinding(31337, "0x" + "11" * 32, account, journal.run_id))
        store.set_run_status(journal.run_id, "paused")  # a kill may come while paused
        journal.close(summary)
        assert store.run(journal.run_id).status == status
