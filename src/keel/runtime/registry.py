"""Run folders: every run writes ``OUT/NAME/RUN_ID/`` whole, and ``OUT/NAME/latest`` points at the newest.

A run is written into a hidden temporary folder beside its final place (``OUT/NAME/.partial-RUN_ID``),
every file fsync'ed, then renamed into place in one step; ``latest`` is a symlink replaced in one
step after that.  A kill at any moment therefore leaves either the previous complete run or the new
complete run visible, never a mix: a half-written run is only ever a ``.partial-*`` folder, which
readers ignore and the next run of that name removes.  No run ever overwrites another.

``manifest.json`` (written last inside the folder, before the rename) holds what ``summary.json``
must not (it is byte-identical across runs): the run id, wall-clock times, the keel version, the
config hash, the store URL and the size and SHA-256 of every file.

Output paths are checked before any work: a ``--out`` that is a file or not writable, a run name
that escapes its folder (``..``, ``.``, a path separator), a ``--png``/``--report`` file whose
folder cannot be written, each give one ``KeelError`` line naming the option.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from keel import __version__
from keel.errors import ConfigError, KeelError, ValidationError

__all__ = [
    "LATEST",
    "Controllable",
    "RunFolder",
    "apply_store_controls",
    "check_output_dir",
    "check_output_file",
    "check_run_name",
    "commit_run_folder",
    "complete_runs",
    "open_run_folder",
    "read_manifest",
    "resolve_run_folder",
    "write_run",
]

LATEST = "latest"
MANIFEST = "manifest.json"
_PARTIAL = ".partial-"


def check_run_name(name: Any, key: str = "name") -> str:
    """A run name that stays inside its output folder (one path component, not ``.``/``..``, not hidden)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(key, name, "must be a non-empty name")
    bad = [c for c in ("/", "\\", "\x00", "\n", "\r") if c in name]
    if bad or name in (".", "..") or name.startswith(".") or name == LATEST:
        raise ConfigError(
            key, name, "must be one folder name (no '/', '\\', not '.', '..', 'latest' or starting with '.')"
        )
    if len(name.encode("utf-8")) > 200:
        raise ConfigError(key, name, "is longer than 200 bytes")
    return name


def _writable_dir(path: Path, option: str, shown: Path | None = None) -> None:
    """``path`` is (or can be created as) a writable folder: walk up to the nearest existing ancestor.
    Errors name ``shown`` (the user's value) when given."""
    probe = path
    path = shown if shown is not None else path
    while not probe.exists():
        if probe.is_symlink():
            raise ValidationError(option, str(path), f"{probe} is a broken symlink")
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if not probe.is_dir():
        raise ValidationError(option, str(path), f"{probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValidationError(option, str(path), f"folder {probe} is not writable")


def check_output_dir(path: Path, option: str = "--out") -> Path:
    """Check an output folder before any work (it need not exist yet)."""
    path = Path(path)
    if str(path) == "" or "\x00" in str(path):
        raise ValidationError(option, str(path), "is not a folder path")
    if path.exists() and not path.is_dir():
        raise ValidationError(option, str(path), "is a file, not a folder")
    _writable_dir(path, option)
    return path


def check_output_file(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Check an output file path (``--png``, ``--report``) before any work: not a folder, folder writable."""
    path = Path(path)
    if str(path) in ("", ".") or "\x00" in str(path):
        raise ValidationError(option, str(path), "is not a file path")
    if path.is_dir():
        raise ValidationError(option, str(path), "is a folder, not a file")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ValidationError(option, str(path), f"must end in {' or '.join(suffixes)}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValidationError(option, str(path), "is not writable")
    _writable_dir(path.parent if str(path.parent) else Path("."), option, path)
    return path


@dataclass(frozen=True, slots=True)
class RunFolder:
    """Where one run is being written (``partial``) and where it will appear (``final``)."""

    root: Path
    name: str
    run_id: str
    partial: Path
    final: Path
    started_ns: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_of_partial(path: Path) -> int:
    try:
        return int((path / ".pid").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return -1


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_run_folder(out: Path, name: str, run_id: str) -> RunFolder:
    """Check the names and make ``OUT/NAME/.partial-RUN_ID``; leftovers of killed runs are removed."""
    check_run_name(name)
    check_run_name(run_id, "run_id")
    out = check_output_dir(Path(out))
    root = out / name
    if root.exists() and not root.is_dir():
        raise ValidationError("--out", str(out), f"{root} is a file, not a run folder")
    final = root / run_id
    if final.exists():
        raise KeelError(f"run folder {final} already exists; runs never overwrite each other")
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(_PARTIAL + "*"):
        if stale.is_dir() and not _alive(_pid_of_partial(stale)):
            shutil.rmtree(stale, ignore_errors=True)
    partial = root / f"{_PARTIAL}{run_id}"
    partial.mkdir()
    (partial / ".pid").write_text(str(os.getpid()), encoding="ascii")
    return RunFolder(root, name, run_id, partial, final, time.time_ns())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))


def commit_run_folder(folder: RunFolder, manifest: Mapping[str, Any] | None = None) -> Path:
    """Write the manifest, fsync everything, rename the folder into place, point ``latest`` at it."""
    (folder.partial / ".pid").unlink(missing_ok=True)
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.partial.iterdir()):
        if path.is_file() and path.name != MANIFEST:
            with open(path, "rb+") as fh:
                os.fsync(fh.fileno())
            files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    ended = time.time_ns()
    record = {
        "run_id": folder.run_id,
        "name": folder.name,
        "keel_version": __version__,
        "started": _iso(folder.started_ns),
        "ended": _iso(ended),
        "started_ns": folder.started_ns,
        "ended_ns": ended,
        **dict(manifest or {}),
        "files": files,
    }
    tmp = folder.partial / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder.partial / MANIFEST)
    _fsync_dir(folder.partial)
    os.rename(folder.partial, folder.final)
    link_tmp = folder.root / f".{LATEST}-{folder.run_id}"
    with contextlib.suppress(FileNotFoundError):
        link_tmp.unlink()
    os.symlink(folder.run_id, link_tmp)
    os.replace(link_tmp, folder.root / LATEST)
    _fsync_dir(folder.root)
    return folder.final


def write_run(
    out: Path,
    name: str,
    run_id: str,
    write: Callable[[Path], Any],
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """``write(folder)`` fills a temporary folder; it then appears whole as ``OUT/NAME/RUN_ID``.

    If ``write`` raises, the partial folder is removed and nothing else changes."""
    folder = open_run_folder(out, name, run_id)
    try:
        write(folder.partial)
    except BaseException:
        shutil.rmtree(folder.partial, ignore_errors=True)
        raise
    return commit_run_folder(folder, manifest)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a complete run folder (KeelError if it has none)."""
    path = Path(run_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        raise KeelError(f"{path}: not a complete run folder (no readable manifest)") from None
    if not isinstance(data, dict):
        raise KeelError(f"{path}: not a run manifest")
    return data


def complete_runs(root: Path) -> list[Path]:
    """The complete run folders under ``OUT/NAME`` (oldest first by manifest start time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.name.startswith(".") or p.name == LATEST or p.is_symlink() or not p.is_dir():
            continue
        if (p / MANIFEST).is_file():
            found.append(p)
    return sorted(found, key=lambda p: (read_manifest(p).get("started_ns", 0), p.name))


def resolve_run_folder(out: Path, name: str, ref: str = LATEST) -> Path:
    """``OUT/NAME/RUN_ID`` for ``ref`` (a run id or ``latest``); KeelError if it is not a complete run."""
    check_run_name(name)
    root = Path(out) / name
    path = root / ref if ref != LATEST else (root / LATEST).resolve()
    if ref != LATEST:
        check_run_name(ref, "run_id")
    if not (path / MANIFEST).is_file():
        raise KeelError(f"{root / ref}: no complete run there")
    return path


# ---- recorded simulations: run id, store, checkpoints, run folder -----------------------------------
CHECKPOINT_FORMAT = 1


class Controllable(Protocol):
    """What a control request acts on: a :class:`keel.engine.RunControl`, or the live session's stop path."""

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


def apply_store_controls(store: Any, run_id: str, control: Controllable, block_number: int) -> list[str]:
    """Apply the run's pending control requests (``keel.store.Store.pending_controls``) to ``control`` in the
    order they were made, each marked applied after ``block_number`` (the last block done); returns the actions.

    kill -> ``control.stop()``; pause -> ``control.pause()`` and the store's status ``paused``; resume ->
    ``control.resume()`` and ``running``.  Called at block boundaries by the process that runs the run."""
    done = []
    for request in store.pending_controls(run_id):
        if request.action == "kill":
            control.stop()
        elif request.action == "pause":
            control.pause()
        elif request.action == "resume":
            control.resume()
        store.mark_control_applied(run_id, request.seq, block_number)
        done.append(request.action)
    return done


@dataclass
class RecordedRun:
    """What :func:`simulate_recorded` produced: the summary, the run id, its folder and the store URL."""

    summary: dict[str, Any]
    run_id: str
    folder: Path
    db: str
    resumed_from_block: int | None
    result: Any


def default_db_url(out: Path) -> str | None:
    """``$KEEL_DB_URL`` if set, else the project file ``OUT/keel.db`` (``runs/keel.db`` by default)."""
    if os.environ.get("KEEL_DB_URL"):
        return None
    return f"sqlite:///{Path(out) / 'keel.db'}"


def simulate_recorded(
    config_path: Path,
    *,
    out: Path = Path("runs"),
    db: str | None = None,
    seed: int | None = None,
    checkpoint_every: int | None = None,
    resume: str | None = None,
    root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
    subscribers: Sequence[Any] = (),
    control: Any = None,
    run_id: str | None = None,
) -> RecordedRun:
    """Run ``keel simulate`` recorded in the store; outputs to ``OUT/NAME/RUN_ID`` (whole) and ``OUT/NAME/latest``.

    Everything the user gave is checked before any work: the config, the output folder and run name,
    the store URL (reachable, not from a newer Keel) and, with ``resume``, that the run exists, is a
    simulation that did not finish, and that ``config_path`` still holds its config.  ``checkpoint_every``
    blocks the world is checkpointed into the store (after the recorder has committed every row so far);
    ``resume`` continues a killed run from its newest checkpoint under the same run id, and its
    ``summary.json`` is byte-identical to an uninterrupted run's.  ``subscribers`` (after the store's)
    and ``control`` (a :class:`keel.engine.RunControl`, made here when not given; a stop ends the run with
    status ``killed``) are passed to the simulation.  Between steps of 50 blocks the run applies the
    control requests written to the store (``keel serve`` for a run in another process: kill, pause,
    resume; :func:`apply_store_controls`), so the store's status follows (``paused``, ``running``,
    ``killed`` at the end).  With ``[alerts]`` in the config an :class:`keel.runtime.alerts.AlertMonitor`
    (the one among ``subscribers``, else a new one) also writes its alerts into the store."""
    import pickle

    from keel.runtime.simulate import Simulation
    from keel.sim.config import load_config
    from keel.sim.report import summary_json, write_outputs
    from keel.store import StoreRecorder, open_store
    from keel.store.subscriber import StoreSubscriber
    from keel.store.types import StoreError

    if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or checkpoint_every < 1):
        raise ValidationError("--checkpoint-every", checkpoint_every, "must be a number of blocks >= 1")
    try:
        config_text = Path(config_path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("config", str(config_path), "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError("config", str(config_path), exc.strerror or "cannot be read") from None
    config = load_config(Path(config_path))
    check_run_name(config.name)
    check_output_dir(Path(out))
    url = db if db is not None else default_db_url(out)
    store = open_store(url, create=resume is None)
    try:
        payload: bytes | None = None
        state: dict[str, Any] | None = None
        cp = None
        if resume is not None:
            old = store.run(resume)
            if old.mode != "sim":
                raise StoreError(f"--resume={resume!r}: run {old.id} is a {old.mode} run, not a simulation")
            if old.status == "finished":
                raise StoreError(f"--resume={resume!r}: run {old.id} already finished (see keel runs show {old.id})")
            if old.status in ("running", "paused"):
                raise StoreError(f"--resume={resume!r}: run {old.id} is still running (pid {old.pid} on {old.host})")
            if old.config_text != config_text:
                raise StoreError(
                    f"--resume={resume!r}: {config_path} is not the config run {old.id} ran "
                    f"(sha256 {old.config_hash[:12]}); pass the same file"
                )
            if old.seed is not None:
                seed = int(old.seed)
            cp = store.latest_checkpoint(old.id)
            if cp is not None:
                fmt, payload, state = pickle.loads(cp.payload)
                if fmt != CHECKPOINT_FORMAT:
                    raise StoreError(f"--resume={resume!r}: checkpoint format {fmt} is not {CHECKPOINT_FORMAT}")
            run = store.adopt_run(old.id)
        else:
            effective_seed = seed if seed is not None else int(config.seed)
            run = store.create_run(config.name, config_text=config_text, mode="sim", seed=effective_seed, run_id=run_id)
        if seed is not None:
            config = config.model_copy(update={"seed": seed})
        if resume is not None:  # rows recorded after the checkpoint are recorded again, identically, from it
            store.discard_after(
                run.id,
                cp.block_number if cp is not None and state is not None else -1,
                event_seq=int(state["event_seq"]) if state is not None else 0,
                oracle_seq=int(state["oracle_seq"]) if state is not None else 0,
                alert_seq=int(state["alert_seq"]) if state is not None else 0,
            )
        recorder = StoreRecorder(store, run.id, append_only=True)
        subscriber = StoreSubscriber(recorder)
        others = list(subscribers)
        alerts = getattr(config, "alerts", None)
        if alerts is not None:
            from keel.runtime.alerts import AlertMonitor, store_sink

            monitor = next((s for s in others if isinstance(s, AlertMonitor)), None)
            if monitor is None:
                monitor = AlertMonitor(alerts, run.id)
                others.append(monitor)
            monitor.sinks.append(store_sink(recorder))
        everyone = [subscriber, *others]
        if control is None:  # kill/pause/resume requested through the store (keel serve in another process)
            from keel.engine.pipeline import RunControl

            control = RunControl()
        try:
            if payload is not None and state is not None:
                subscriber.restore(state)
                sim = Simulation.restore(payload, subscribers=everyone, control=control)
            else:
                sim = Simulation(config, root=root, subscribers=everyone, control=control)
            start_block = sim.blocks_done if payload is not None else None
            total = sim.n_blocks
            step = 50
            while not sim.finished:
                # one indexed query per step; a kill ends the run in the step below, before another block
                apply_store_controls(store, run.id, control, sim.blocks_done)
                n = step
                if checkpoint_every is not None:
                    n = min(n, checkpoint_every - sim.blocks_done % checkpoint_every)
                sim.step(n)
                if progress is not None:
                    progress(sim.blocks_done, total)
                if checkpoint_every is not None and sim.blocks_done % checkpoint_every == 0 and not sim.finished:
                    recorder.flush()  # rows up to here are committed before the checkpoint that follows them
                    blob = pickle.dumps(
                        (CHECKPOINT_FORMAT, sim.checkpoint(), subscriber.state()), protocol=pickle.HIGHEST_PROTOCOL
                    )
                    w = sim.world
                    store.save_checkpoint(run.id, sim.blocks_done, w.start_ns + sim.blocks_done * w.block_ns, blob)
                    if on_checkpoint is not None:
                        on_checkpoint(sim.blocks_done)
            summary = sim.finish()
            recorder.close()
            result = sim.result()
            text = summary_json(summary)

            def write(folder: Path) -> None:
                write_outputs(result, folder, config.description)

            manifest = {
                "config_hash": run.config_hash,
                "seed": run.seed,
                "db": store.url,
                "resumed_from_block": start_block,
            }
            folder = write_run(Path(out), config.name, run.id, write, manifest)
            status = "finished" if summary.get("status", "completed") == "completed" else "killed"
            store.finish_run(run.id, status, summary_json=text, out_dir=str(folder))
        except KeyboardInterrupt:
            store.finish_run(run.id, "killed")
            raise
        except BaseException:
            store.finish_run(run.id, "failed")
            raise
        return RecordedRun(summary, run.id, folder, store.url, start_block, result)
    finally:
        store.close()
