"""A local Hardhat node as a child process (``npx hardhat node`` on a loopback port).

Hardhat 2 from ``node_modules`` runs offline with the repository's ``hardhat.config.js``
(chain id 31337, instant mining, no compiler: Keel only deploys the npm artifacts).
Only ``127.0.0.1`` is ever bound.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from keel.chain.artifacts import node_modules_dir
from keel.errors import ChainError, ValidationError

__all__ = ["HARDHAT_CHAIN_ID", "HardhatNode", "free_port", "rpc_answers", "stop_pid"]

HARDHAT_CHAIN_ID = 31337

# Nodes this process started, kept so they are reaped (not left as zombies or warned about).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_answers(url: str, timeout_s: float = 1.0) -> int | None:
    """The chain id served at ``url``, or None if nothing answers there."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(json.loads(resp.read())["result"], 16)
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


@dataclass(frozen=True, slots=True)
class HardhatNode:
    """A running Hardhat node: ``url`` (http://127.0.0.1:PORT), ``pid`` of the node process."""

    url: str
    port: int
    pid: int
    log_path: str

    @classmethod
    def start(
        cls,
        port: int | None = None,
        *,
        log_dir: str | Path | None = None,
        timeout_s: float = 90.0,
        detach: bool = False,
    ) -> HardhatNode:
        """Start ``hardhat node`` on 127.0.0.1:``port`` (a free one if None) and wait until it answers.

        ``detach`` puts it in its own session so it outlives this process (``keel testbed up``).
        """
        port = free_port() if port is None else port
        if not 0 < port < 65536:
            raise ValidationError("port", port, "must be in 1..65535")
        url = f"http://127.0.0.1:{port}"
        if rpc_answers(url) is not None:
            raise ChainError(f"port={port}: something already answers JSON-RPC at {url}")
        modules = node_modules_dir()
        root = modules.parent
        binary = modules / ".bin" / "hardhat"
        if not binary.exists():
            raise ChainError(f"hardhat={str(binary)!r}: not installed (run `npm ci` or `make setup`)")
        logs = Path(log_dir) if log_dir is not None else root / ".testbed"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"hardhat-{port}.log"
        env = dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true", DO_NOT_TRACK="1")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=detach,
            )
        _CHILDREN[proc.pid] = proc
        node = cls(url=url, port=port, pid=proc.pid, log_path=str(log_path))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                _CHILDREN.pop(proc.pid, None)
                tail = log_path.read_text()[-400:]
                raise ChainError(f"hardhat node exited with code {proc.returncode}: {tail.strip()}")
            chain_id = rpc_answers(url, 0.5)
            if chain_id is not None:
                if chain_id != HARDHAT_CHAIN_ID:
                    node.stop()
                    raise ChainError(f"chain_id={chain_id}: hardhat node is not on {HARDHAT_CHAIN_ID}")
                return node
            time.sleep(0.2)
        node.stop()
        raise ChainError(f"hardhat node at {url} did not answer within {timeout_s:g}s (log: {log_path})")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the node (SIGTERM, then SIGKILL) and reap it."""
        stop_pid(self.pid, timeout_s)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM ``pid``, wait up to ``timeout_s``, then SIGKILL."""
    if pid <= 0:
        raise ValidationError("pid", pid, "must be positive")
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.terminate()
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)
