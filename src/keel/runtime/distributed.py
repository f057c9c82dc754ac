"""Ray as Keel's scale-out backend: one laptop or a cluster, the same code.

:class:`RayBackend` runs calls as Ray tasks.  Without an address it starts (or joins) a local Ray
with ``workers`` CPUs; ``address="auto"`` joins the cluster this machine belongs to (``ray start
--head`` / ``ray start --address=HEAD:6379``) and ``address="ray://HOST:10001"`` connects a
client to a remote head.  Each worker runs numba on one thread (``NUMBA_NUM_THREADS=1``), so N
workers use N cores without oversubscribing them; Keel's results never depend on the thread count.

Fault tolerance is Ray's: a task whose worker process dies (killed, out of memory, node lost) is
retried up to ``max_retries`` times on another worker.  Tasks are pure functions of their
arguments (config, seed, block range), so a retried task returns exactly what the first attempt
would have, and results come back in the order the calls were given, not the order they finish.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from keel.errors import ConfigError

__all__ = ["RayBackend", "ray_address_from_env"]

_WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "RAY_DEDUP_LOGS": "0"}


def ray_address_from_env() -> str | None:
    """``$KEEL_RAY_ADDRESS`` (``auto`` or ``ray://HOST:PORT``), if set."""
    value = os.environ.get("KEEL_RAY_ADDRESS", "").strip()
    return value or None


def _check_address(address: str | None) -> str | None:
    if address is None or address in ("", "local"):
        return None
    if address == "auto" or address.startswith("ray://") or _is_host_port(address):
        return address
    raise ConfigError("address", address, "must be 'local', 'auto', HOST:PORT or ray://HOST:PORT")


def _use_cluster_token() -> None:
    """Clusters started by ``ray start`` (Ray >= 2.50) require token authentication, and a driver joining
    one by ``HOST:PORT`` or ``ray://`` sends its token only when ``RAY_AUTH_MODE=token``: turn that on
    when a token is at hand (``$RAY_AUTH_TOKEN``, ``$RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, the
    file ``ray start`` writes) and the user has not chosen a mode."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


def _is_host_port(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


class RayBackend:
    """Run calls as Ray tasks (see the module docstring); implements ``keel.pricing.mc.MapBackend``.

    ``workers``: CPUs of the local Ray (default: every core); with a cluster address, how many
    calls to keep in flight (default: the cluster's CPUs).  ``max_retries``: attempts after a
    worker dies.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, *, max_retries: int = 3) -> None:
        self.address = _check_address(address)
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ConfigError("workers", workers, "must be an int >= 1")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError("max_retries", max_retries, "must be an int >= 0")
        self._workers = workers
        self.max_retries = max_retries
        self._started_here = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> RayBackend:
        """Start or join Ray (idempotent)."""
        if self.address is not None:
            _use_cluster_token()  # before Ray is imported: it reads its auth mode once
        import ray

        if ray.is_initialized():
            return self
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": True,
            "logging_level": "ERROR",
            "runtime_env": {"env_vars": dict(_WORKER_ENV)},
        }
        if self.address is None:
            kwargs["num_cpus"] = self._workers or os.cpu_count() or 1
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local Ray"
            raise ConfigError("address", where, f"cannot start or join Ray: {exc}") from None
        self._started_here = True
        return self

    def shutdown(self) -> None:
        """Stop the Ray this backend started (a joined cluster keeps running)."""
        import ray

        if self._started_here and ray.is_initialized():
            ray.shutdown()
        self._started_here = False

    def __enter__(self) -> RayBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def workers(self) -> int:
        """How many calls run at once."""
        if self._workers is not None:
            return self._workers
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        return os.cpu_count() or 1

    # -- running --------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Submit every call as a task; returns Ray object refs in call order."""
        import ray

        self.start()
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(fn)
        return [remote.remote(*args) for args in calls]

    def as_completed(self, refs: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """``(index, result)`` for each ref as it finishes (a failed task raises here)."""
        import ray

        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield index[ref], ray.get(ref)

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[fn(*c) for c in calls]``, run as Ray tasks; results in call order."""
        import ray

        return list(ray.get(self.submit(fn, calls)))
