"""The store recorder's writer process: batches written outside the run's process.

:class:`ProcessWriter` (in the run's process) starts a fresh interpreter (``sys.executable``, fork and exec
at once: a forked copy of the run's process would inherit numba's OpenMP layer, which aborts a forked child;
multiprocessing's "spawn" would do the same but also re-import the run's ``__main__`` in the child) that
opens its own :func:`keel.store.open_store` and calls :meth:`Store.write_rows` once per batch, one
transaction each.  Two pipes join them: batches (pickled in the run's thread) one way, acknowledgements
(``ok``, ``flushed``, ``error``) the other.  A feeder thread in the run's process writes the pipe (the run's
thread does not wait for the child to read a batch); between the run's thread and the feeder a bounded queue
holds at most ``max_batches`` batches (besides the one the feeder is sending, what the pipe holds, at most
64 KiB, and the one being written): when the database is slower than the run, the run waits, no row is
dropped.  A failed write or a dead child is raised in the run's thread at its next put/flush/close.

A child that served a recorder to its end is kept (at most two idle) for the next recorder of this process:
a second run does not pay the interpreter's and SQLAlchemy's start-up again.  When the run's process dies the
child sees the end of its pipe (or a new parent) and stops without writing what it has not started.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from keel.store.types import StoreError

__all__ = ["ProcessWriter", "reason_of", "writer_url"]

_STOP = object()  # the feeder closes the pipe: the child ends (an abandoned or failed writer)
_DONE = object()  # the feeder ends, the pipe stays open (the child goes back to the pool)
_CHILD = "from keel.store._writer import child_main; child_main()"
_POOL_MAX = 2
_pool: list[_Child] = []
_ending: list[_Child] = []  # abandoned children, ending at their pipe's end: reaped later, or at exit
_pool_lock = threading.Lock()


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


class _Child:
    """A writer process and the two pipes to it."""

    def __init__(self) -> None:
        batches_r, batches_w = os.pipe()
        acks_r, acks_w = os.pipe()
        src = str(Path(__file__).resolve().parents[2])  # the folder holding the keel package
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(batches_r), str(acks_w)],
                pass_fds=(batches_r, acks_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # it prints nothing; its errors go to stderr
                env=env,
            )
        except OSError:
            for fd in (batches_r, batches_w, acks_r, acks_w):
                os.close(fd)
            raise
        os.close(batches_r)
        os.close(acks_w)
        self.owner = os.getpid()
        self.out = Connection(batches_w, readable=False)
        self.acks = Connection(acks_r, writable=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def discard(self, *, wait: bool = True) -> None:
        """Close the pipes: the child ends after what it was given (its pipe's end); ``wait`` for it."""
        for conn in (self.out, self.acks):
            if not conn.closed:
                conn.close()
        if wait and self.owner == os.getpid():
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _reap() -> None:
    """Forget the abandoned children that have ended (called under the lock)."""
    _ending[:] = [c for c in _ending if c.proc.poll() is None]


@atexit.register
def _end_children() -> None:
    with _pool_lock:
        children = [*_pool, *_ending]
        _pool.clear()
        _ending.clear()
    for child in children:
        child.discard()


def _take_child() -> _Child:
    with _pool_lock:
        _reap()
        if _pool and _pool[0].owner != os.getpid():  # a forked copy of the run's process: not its children
            _pool.clear()
        while _pool:
            child = _pool.pop()
            if child.alive():
                return child
            child.discard()
    return _Child()


def _give_back(child: _Child) -> None:
    with _pool_lock:
        if child.owner == os.getpid() and child.alive() and len(_pool) < _POOL_MAX:
            _pool.append(child)
            return
    child.discard()


class _Feed:
    """What the feeder thread shares with the run's thread (not the writer itself: an abandoned writer is
    collected, and its finalizer stops the feeder, which closes the pipe, which ends the child)."""

    error: BaseException | None = None


def _feed(items: queue.Queue[Any], out: Connection, state: _Feed) -> None:
    while True:
        item = items.get()
        try:
            if item is _DONE:
                return
            if item is _STOP:
                out.close()
                return
            if state.error is None:
                out.send_bytes(item)  # waits (GIL released) while the child is busy
        except BaseException as exc:  # a dead child: the run's thread notices it at its next call
            state.error = exc
        finally:
            items.task_done()


def _abandon(items: queue.Queue[Any], child: _Child | None = None) -> None:
    try:
        items.put_nowait(_STOP)
    except queue.Full:  # the child is behind: stop once it has taken what waits
        threading.Thread(target=items.put, args=(_STOP,), daemon=True).start()
    if child is not None:  # a writer collected without close(): its child ends on its own, reaped later
        with _pool_lock:
            _ending.append(child)


def reason_of(exc: BaseException) -> str:
    """The first line of a failed write's reason (the driver's message when SQLAlchemy wraps one)."""
    lines = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def writer_url(store: Any) -> str | None:
    """The URL a child process opens to reach ``store`` (password included, SQLite path made absolute), or
    None when a child cannot reach the same database (an in-memory SQLite, a write path replaced in this
    process, something that is not a :class:`keel.store.Store`)."""
    from keel.store.store import Store

    if not isinstance(store, Store) or "write_rows" in vars(store):
        return None
    url = store.engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database
        if not db or db == ":memory:" or db.startswith("file:") or "mode=memory" in str(url.query):
            return None
        url = url.set(database=str(Path(db).absolute()))
    elif backend not in ("postgresql", "postgres"):
        return None
    return url.render_as_string(hide_password=False)


class ProcessWriter:
    """The run's side: ``put`` a batch (blocks while ``max_batches`` wait), ``flush``, ``close``."""

    def __init__(self, url: str, shown_url: str, run_id: str, *, append_only: bool, max_batches: int) -> None:
        self.shown_url = shown_url
        self.run_id = run_id
        self.rows_written = 0
        self.batches_written = 0
        self._error: str | None = None
        self._flushed = 0
        self._token = 0
        self._released = False
        self._closed = False
        try:
            self._child = _take_child()
        except OSError as exc:
            raise StoreError(f"db={shown_url!r}: cannot start the writer process for run {run_id}: {exc}") from None
        self._acks = self._child.acks
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_batches)
        self._state = _Feed()
        # the first message: what to open (the URL travels in the pipe, not in argv or the environment)
        self._queue.put(_dumps(("open", url, run_id, append_only, os.getpid())))
        args = (self._queue, self._child.out, self._state)
        self._feeder = threading.Thread(target=_feed, args=args, name=f"keel-store-feed-{run_id}", daemon=True)
        self._feeder.start()
        self._finalizer = weakref.finalize(self, _abandon, self._queue, self._child)

    # ---- acknowledgements -------------------------------------------------------------------------
    def _drain(self, wait: float = 0.0) -> bool:
        """Read the child's acknowledgements; True if any arrived (waiting up to ``wait`` for the first)."""
        got = False
        try:
            while self._acks.poll(wait if not got else 0.0):
                tag, value = self._acks.recv()
                got = True
                if tag == "ok":
                    self.rows_written += value
                    self.batches_written += 1
                elif tag == "flushed":
                    self._flushed = value
                elif tag == "released":
                    self._released = True
                elif tag == "error" and self._error is None:
                    self._error = str(value)
        except (EOFError, OSError):  # the child is gone; _check tells why
            pass
        return got

    def _check(self) -> None:
        """Raise a failed write, or a dead child, in the run's thread."""
        self._drain()
        if self._error is not None:
            raise StoreError(f"db={self.shown_url!r}: writing run {self.run_id} failed: {self._error}")
        code = self._child.proc.poll()
        if code is not None or self._state.error is not None:
            self._drain()
            if self._error is not None:
                raise StoreError(f"db={self.shown_url!r}: writing run {self.run_id} failed: {self._error}")
            why = f"the writer process exited with code {code}" if code is not None else "the writer process is gone"
            self._error = why
            raise StoreError(f"db={self.shown_url!r}: writing run {self.run_id} failed: {why}")

    def _put(self, item: Any) -> None:
        while True:  # blocks while the writer is behind (back-pressure), but notices a failed or dead writer
            self._check()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # ---- the run's side ---------------------------------------------------------------------------
    def put(self, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        self._put(_dumps(batch))

    def flush(self) -> None:
        """Wait until every batch put so far is committed."""
        self._token += 1
        token = self._token
        self._put(_dumps(token))
        while self._flushed < token:
            if not self._drain(wait=0.5):
                self._check()
        self._check()

    @property
    def pid(self) -> int:
        """The writer process's id."""
        return self._child.proc.pid

    def close(self) -> None:
        """End this run's session: the child commits what it was given, closes the store and goes back to the
        pool (or, after a failure, ends)."""
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        child = self._child
        try:
            if self._error is None and self._state.error is None and child.alive():
                self._queue.put(_dumps(("release",)))
                self._queue.put(_DONE)
                self._feeder.join()
                while not self._released and child.alive():
                    self._drain(wait=0.5)
                self._drain()
        finally:
            if self._feeder.is_alive():
                _abandon(self._queue)
            if self._released and self._error is None and self._state.error is None:
                _give_back(child)
            else:
                if self._feeder.is_alive():
                    self._feeder.join(timeout=5.0)
                child.discard()  # the child ends at its pipe's end (or is already gone)


# ---- the child ------------------------------------------------------------------------------------
def child_main() -> None:
    """``python -c 'from keel.store._writer import child_main; child_main()' BATCH_FD ACK_FD``: serves one run
    after another (an ``open`` message starts a run's session, ``release`` ends it) until its pipe ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the run, which closes (or dies: then EOF)
    batches = Connection(int(sys.argv[1]), writable=False)
    acks = Connection(int(sys.argv[2]), readable=False)
    from keel.store.store import open_store

    store: Any = None
    run_id, append_only, parent, failed = "", False, os.getppid(), False
    try:
        while True:
            try:
                data = batches.recv_bytes()
            except EOFError:  # the run's process closed the pipe (a failed or abandoned writer) or died
                return
            item = pickle.loads(data)
            if isinstance(item, dict):
                if failed:
                    continue
                if os.getppid() != parent:  # the run's process died: what it handed over is not written
                    return
                try:
                    store.write_rows(run_id, item, append_only=append_only)
                except BaseException as exc:
                    failed = True
                    acks.send(("error", reason_of(exc)))
                    continue
                acks.send(("ok", sum(len(v) for v in item.values())))
            elif isinstance(item, int):
                acks.send(("flushed", item))
            elif item[0] == "open":
                _, url, run_id, append_only, parent = item
                failed = False
                try:
                    store = open_store(url, create=False)
                except BaseException as exc:
                    failed = True
                    acks.send(("error", f"the writer process cannot open the store: {reason_of(exc)}"))
            elif item[0] == "release":
                if store is not None:
                    store.close()
                    store = None
                acks.send(("released", None))
    except (BrokenPipeError, EOFError):
        return
    finally:
        if store is not None:
            store.close()
